"""Run a docker-compose.yml: Wasm services on the embedded runtime, the others on Docker.

With a ``local`` backend, MariaDB/MySQL services run as local server processes instead (no Docker).

A service is a Wasm service when it says ``platform: wasi/...`` or ``runtime: io.containerd.<wasm shim>``
(wasmedge, wasmtime, spin, slight, wws, lunatic, wasmer, wamr). Wasm services reach the other services by
their names through the runtime's name table. Host ports in ``ports:`` are ignored unless asked for
(``fixed_ports=True``): tests read ``project.service(name).host_port(port)``, so parallel runs never collide.
Knows nothing of pytest; needs PyYAML (the optional extra ``compose``).
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..container import ContainerSettings, WasmContainer
from ..errors import ComposeError, ContainerError
from ..wait import WaitStrategy, for_exit
from .docker import DockerContainer, DockerServices, resolve_image
from .healthcheck import docker_healthcheck
from .local import PORT as LOCAL_PORT
from .local import LocalServer, LocalServices
from .mariadb import settings_from_env, start_local

WASM_SHIMS = ("wasmedge", "wasmtime", "spin", "slight", "wws", "lunatic", "wasmer", "wamr")
CONDITIONS = ("service_started", "service_healthy", "service_completed_successfully")
COMMON_KEYS = {
    "image", "environment", "ports", "command", "entrypoint", "depends_on", "platform", "runtime",
    "expose", "restart", "networks", "container_name", "hostname", "labels", "working_dir", "volumes",
    "tty",
}  # fmt: skip
DOCKER_ONLY_KEYS = {"healthcheck", "user", "tmpfs", "shm_size", "stop_grace_period", "init"}
IGNORED_KEYS = {"restart", "networks", "container_name", "hostname"}
"""Accepted and ignored: one flat network where every service name resolves; we name containers."""


class WasmStarter(Protocol):
    """What compose needs of the Wasm side (``WasmSession`` has it)."""

    def start(self, settings: ContainerSettings) -> WasmContainer: ...

    def stop(self, container: WasmContainer) -> int | None: ...


@dataclass
class ServiceDef:
    name: str
    image: str
    wasm: bool
    environment: dict[str, str] = field(default_factory=dict)
    ports: dict[int, int | None] = field(default_factory=dict)
    expose: list[int] = field(default_factory=list)
    command: list[str] | str | None = None
    entrypoint: list[str] | str | None = None
    depends_on: dict[str, str] = field(default_factory=dict)
    healthcheck: dict[str, Any] | None = None
    labels: dict[str, str] = field(default_factory=dict)
    working_dir: str | None = None
    tty: bool | None = None
    volumes: dict[Path, tuple[str, str]] = field(default_factory=dict)
    """Bind mounts: host path (absolute) -> (container path, "rw" or "ro")."""
    docker_extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class ComposeFile:
    path: Path
    name: str
    services: dict[str, ServiceDef]

    def start_order(self) -> list[str]:
        order: list[str] = []
        state: dict[str, str] = {}

        def visit(name: str, chain: tuple[str, ...]) -> None:
            if state.get(name) == "done":
                return
            if state.get(name) == "visiting":
                raise ComposeError(f"{self.path}: depends_on cycle: {' -> '.join((*chain, name))}")
            state[name] = "visiting"
            for dep in self.services[name].depends_on:
                visit(dep, (*chain, name))
            state[name] = "done"
            order.append(name)

        for name in self.services:
            visit(name, ())
        return order


# --- loading ------------------------------------------------------------------------------------
_VAR = re.compile(r"\$(?:(\$)|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")


def interpolate(value: str, env: Mapping[str, str], where: str) -> str:
    """Compose's ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``, ``${VAR:?error}``, ``$VAR``, ``$$``."""

    def sub(m: re.Match[str]) -> str:
        if m.group(1):
            return "$"
        name = m.group(2) or m.group(5)
        op, arg = m.group(3), m.group(4) or ""
        val = env.get(name)
        if op == ":-":
            return val if val else arg
        if op == "-":
            return val if val is not None else arg
        if op in (":?", "?") and (val is None or (op == ":?" and not val)):
            raise ComposeError(f"{where}: variable {name} is required: {arg or 'not set'}")
        return val or ""

    return _VAR.sub(sub, value)


def _interpolate_all(node: Any, env: Mapping[str, str], where: str) -> Any:
    if isinstance(node, str):
        return interpolate(node, env, where)
    if isinstance(node, list):
        return [_interpolate_all(v, env, where) for v in node]
    if isinstance(node, dict):
        return {k: _interpolate_all(v, env, f"{where}.{k}") for k, v in node.items()}
    return node


