"""Ordinary Docker containers beside Wasm containers, on the ``docker`` SDK (the optional extra ``docker``).

A :class:`DockerContainer` has the readiness ``Target`` protocol of ``wait.py`` (so the same strategies
work), ``host_port``/``url``/``logs``/``stop``, and ``resolve(port)``, which makes it a name-table
``Endpoint`` for Wasm containers (``db`` -> the published port). Readiness is always checked from the host,
never with ``exec``: images without a shell exist. Knows nothing of pytest.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..container import WaitTimeoutError
from ..errors import ContainerError, ContainerExitedError, DockerUnavailableError, ImageNotFoundError
from ..wait import WaitStrategy, all_of, for_ports, last_lines, wait_until_ready
from .cleanup import ServiceSession, remove_session_containers
from .health_runner import (
    HealthRunner,
    engine_runs_healthchecks,
    for_docker_health,
    healthcheck_config,
    stalled,
)
from .healthcheck import docker_healthcheck

DEFAULT_STARTUP_TIMEOUT = 60.0
PULL_POLICIES = ("missing", "always", "never")
Progress = Callable[[Mapping[str, Any]], None]
_names = itertools.count(1)


def docker_client(timeout: float = 60.0) -> Any:
    """A ``docker.DockerClient`` for ``DOCKER_HOST`` (or the default socket), checked with a ping."""
    try:
        import docker
        import docker.errors
    except ImportError:
        raise DockerUnavailableError(
            "the docker SDK is not installed: pip install 'pytest-wasmcontainers[docker]'"
        ) from None
    where = os.environ.get("DOCKER_HOST") or "the default socket (unix:///var/run/docker.sock)"
    try:
        client = docker.from_env(timeout=int(timeout))
        client.ping()
    except Exception as e:
        raise DockerUnavailableError(
            f"cannot reach a Docker daemon at {where}: {_short(e)}. Start dockerd, or set DOCKER_HOST "
            f"to a reachable daemon (e.g. unix:///path/to/docker.sock)"
        ) from None
    return client


def _short(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    return text.splitlines()[0][:300]


class DockerContainer:
    """A Docker container started for a test: the readiness ``Target`` plus what tests use."""

    def __init__(self, client: Any, container: Any, image: str, startup_timeout: float) -> None:
        self._client = client
        self._container = container
        self.image = image
        self.id: str = container.id
        self.name: str = container.name
        self.startup_timeout = startup_timeout
        self._final_logs: str | None = None
        self._final_code: int | None = None
        self._published: dict[str, int] = {}
        self.removed = False
        self._created = time.monotonic()
        self._runner: HealthRunner | None = None

    def __repr__(self) -> str:
        return f"<DockerContainer {self.name!r} {self.image}>"

    # --- the Target protocol of wait.py -------------------------------------------------------
    @property
    def description(self) -> str:
        return f"docker container {self.name!r} (image {self.image})"

    def _state(self) -> dict[str, Any]:
        if self.removed:
            return {"Status": "removed", "ExitCode": self._final_code}
        self._container.reload()
        return dict(self._container.attrs.get("State") or {})

    @property
    def exit_code(self) -> int | None:
        """None while running (or created/restarting); the exit code once it exited."""
        state = self._state()
        if state.get("Status") in ("exited", "dead", "removed"):
            code = state.get("ExitCode")
            return None if code is None else int(code)
        return None

    @property
    def running(self) -> bool:
        return self._state().get("Status") == "running"

    @property
    def health(self) -> str | None:
        """``starting``, ``healthy`` or ``unhealthy``; None without a healthcheck."""
        health = self._health()
        return str(health["Status"]) if health else None

    def _health(self) -> dict[str, Any] | None:
        if self._runner is not None:
            return self._runner.state()
        state = self._state()
        health = state.get("Health")
        if not health or not health.get("Status"):  # Podman: {"Status": ""} when there is no healthcheck
            return None
        config = healthcheck_config(self._container.attrs) if state.get("Status") == "running" else None
        runner = self.run_healthcheck_here() if config and stalled(config, health, self._age()) else None
        return runner.state() if runner is not None else dict(health)

    def _age(self) -> float:
        return time.monotonic() - self._created

    def run_healthcheck_here(self) -> HealthRunner | None:
        """Run the container's healthcheck with exec from here (the engine does not; see health_runner)."""
        config = healthcheck_config(self._container.attrs)
        if self._runner is None and config is not None:
            self._runner = HealthRunner(self._container, config, started=self._created).start()
        return self._runner

    def health_log(self) -> str:
        health = self._health() or {}
        return "\n".join(
            f"exit {h.get('ExitCode')}: {str(h.get('Output', '')).strip()}" for h in health.get("Log") or []
        )

    def logs(self) -> str:
        if self._final_logs is not None:
            return self._final_logs
        return bytes(self._container.logs(stdout=True, stderr=True)).decode("utf-8", "replace")

    def published_port(self, container_port: int | str) -> int | None:
        """The host port Docker published ``container_port`` on (tcp unless ``'53/udp'``), or None."""
        key = str(container_port) if "/" in str(container_port) else f"{container_port}/tcp"
        if self.removed:
            return None
        if key in self._published:  # fixed for the container's life; the name table asks often
            return self._published[key]
        self._container.reload()
        bindings = (self._container.attrs.get("NetworkSettings") or {}).get("Ports") or {}
        for b in bindings.get(key) or []:
            if b.get("HostPort") and b.get("HostIp") in ("127.0.0.1", "0.0.0.0", ""):
                self._published[key] = int(b["HostPort"])
                return self._published[key]
        return None

    def listening_port(self, container_port: int) -> int | None:
        """The host port if something in the container accepts connections on ``container_port`` now.

        Docker's proxy accepts on the published port even when nothing listens inside, then hangs up at
        once; so a connection only counts when it is not closed straight away.
        """
        port = self.published_port(container_port)
        if port is None:
            return None
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0) as s:
                s.settimeout(0.2)
                try:
                    data = s.recv(1, socket.MSG_PEEK)
                except TimeoutError:
                    return port  # open and quiet: a server waiting for us to speak
                return port if data else None
        except OSError:
            return None

    # --- what tests use ------------------------------------------------------------------------
    @property
    def host(self) -> str:
        return "127.0.0.1"

    def host_port(self, container_port: int | str) -> int:
        """The host port ``container_port`` is published on (on 127.0.0.1)."""
        port = self.published_port(container_port)
        if port is not None:
            return port
        code = self.exit_code
        if code is not None:
            raise ContainerExitedError(
                self._message(f"exited (code {code}), so port {container_port} is not published"),
                exit_code=code,
                logs=self.logs(),
            )
        self._container.reload()
        published = sorted((self._container.attrs.get("NetworkSettings") or {}).get("Ports") or {})
        raise ContainerError(
            self._message(
                f"does not publish container port {container_port} (published: {', '.join(published) or 'none'}); "
                f"pass ports=[{container_port}] when starting it"
            ),
            logs=self.logs(),
        )

    def url(self, container_port: int, path: str = "/") -> str:
        if not path.startswith("/"):
            path = "/" + path
        return f"http://127.0.0.1:{self.host_port(container_port)}{path}"

    def resolve(self, port: int) -> tuple[str, int]:
        """Name-table ``Endpoint``: the guest dials ``name:port``, we connect to the published port."""
        return "127.0.0.1", self.host_port(port)

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the container to exit and return its exit code (``WaitTimeoutError`` after ``timeout`` s)."""
        if self.removed:
            return -1 if self._final_code is None else self._final_code
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            code = self.exit_code
            if code is not None:
                return code
            if deadline is not None and time.monotonic() >= deadline:
                raise WaitTimeoutError(self._message(f"did not exit within {timeout:g} s"), logs=self.logs())
            time.sleep(0.1)

    def stop(self, timeout: float = 10.0) -> int | None:
        """Stop (SIGTERM, then SIGKILL after ``timeout`` s) and remove the container; keeps its logs and exit
        code readable. Returns the exit code."""
        import docker.errors

        if self.removed:
            return self._final_code
        if self._runner is not None:
            self._runner.stop()
        with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
            self._container.stop(timeout=int(timeout))
        with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
            self._final_logs = self.logs()
            self._final_code = self.exit_code
        with contextlib.suppress(docker.errors.NotFound):
            self._container.remove(force=True, v=True)
        self.removed = True
        return self._final_code

    def _message(self, what: str) -> str:
        return f"{self.description} {what}.\nLast log lines:\n{last_lines(self.logs())}"


def parse_docker_ports(
    ports: Mapping[int | str, int | None] | Sequence[int | str] | None,
) -> dict[str, int | None]:
    """``{3306: None}`` / ``[3306, "53/udp"]`` -> ``{"3306/tcp": None, "53/udp": None}``."""
    if ports is None:
        return {}
    items = list(ports.items()) if isinstance(ports, Mapping) else [(p, None) for p in ports]
    out: dict[str, int | None] = {}
    for cport, hport in items:
        m = re.fullmatch(r"(\d+)(?:/(tcp|udp|sctp))?", str(cport).strip())
        if not m or not 0 < int(m.group(1)) < 65536:
            raise ValueError(f"container port {cport!r} is not a port number (use 3306 or '53/udp')")
        if hport is not None and (
            isinstance(hport, bool) or not isinstance(hport, int) or not 0 <= hport < 65536
        ):
            raise ValueError(f"host port for {cport!r} must be 0..65535 or None, got {hport!r}")
        out[f"{m.group(1)}/{m.group(2) or 'tcp'}"] = hport or None
    return out


def resolve_image(image: str, overrides: Mapping[str, str]) -> str:
    """Apply ``--wasm-compose-image`` style overrides: exact reference first, then the bare repository
    (``mariadb=localhost/mariadb:ci`` covers every ``mariadb:<tag>``)."""
    if image in overrides:
        return overrides[image]
    repo = re.sub(r"(@sha256:[0-9a-f]+|:[^:/]+)$", "", image)
    return overrides.get(repo, image)


def parse_overrides(text: str | Sequence[str]) -> dict[str, str]:
    """``"a=b,c=d"`` (or a list of ``a=b``) -> ``{"a": "b", "c": "d"}``; a bad entry is a ValueError."""
    items = text.replace(",", " ").split() if isinstance(text, str) else list(text)
    out = {}
    for item in items:
        old, sep, new = item.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise ValueError(
                f"image override {item!r} is not OLD=NEW (e.g. mariadb:10.9=localhost/mariadb:ci)"
            )
        out[old.strip()] = new.strip()
    return out


class DockerServices:
    """Starts Docker containers for one test session, labelled with its id; stops them all at the end."""

    def __init__(
        self,
        client: Any,
        session: ServiceSession,
        *,
        image_overrides: Mapping[str, str] | None = None,
        pull_policy: str = "missing",
        progress: Callable[[str], Progress | None] | None = None,
        startup_timeout: float = DEFAULT_STARTUP_TIMEOUT,
    ) -> None:
        if pull_policy not in PULL_POLICIES:
            raise ValueError(f"pull policy must be one of {', '.join(PULL_POLICIES)}, got {pull_policy!r}")
        self.client = client
        self.session = session
        self.image_overrides = dict(image_overrides or {})
        self.pull_policy = pull_policy
        self.progress = progress
        self.startup_timeout = startup_timeout
        self.containers: list[DockerContainer] = []
        self._engine_health: bool | None = None
        self.on_start: Callable[[DockerContainer], None] | None = None
        """Called with each container as soon as it exists (the plugin uses it for failure reports)."""

    def ensure_image(self, image: str) -> Any:
        """The local image, pulled (with progress) when missing or when the policy is ``always``."""
        import docker.errors

        if self.pull_policy != "always":
            try:
                return self.client.images.get(image)
            except docker.errors.ImageNotFound:
                if self.pull_policy == "never":
                    raise ImageNotFoundError(
                        f"Docker image {image!r} is not on the daemon and the pull policy is 'never'. "
                        f"Build, import or load it first, or override it (e.g. WASMCONTAINERS_IMAGE_OVERRIDES="
                        f"'{image}=<local image>')"
                    ) from None
        report = self.progress(image) if self.progress else None
        try:
            for event in self.client.api.pull(image, stream=True, decode=True):
                if "error" in event:
                    raise docker.errors.APIError(str(event["error"]))
                if report is not None:
                    report(event)
            close = getattr(report, "close", None)
            if callable(close):
                close()
            return self.client.images.get(image)
        except (docker.errors.APIError, docker.errors.ImageNotFound) as e:
            raise ImageNotFoundError(
                f"Docker image {image!r} is not on the daemon and pulling it failed: {_short(e)}. "
                f"Build, import or load it (docker build / docker import / docker load), or point the test "
                f"at an image you have (e.g. WASMCONTAINERS_IMAGE_OVERRIDES='{image}=<local image>')"
            ) from None

    def start(
        self,
        image: str,
        *,
        command: Sequence[str] | str | None = None,
        entrypoint: Sequence[str] | str | None = None,
        env: Mapping[str, str] | Sequence[str] | None = None,
        ports: Mapping[int | str, int | None] | Sequence[int | str] | None = None,
        healthcheck: Mapping[str, Any] | Sequence[str] | str | None = None,
        labels: Mapping[str, str] | None = None,
        name: str | None = None,
        wait: WaitStrategy | None = None,
        startup_timeout: float | None = None,
        **docker_kwargs: Any,
    ) -> DockerContainer:
        """Start ``image`` and return it once ready.

        ``ports``: container ports to publish on 127.0.0.1 (``{port: host_port or None}``; None means a free
        port); default: the image's ExposedPorts. Readiness: ``wait`` (a ``wait.py`` strategy), plus the
        Docker healthcheck when the image or ``healthcheck`` defines one; without either, the published
        TCP ports accepting connections. ``docker_kwargs`` go to ``containers.run`` as they are.
        """
        import docker.errors

        real_image = resolve_image(image, self.image_overrides)
        img = self.ensure_image(real_image)
        config = (img.attrs.get("Config") or {}) if hasattr(img, "attrs") else {}
        wanted = (
            parse_docker_ports(ports)
            if ports is not None
            else parse_docker_ports(list(config.get("ExposedPorts") or {}))
        )
        timeout = startup_timeout if startup_timeout is not None else self.startup_timeout
        kwargs: dict[str, Any] = dict(docker_kwargs)
        kwargs.update(
            image=real_image,
            command=command,
            environment=dict(env) if isinstance(env, Mapping) else list(env or []),
            ports={p: ("127.0.0.1", h) for p, h in wanted.items()},
            labels={**dict(labels or {}), **self.session.labels},
            name=name or self._name(image),
            detach=True,
        )
        if entrypoint is not None:
            kwargs["entrypoint"] = entrypoint
        if healthcheck is not None:
            kwargs["healthcheck"] = docker_healthcheck(healthcheck)
        try:
            raw = self.client.containers.run(**kwargs)
        except docker.errors.APIError as e:
            raise ContainerError(f"Docker could not start image {real_image!r}: {_short(e)}") from None
        container = DockerContainer(self.client, raw, real_image, timeout)
        self.containers.append(container)
        if self.on_start is not None:
            self.on_start(container)
        if not self.engine_runs_healthchecks():
            container.run_healthcheck_here()
        has_health = container.health is not None
        strategies = [s for s in (for_docker_health() if has_health else None, wait) if s is not None]
        if not strategies:
            tcp = [int(p.split("/")[0]) for p in wanted if p.endswith("/tcp")]
            strategies = [for_ports(*tcp)] if tcp else []
        if strategies:
            strategy = strategies[0] if len(strategies) == 1 else all_of(*strategies)
            try:
                wait_until_ready(container, strategy, timeout, interval=0.2)
            except BaseException:
                self.stop(container)
                raise
        return container

    def engine_runs_healthchecks(self) -> bool:
        if self._engine_health is None:
            self._engine_health = engine_runs_healthchecks(self.client)
        return self._engine_health

    def _name(self, image: str) -> str:
        base = image.rstrip("/").rsplit("/", 1)[-1].split("@")[0].split(":")[0] or "container"
        base = re.sub(r"[^A-Za-z0-9_.-]", "-", base)
        return f"wasmc-{self.session.id[:8]}-{base}-{next(_names)}"

    def stop(self, container: DockerContainer) -> int | None:
        code = container.stop()
        with contextlib.suppress(ValueError):
            self.containers.remove(container)
        return code

    def close(self) -> None:
        """Stop every container this object started, then anything else with this session's label."""
        for c in reversed(self.containers):
            with contextlib.suppress(Exception):
                c.stop(timeout=5)
        self.containers.clear()
        remove_session_containers(self.client, self.session)