def _dotenv(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                k, _, v = line.partition("=")
                out[k.strip()] = v.strip().strip("'\"")
    return out


def load_compose(path: str | Path, env: Mapping[str, str] | None = None) -> ComposeFile:
    """Parse and check a compose file; every problem is a ``ComposeError`` naming the service and key."""
    try:
        import yaml
    except ImportError:
        raise ComposeError(
            "compose files need PyYAML: pip install 'pytest-wasmcontainers[compose]'"
        ) from None
    path = Path(path)
    if path.is_dir():
        candidates = [
            path / n for n in ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
        ]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            raise ComposeError(f"no compose.yaml or docker-compose.yml in {path}")
        path = found
    if not path.is_file():
        raise ComposeError(f"compose file {path} does not exist")
    try:
        doc = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ComposeError(f"{path} is not valid YAML: {e}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("services"), dict) or not doc["services"]:
        raise ComposeError(f"{path}: a compose file needs a 'services:' mapping with at least one service")
    variables = {**_dotenv(path.parent / ".env"), **(os.environ if env is None else env)}
    doc = _interpolate_all(doc, variables, path.name)
    for key in doc:
        if key in ("include", "extends"):
            raise ComposeError(f"{path}: top-level {key!r} is not supported; put the services in one file")
    name = str(doc.get("name") or re.sub(r"[^a-z0-9_-]", "", path.parent.name.lower()) or "project")
    services = {n: _service(path, str(n), spec or {}, variables) for n, spec in doc["services"].items()}
    for svc in services.values():
        for dep, condition in svc.depends_on.items():
            if dep not in services:
                raise ComposeError(f"{path}: service {svc.name!r} depends_on unknown service {dep!r}")
            if condition == "service_healthy" and services[dep].wasm:
                raise ComposeError(
                    f"{path}: service {svc.name!r} waits for {dep!r} to be healthy, but {dep!r} is a Wasm "
                    f"service and Wasm services have no healthcheck here; use condition: service_started"
                )
    compose = ComposeFile(path, name, services)
    compose.start_order()  # a depends_on cycle is an error now, not at start
    return compose


def is_wasm_service(spec: Mapping[str, Any]) -> bool:
    platform = str(spec.get("platform") or "").lower()
    runtime = str(spec.get("runtime") or "").lower()
    if platform.startswith("wasi") or platform.endswith("/wasm") or platform.endswith("/wasm32"):
        return True
    return runtime.startswith("io.containerd.") and any(s in runtime for s in WASM_SHIMS)


def _service(path: Path, name: str, spec: Any, variables: Mapping[str, str]) -> ServiceDef:
    where = f"{path}: service {name!r}"
    if not isinstance(spec, dict):
        raise ComposeError(f"{where} must be a mapping")
    wasm = is_wasm_service(spec)
    allowed = COMMON_KEYS | (set() if wasm else DOCKER_ONLY_KEYS)
    for key in spec:
        if str(key).startswith("x-"):
            continue
        if key not in allowed:
            kind = "a Wasm service" if wasm else "a Docker service"
            hint = {
                "build": "; build the image first and give it as image: (or override it with "
                "--wasm-compose-image)",
                "healthcheck": "; Docker runs healthchecks inside the container, which a Wasm guest cannot "
                "do: depend on it with condition: service_started",
            }.get(str(key), "")
            raise ComposeError(
                f"{where}: key {key!r} is not supported for {kind}{hint}. Supported: {', '.join(sorted(allowed))}"
            )
    runtime = str(spec.get("runtime") or "")
    if runtime and not wasm and not runtime.startswith("io.containerd.runc"):
        raise ComposeError(
            f"{where}: runtime {runtime!r} is neither runc nor a Wasm shim (io.containerd.wasmedge.v1...)"
        )
    image = spec.get("image")
    if not image or not isinstance(image, str):
        raise ComposeError(f"{where}: needs an image:")
    svc = ServiceDef(name=name, image=image, wasm=wasm)
    svc.environment = _environment(spec.get("environment"), variables, where)
    svc.ports = _ports(spec.get("ports"), where)
    svc.expose = [_port(p, where, "expose") for p in spec.get("expose") or []]
    for key in ("command", "entrypoint"):
        value = spec.get(key)
        if value is not None and not isinstance(value, (str, list)):
            raise ComposeError(f"{where}: {key} must be a string or a list")
        setattr(svc, key, [str(v) for v in value] if isinstance(value, list) else value)
    svc.depends_on = _depends_on(spec.get("depends_on"), where)
    if spec.get("healthcheck") is not None:
        try:
            docker_healthcheck(spec["healthcheck"])
        except ValueError as e:
            raise ComposeError(f"{where}: {e}") from None
        svc.healthcheck = dict(spec["healthcheck"])
    labels = spec.get("labels") or {}
    svc.labels = (
        {str(k): str(v) for k, v in labels.items()}
        if isinstance(labels, dict)
        else dict(str(item).partition("=")[::2] for item in labels)
    )
    svc.working_dir = spec.get("working_dir")
    if spec.get("tty") is not None:
        if not isinstance(spec["tty"], bool):
            raise ComposeError(f"{where}: tty must be true or false, got {spec['tty']!r}")
        svc.tty = spec["tty"]
        if not svc.wasm:
            svc.docker_extra["tty"] = svc.tty
    svc.volumes = _volumes(spec.get("volumes"), path.parent, where)
    for key in ("user", "tmpfs", "shm_size", "init"):
        if key in spec:
            svc.docker_extra[key] = spec[key]
    if "stop_grace_period" in spec:
        svc.docker_extra["stop_grace_period"] = spec["stop_grace_period"]
    return svc


def _environment(value: Any, variables: Mapping[str, str], where: str) -> dict[str, str]:
    out: dict[str, str] = {}
    if value is None:
        return out
    if isinstance(value, dict):
        for k, v in value.items():
            if v is None:  # "KEY:" with no value: taken from the environment, like compose
                if str(k) in variables:
                    out[str(k)] = variables[str(k)]
            else:
                out[str(k)] = ("true" if v else "false") if isinstance(v, bool) else str(v)
        return out
    if isinstance(value, list):
        for item in value:
            k, sep, v = str(item).partition("=")
            if sep:
                out[k] = v
            elif k in variables:
                out[k] = variables[k]
        return out
    raise ComposeError(f"{where}: environment must be a mapping or a list of KEY=VALUE")


def _port(value: Any, where: str, key: str) -> int:
    text = str(value).split("/")[0]
    if "/" in str(value) and not str(value).endswith("/tcp"):
        raise ComposeError(f"{where}: {key} {value!r}: only TCP ports are supported")
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ComposeError(f"{where}: {key} {value!r} is not a port number")
    return int(text)


def _ports(value: Any, where: str) -> dict[int, int | None]:
    out: dict[int, int | None] = {}
    for item in value or []:
        if isinstance(item, dict):  # long syntax
            target = _port(item.get("target"), where, "ports target")
            published = item.get("published")
            out[target] = _port(published, where, "ports published") if published else None
            continue
        text = str(item)
        parts = text.rsplit(":", 2)
        if len(parts) == 1:
            out[_port(parts[0], where, "ports")] = None
        else:
            host = parts[-2]
            if "-" in host or "-" in parts[-1]:
                raise ComposeError(f"{where}: port ranges ({text!r}) are not supported")
            out[_port(parts[-1], where, "ports")] = _port(host, where, "ports") if host else None
    return out


def _volumes(value: Any, base: Path, where: str) -> dict[Path, tuple[str, str]]:
    """Bind mounts only (``./dir:/path[:ro]`` or the long form with ``type: bind``); relative host paths
    are relative to the compose file, as in compose."""
    out: dict[Path, tuple[str, str]] = {}
    for item in value or []:
        if isinstance(item, dict):
            if item.get("type") != "bind":
                raise ComposeError(
                    f"{where}: volumes: only bind mounts are supported, got type {item.get('type')!r}"
                )
            source, target, mode = (
                str(item.get("source", "")),
                str(item.get("target", "")),
                ("ro" if item.get("read_only") else "rw"),
            )
        else:
            parts = str(item).split(":")
            if len(parts) < 2:
                raise ComposeError(
                    f"{where}: volume {item!r}: anonymous volumes are not supported; bind a host path"
                )
            source, target = parts[0], parts[1]
            mode = "ro" if len(parts) > 2 and "ro" in parts[2].split(",") else "rw"
        if not source.startswith((".", "/", "~")):
            raise ComposeError(
                f"{where}: volume {item!r}: named volumes are not supported; bind a host path (./dir:/path)"
            )
        host = (base / Path(source).expanduser()).resolve()
        if not host.exists():
            raise ComposeError(f"{where}: volume {item!r}: host path {host} does not exist")
        out[host] = (target, mode)
    return out


def _depends_on(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, list):
        return {str(v): "service_started" for v in value}
    if isinstance(value, dict):
        out = {}
        for dep, opts in value.items():
            condition = (opts or {}).get("condition", "service_started") if isinstance(opts, dict) else None
            if condition not in CONDITIONS:
                raise ComposeError(
                    f"{where}: depends_on {dep!r}: condition must be one of {', '.join(CONDITIONS)}, "
                    f"got {condition!r}"
                )
            out[str(dep)] = condition
        return out
    raise ComposeError(f"{where}: depends_on must be a list or a mapping")


# --- running ------------------------------------------------------------------------------------
class _ServiceEndpoint:
    """A name in a Wasm guest's name table: blocks until that service has started, then maps ports."""

    def __init__(self, project: ComposeProject, name: str) -> None:
        self.project, self.name = project, name

    def resolve(self, port: int) -> tuple[str, int]:
        handle = self.project.wait_started(self.name)
        return "127.0.0.1", handle.host_port(port)


Handle = DockerContainer | WasmContainer | LocalServer
MYSQL_IMAGES = {"mariadb", "mysql", "mysql-server", "percona", "percona-server"}


def is_mysql_image(image: str) -> bool:
    """``mariadb:10.9``, ``docker.io/library/mysql:8``, ``localhost/mariadb:ci`` ...: a server that the
    process backend can run from the machine's own binaries."""
    repo = re.sub(r"(@sha256:[0-9a-f]+|:[^:/]+)$", "", image.strip())
    return repo.rsplit("/", 1)[-1].lower() in MYSQL_IMAGES


class ComposeProject:
    """A started compose project. ``service(name)`` has ``host_port``, ``url`` and ``logs``."""

    def __init__(
        self,
        compose: ComposeFile,
        *,
        docker: Callable[[], DockerServices] | None,
        wasm: WasmStarter | None,
        local: Callable[[], LocalServices | None] | None = None,
        image_overrides: Mapping[str, str] | None = None,
        fixed_ports: bool = False,
        startup_timeout: float = 120.0,
    ) -> None:
        self.compose = compose
        self.name = compose.name
        self._docker_factory = docker
        self._docker: DockerServices | None = None
        self._local_factory = local
        self._local: LocalServices | None = None
        self._wasm = wasm
        self.image_overrides = dict(image_overrides or {})
        self.fixed_ports = fixed_ports
        self.startup_timeout = startup_timeout
        self._handles: dict[str, Handle] = {}
        self._order: list[str] = []
        self._cond = threading.Condition()

    def __repr__(self) -> str:
        return f"<ComposeProject {self.name!r} services={list(self._handles)}>"

    def service(self, name: str) -> Handle:
        if name not in self.compose.services:
            raise KeyError(
                f"no service {name!r} in {self.compose.path}; services: {', '.join(self.compose.services)}"
            )
        if name not in self._handles:
            raise ComposeError(f"service {name!r} has not been started")
        return self._handles[name]

    @property
    def services(self) -> dict[str, Handle]:
        return dict(self._handles)

    def wait_started(self, name: str) -> Handle:
        deadline = time.monotonic() + self.startup_timeout
        with self._cond:
            while name not in self._handles:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ConnectionError(f"compose service {name!r} was not started in time")
                self._cond.wait(left)
            return self._handles[name]

    def up(self) -> ComposeProject:
        """Start every service in dependency order, waiting for each dependency's condition."""
        try:
            for name in self.compose.start_order():
                svc = self.compose.services[name]
                for dep, condition in svc.depends_on.items():
                    self._await_condition(svc, dep, condition)
                if svc.wasm:
                    handle: Handle = self._start_wasm(svc)
                elif self._runs_locally(svc):
                    handle = self._start_local(svc)
                else:
                    handle = self._start_docker(svc)
                with self._cond:
                    self._handles[name] = handle
                    self._order.append(name)
                    self._cond.notify_all()
        except BaseException:
            self.down()
            raise
        return self

    def _await_condition(self, svc: ServiceDef, dep: str, condition: str) -> None:
        handle = self._handles[dep]
        # DockerServices.start already waited for a healthcheck to pass (or failed); it must exist.
        if condition == "service_healthy" and isinstance(handle, DockerContainer) and handle.health is None:
            raise ComposeError(
                f"{self.compose.path}: service {svc.name!r} waits for {dep!r} to be healthy, but {dep!r} "
                f"has no healthcheck (add one to the service or its image)"
            )
        if condition == "service_completed_successfully":
            code = handle.wait(self.startup_timeout)
            if code != 0:
                raise ContainerError(
                    f"service {svc.name!r} needs {dep!r} to complete successfully, but it exited with code {code}",
                    exit_code=code,
                    logs=handle.logs(),
                )

    def _readiness(self, svc: ServiceDef) -> WaitStrategy | None:
        """A service others wait on to complete is "ready" when it exited 0 (another code fails at once);
        otherwise the default readiness of its kind applies."""
        for other in self.compose.services.values():
            if other.depends_on.get(svc.name) == "service_completed_successfully":
                return for_exit(0)
        return None

    def _image(self, svc: ServiceDef) -> str:
        return resolve_image(svc.image, self.image_overrides)

    def _hosts(self, svc: ServiceDef) -> dict[str, Any]:
        return {n: _ServiceEndpoint(self, n) for n in self.compose.services if n != svc.name}

    def _start_wasm(self, svc: ServiceDef) -> WasmContainer:
        if self._wasm is None:
            raise ComposeError(f"service {svc.name!r} is a Wasm service, but no Wasm runtime was given")
        settings = ContainerSettings(
            image=self._image(svc),
            command=svc.command,
            entrypoint=svc.entrypoint,
            env=svc.environment,
            ports={p: (h if self.fixed_ports else None) for p, h in svc.ports.items()},
            name=f"{self.name}-{svc.name}",
            working_dir=svc.working_dir,
            tty=svc.tty,
            volumes={h: (t, m) for h, (t, m) in svc.volumes.items()},
            hosts=self._hosts(svc),
            startup_timeout=self.startup_timeout,
            wait=self._readiness(svc),
        )
        return self._wasm.start(settings)

    def _runs_locally(self, svc: ServiceDef) -> bool:
        if self._local_factory is None or not (is_mysql_image(svc.image) or is_mysql_image(self._image(svc))):
            return False
        if self._local is None:
            self._local = self._local_factory()
        return self._local is not None

    def _start_local(self, svc: ServiceDef) -> LocalServer:
        """A MariaDB/MySQL service as a local server: the image's environment settings, its first port
        fixed when ``fixed_ports`` asks, ready (and "healthy") once its user can log in."""
        assert self._local is not None
        try:
            root_password, database, user, password = settings_from_env(svc.environment)
        except ValueError as e:
            raise ComposeError(f"{self.compose.path}: service {svc.name!r}: {e}") from None
        fixed = [h for p, h in svc.ports.items() if p == LOCAL_PORT and h] if self.fixed_ports else []
        return start_local(
            self._local,
            root_password,
            database,
            user,
            password,
            port=fixed[0] if fixed else None,
            name=f"{self.name}-{svc.name}",
            startup_timeout=self.startup_timeout,
        )

    def _start_docker(self, svc: ServiceDef) -> DockerContainer:
        if self._docker is None:
            if self._docker_factory is None:
                raise ComposeError(f"service {svc.name!r} needs Docker, but no Docker daemon was given")
            self._docker = self._docker_factory()
        ports: dict[int | str, int | None] = {
            p: (h if self.fixed_ports else None) for p, h in svc.ports.items()
        }
        for p in svc.expose:
            ports.setdefault(p, None)
        img = self._docker.ensure_image(self._image(svc))
        for p in (img.attrs.get("Config") or {}).get("ExposedPorts") or {}:
            if str(p).endswith("/tcp"):
                ports.setdefault(int(str(p).split("/")[0]), None)
        extra = dict(svc.docker_extra)
        extra.pop("stop_grace_period", None)
        if "shm_size" in extra:
            extra["shm_size"] = str(extra["shm_size"])
        return self._docker.start(
            self._image(svc),
            command=svc.command,
            entrypoint=svc.entrypoint,
            env=svc.environment,
            ports=ports,
            healthcheck=svc.healthcheck,
            wait=self._readiness(svc),
            labels={
                **svc.labels,
                "com.docker.compose.project": self.name,
                "com.docker.compose.service": svc.name,
            },
            startup_timeout=self.startup_timeout,
            working_dir=svc.working_dir,
            volumes={str(h): {"bind": t, "mode": m} for h, (t, m) in svc.volumes.items()},
            **extra,
        )

    def down(self) -> None:
        """Stop every service, dependents first. Errors are collected and the first one raised."""
        errors: list[BaseException] = []
        for name in reversed(self._order):
            handle = self._handles.get(name)
            try:
                if isinstance(handle, DockerContainer) and self._docker is not None:
                    self._docker.stop(handle)
                elif isinstance(handle, LocalServer) and self._local is not None:
                    self._local.stop(handle)
                elif isinstance(handle, WasmContainer) and self._wasm is not None:
                    self._wasm.stop(handle)
            except Exception as e:
                errors.append(e)
        self._order.clear()
        if errors:
            raise errors[0]
