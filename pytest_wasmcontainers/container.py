"""The container handle tests use, and how one is started from an image with Docker's semantics.

Knows nothing of pytest: ``session.py`` and ``plugin.py`` put it in users' hands.
"""

from __future__ import annotations

import itertools
import re
import shlex
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from .errors import ContainerError, ContainerExitedError, StartupTimeoutError, WasmContainersError
from .runtime.clock import GuestClock, RealClock
from .runtime.faults import Fault
from .runtime.spec import PROXY_PORT, Endpoint, Mount, RunSpec
from .wait import LOG_HEADING, WaitStrategy, for_ports, last_lines, wait_until_ready

if TYPE_CHECKING:
    from .images.image import WasmImage
    from .runtime import Runtime, WasmProcess

DEFAULT_STARTUP_TIMEOUT = 30.0
DOCKER_DNS = "127.0.0.11:53"
DEFAULT_TTY = True
"""Containers get a terminal unless told ``tty=False``: a failing test's report then holds every
line the guest printed, not only what filled libc's buffer (README, "Logs and tty")."""

PortsArg = Mapping[int | str, int | None] | Sequence[int | str]
VolumeTarget = str | tuple[str, str] | Mapping[str, str]
VolumesArg = Mapping[str | Path, VolumeTarget] | Sequence[Mount]


class ContainerConfigError(WasmContainersError, ValueError):
    """Container settings that cannot work (bad port, missing volume, unknown memory unit...)."""


class WaitTimeoutError(ContainerError, TimeoutError):
    """``container.wait(timeout)`` ran out before the container exited."""


@dataclass
class ContainerSettings:
    """Everything about a container to start. ``pytest_wasmcontainers_before_start`` may change it."""

    image: str
    """Image reference (a logical ``--wasm-image NAME=REF`` name is resolved before hooks see it)."""
    command: Sequence[str] | str | None = None
    """Replaces the image's Cmd (a string is split like a shell would)."""
    entrypoint: Sequence[str] | str | None = None
    """Replaces the image's Entrypoint and clears its Cmd unless ``command`` is given too."""
    env: Mapping[str, str] | Sequence[str] | None = None
    """Merged over the image's Env (a ``KEY=VALUE`` list works too)."""
    ports: PortsArg | None = None
    """``{container_port: host_port or None}`` (None: a free port), or a list of container ports."""
    volumes: VolumesArg | None = None
    """``{host_path: guest_path}``, ``{host_path: (guest_path, "ro")}`` or a list of ``Mount``."""
    wait: WaitStrategy | None = None
    """Readiness check; default: listening on the given ports, else on the image's ExposedPorts."""
    name: str | None = None
    memory_limit: int | str | None = None
    """Bytes, or a string like ``"64m"``, ``"1g"``."""
    startup_timeout: float | None = None
    working_dir: str | None = None
    hosts: Mapping[str, Endpoint] = field(default_factory=dict)
    """Names the guest can dial (``db`` -> a Docker service)."""
    links: Mapping[str, Endpoint] = field(default_factory=dict)
    """Docker's name for the same thing (``links={"db": mariadb}``); merged with ``hosts``."""
    stdin: bytes | None = None
    tty: bool | None = None
    """Docker's ``-t``: stdout and stderr look like a terminal, so libc writes each line as it is
    printed. None: ``DEFAULT_TTY``."""
    clock: str | datetime | None = None
    """``"real"`` (None: the host's clock), ``"frozen"`` (stands still until ``container.clock.advance``)
    or a ``datetime`` to start from (then runs at the real rate)."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Free room for hook plugins to pass data along."""


@dataclass
class ContainerStats:
    """Where a container's start-up time went (seconds)."""

    pull_seconds: float = 0.0
    pull_cache_hit: bool | None = None
    compile_seconds: float | None = None
    compile_cache_hit: bool | None = None
    start_seconds: float = 0.0
    """From asking the runtime to start until the process ran."""
    ready_seconds: float = 0.0
    """From start until the readiness check passed."""
    runtime_timings: dict[str, Any] = field(default_factory=dict)
    """The runtime's own breakdown (compile or cache load, rootfs, instantiate...)."""


_names = itertools.count(1)


class WasmContainer:
    """A running (or finished) Wasm container: ports, logs, exit code, stop."""

    def __init__(
        self,
        process: WasmProcess,
        image: WasmImage,
        name: str,
        *,
        declared_ports: Sequence[int],
        startup_timeout: float,
        stats: ContainerStats | None = None,
    ) -> None:
        self._process = process
        self.image = image
        self.name = name
        self.declared_ports = tuple(declared_ports)
        self.startup_timeout = startup_timeout
        self.stats = stats or ContainerStats()
        self.on_stop: Callable[[WasmContainer], None] | None = None
        """Set by the session that started it: a direct ``stop()`` must not leave it tracked."""

    def __repr__(self) -> str:
        state = "running" if self.running else f"exited {self.exit_code}"
        return f"<WasmContainer {self.name!r} {self.image.reference} {state}>"

    # --- the Target protocol of wait.py -------------------------------------------------------
    @property
    def description(self) -> str:
        return f"wasm container {self.name!r} (image {self.image.reference})"

    @property
    def exit_code(self) -> int | None:
        """None while running."""
        return self._process.exit_code

    @property
    def running(self) -> bool:
        return bool(self._process.running)

    def logs(self) -> str:
        """stdout and stderr so far, in the order written."""
        return str(self._process.logs())

    def listening_port(self, container_port: int) -> int | None:
        return self._process.host_port(container_port)

    def wait_for_listen(self, container_ports: tuple[int, ...], timeout: float) -> None:
        """``wait.ListenEvents``: wakes as soon as the guest listens on them all, or exits."""
        end = time.monotonic() + timeout
        for port in container_ports:
            if self._process.wait_listening(port, max(0.0, end - time.monotonic())) is None:
                return

    # --- what tests use ------------------------------------------------------------------------
    def stdout(self) -> str:
        return str(self._process.stdout())

    def stderr(self) -> str:
        return str(self._process.stderr())

    @property
    def ports(self) -> dict[int, int]:
        """Container port -> host port, for every port the guest listens on now."""
        return dict(self._process.ports)

    def host_port(self, container_port: int, timeout: float | None = None) -> int:
        """The host port mapped to ``container_port``; waits (up to the startup timeout) until the guest
        listens on it, and fails at once if the guest exits or traps first."""
        found = self._process.host_port(container_port)
        if found is not None:
            return int(found)
        limit = self.startup_timeout if timeout is None else timeout
        doing = f"waiting for {self.name} to listen on port {container_port}"
        try:
            return int(self._process.wait_for_port(container_port, limit))
        except ContainerExitedError as e:
            code = self.exit_code if self.exit_code is not None else e.exit_code
            raise ContainerExitedError(
                self._state_message(f"exited (code {code}) before listening on port {container_port}"),
                exit_code=code,
                logs=self.logs(),
                doing=doing,
            ) from e
        except (TimeoutError, StartupTimeoutError) as e:
            raise StartupTimeoutError(
                self._state_message(f"did not listen on port {container_port} within {limit:g} s"),
                logs=self.logs(),
                doing=doing,
            ) from e

    def resolve(self, port: int) -> tuple[str, int]:
        """As a name-table ``Endpoint``: another Wasm container can be linked to this one."""
        return "127.0.0.1", self.host_port(port)

    def url(self, container_port: int, path: str = "/") -> str:
        """``http://127.0.0.1:<host port><path>``, with the waiting rules of :meth:`host_port`."""
        if not path.startswith("/"):
            path = "/" + path
        return f"http://127.0.0.1:{self.host_port(container_port)}{path}"

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the container to exit and return its exit code."""
        code = self._process.wait(timeout)
        if code is None:
            raise WaitTimeoutError(
                self._state_message(f"did not exit within {timeout:g} s"), logs=self.logs()
            )
        return int(code)

    def stop(self, *, wait_cleanup: bool = True) -> int:
        """Stop the guest (if still running) and return its exit code (137 when it had to be killed).
        ``wait_cleanup=False``: return before its scratch dir is removed (the session waits at close)."""
        code = int(self._process.stop(wait_cleanup=wait_cleanup))
        on_stop, self.on_stop = self.on_stop, None
        if on_stop is not None:
            on_stop(self)  # the session lets go of it and tells the hooks (once)
        return code

    # --- network faults (runtime/faults.py) ----------------------------------------------------
    def faults(
        self,
        link: str | None = None,
        *,
        port: int | None = None,
        latency: float = 0.0,
        jitter: float = 0.0,
        partition: bool = False,
        mode: str = "refuse",
        reset_after: int | None = None,
        drop: float = 0.0,
        bandwidth: float | None = None,
        seed: int | None = None,
    ) -> Fault:
        """Inject a network fault now, on open connections too; it lasts until ``.clear()``, the end of
        its ``with`` block, or ``clear_faults()``. ``link``: a name from links/hosts or ``host:port``
        (connections the guest makes); ``port``: a guest port (connections it accepts). See docs/pytest.md."""
        faults = self._process.faults
        if link is not None and ":" not in link:
            known = sorted(self._process.spec.hosts)
            if link.lower().rstrip(".") not in {k.lower().rstrip(".") for k in known}:
                raise ValueError(
                    f"{self.description} has no link named {link!r} (links/hosts: {', '.join(known) or 'none'}); "
                    "give one of those, or host:port"
                )
        rule = Fault(
            link=link,
            port=port,
            latency=latency,
            jitter=jitter,
            partition=partition,
            mode=mode,
            reset_after=reset_after,
            drop=drop,
            bandwidth=bandwidth,
            seed=seed,
        )
        return faults.add(rule)

    @property
    def clock(self) -> GuestClock | RealClock:
        """The guest's clock: ``advance(seconds)`` and ``now()`` (see ``clock=``)."""
        clock = self._process.spec.clock
        return clock if clock is not None else RealClock()

    def clear_faults(self) -> None:
        """End every fault of this container."""
        self._process.faults.clear()

    @property
    def error(self) -> str | None:
        """Why the guest failed (a trap, a limit, a host error); None while running or after a clean exit."""
        return self._process.error

    def _state_message(self, what: str) -> str:
        code = self.exit_code
        state = "running" if code is None else f"exited with code {code}"
        err = f" ({self.error})" if self.error is not None else ""
        return f"{self.description} {what}.\nState: {state}{err}\n{LOG_HEADING}\n{last_lines(self.logs())}"


# --- turning settings into a RunSpec ----------------------------------------------------------
_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def parse_memory(value: int | str | None) -> int | None:
    """``64m`` -> bytes (Docker's units, 1024-based; ``MiB``/``MB`` spellings accepted too)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ContainerConfigError(f"memory_limit must be bytes or a string like '64m', got {value!r}")
    if isinstance(value, int):
        n = value
    else:
        m = re.fullmatch(r"\s*(\d+)\s*([kmg]?)(?:i?b)?\s*", value, re.IGNORECASE)
        if not m:
            raise ContainerConfigError(
                f"memory_limit {value!r} is not understood: use bytes or a number with k, m or g (e.g. '64m')"
            )
        n = int(m.group(1)) * _UNITS[m.group(2).lower()]
    if n <= 0:
        raise ContainerConfigError(f"memory_limit must be positive, got {value!r}")
    return n


def parse_ports(ports: PortsArg | None) -> dict[int, int | None]:
    if ports is None:
        return {}
    items: list[tuple[int | str, int | None]]
    if isinstance(ports, Mapping):
        items = list(ports.items())
    elif isinstance(ports, (str, bytes)):
        raise ContainerConfigError(f"ports must be a mapping or a list of ports, got {ports!r}")
    else:
        items = [(p, None) for p in ports]
    out: dict[int, int | None] = {}
    for guest, host in items:
        g = _port_number(guest)
        if host is not None and (
            isinstance(host, bool) or not isinstance(host, int) or not 0 <= host < 65536
        ):
            raise ContainerConfigError(
                f"host port for container port {g} must be 0..65535 or None, got {host!r}"
            )
        out[g] = host or None
    return out


def _port_number(value: int | str) -> int:
    if isinstance(value, str):
        num, _, proto = value.partition("/")
        if proto and proto.lower() != "tcp":
            raise ContainerConfigError(f"port {value!r}: only TCP ports can be mapped")
        if not num.isdigit():
            raise ContainerConfigError(f"port {value!r} is not a number (use 8080 or '8080/tcp')")
        value = int(num)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
        raise ContainerConfigError(f"container port must be 1..65535, got {value!r}")
    return value


def parse_volumes(volumes: VolumesArg | None) -> list[Mount]:
    if volumes is None:
        return []
    if isinstance(volumes, Mapping):
        mounts = [_mount(Path(host), target) for host, target in volumes.items()]
    elif isinstance(volumes, (str, bytes)):
        raise ContainerConfigError(f"volumes must be a mapping or a list of Mount, got {volumes!r}")
    else:
        mounts = list(volumes)
        for m in mounts:
            if not isinstance(m, Mount):
                raise ContainerConfigError(f"volumes list items must be Mount(...), got {m!r}")
    for m in mounts:
        if not m.host_path.exists():
            raise ContainerConfigError(f"volume host path {m.host_path} does not exist; create it first")
        if not PurePosixPath(m.guest_path).is_absolute():
            raise ContainerConfigError(f"volume guest path must be absolute, got {m.guest_path!r}")
    return mounts


def _mount(host: Path, target: VolumeTarget) -> Mount:
    mode = "rw"
    if isinstance(target, str):
        guest = target
    elif isinstance(target, Mapping):  # docker SDK style: {"bind": "/data", "mode": "ro"}
        guest, mode = target.get("bind", ""), target.get("mode", "rw")
    elif isinstance(target, tuple) and len(target) == 2:
        guest, mode = target
    else:
        raise ContainerConfigError(f"volume {host}: give a guest path or (guest_path, 'ro'), got {target!r}")
    if mode not in ("ro", "rw"):
        raise ContainerConfigError(f"volume {host}: mode must be 'ro' or 'rw', got {mode!r}")
    return Mount(host_path=host.resolve(), guest_path=guest, read_only=mode == "ro")


def parse_env(env: Mapping[str, str] | Sequence[str] | None) -> dict[str, str]:
    if env is None:
        return {}
    if isinstance(env, Mapping):
        out = {}
        for k, v in env.items():
            if not isinstance(k, str) or not k or "=" in k:
                raise ContainerConfigError(f"env names must be non-empty strings without '=', got {k!r}")
            out[k] = v if isinstance(v, str) else str(v)
        return out
    if isinstance(env, (str, bytes)):
        raise ContainerConfigError(f"env must be a mapping or a list of 'KEY=VALUE', got {env!r}")
    pairs = {}
    for item in env:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ContainerConfigError(f"env entry {item!r} is not KEY=VALUE")
        pairs[key] = value
    return pairs


def _words(value: Sequence[str] | str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return tuple(shlex.split(value))
    return tuple(str(v) for v in value)


def resolve_argv(
    image: WasmImage, command: Sequence[str] | str | None, entrypoint: Sequence[str] | str | None
) -> tuple[str, ...]:
    """Docker's rule: entrypoint replaces Entrypoint and clears Cmd; command replaces Cmd. Where the
    module is the program and the image names no Entrypoint, the module is the entrypoint: argv[0]
    is its name, as runwasi passes it, and ``command`` gives the arguments after it."""
    ep = _words(entrypoint)
    cmd = _words(command)
    if ep is None and cmd is not None and image.module_fixed and not image.entrypoint:
        own = (image.module_path, PurePosixPath(image.module_path).name)
        return cmd if cmd and cmd[0] in own else (image.module_path, *cmd)
    argv = ep + (cmd or ()) if ep is not None else image.entrypoint + (cmd if cmd is not None else image.cmd)
    return argv or (image.module_path,)


def module_for(image: WasmImage, program: str, working_dir: str) -> Path:
    """The host file of the Wasm module that ``argv[0]`` names inside the image."""
    if program == image.module_path or (image.module_fixed and image.rootfs is None):
        return image.module_file
    guest = PurePosixPath(working_dir, program)
    if image.rootfs is not None:
        root = image.rootfs.resolve()
        host = (root / str(guest).lstrip("/")).resolve()
        if host.is_relative_to(root) and host.is_file():
            with host.open("rb") as f:
                if f.read(4) == b"\0asm":
                    return host
            raise ContainerConfigError(
                f"{program!r} in image {image.reference} is not a WebAssembly module; the image's module is "
                f"{image.module_path}"
            )
    raise ContainerConfigError(
        f"the program {program!r} (first word of entrypoint + command) is not in image {image.reference}; "
        f"its Wasm module is {image.module_path}. Give arguments with command=[...] and keep the "
        f"entrypoint, or start the entrypoint with the module path"
    )


def run_spec(image: WasmImage, settings: ContainerSettings, name: str) -> RunSpec:
    """The runtime's view of a container: image config with the settings laid over it."""
    working_dir = settings.working_dir or image.working_dir or "/"
    argv = resolve_argv(image, settings.command, settings.entrypoint)
    env = dict(image.env)
    env.update(parse_env(settings.env))
    return RunSpec(
        module_file=module_for(image, argv[0], working_dir),
        argv=argv,
        env=env,
        working_dir=working_dir,
        rootfs=image.rootfs,
        mounts=parse_volumes(settings.volumes),
        ports=parse_ports(settings.ports),
        hosts={**settings.links, **settings.hosts},
        # Docker's embedded DNS address: images built for compose (DNS_SERVER=127.0.0.11:53) resolve
        # service names there with DNS over TCP; the runtime answers from the name table.
        dns_servers=(DOCKER_DNS,),
        stdin=settings.stdin,
        tty=DEFAULT_TTY if settings.tty is None else settings.tty,
        memory_limit=parse_memory(settings.memory_limit),
        name=name,
        clock=None if settings.clock in (None, "real") else GuestClock(settings.clock),
    )


def default_wait(image: WasmImage, settings: ContainerSettings) -> WaitStrategy | None:
    """Listening on the ports the caller gave, else on the image's ExposedPorts, else nothing."""
    ports = list(parse_ports(settings.ports)) or list(image.exposed_ports)
    return for_ports(*ports) if ports else None


def container_name(image: WasmImage, settings: ContainerSettings) -> str:
    if settings.name:
        return settings.name
    base = image.reference.rstrip("/").rsplit("/", 1)[-1].split("@")[0].split(":")[0] or "wasm"
    return f"{re.sub(r'[^A-Za-z0-9_.-]', '-', base)}-{next(_names)}"


def start_container(
    runtime: Runtime,
    image: WasmImage,
    settings: ContainerSettings,
    *,
    default_timeout: float = DEFAULT_STARTUP_TIMEOUT,
    stats: ContainerStats | None = None,
) -> WasmContainer:
    """Start ``image`` with ``settings`` and return it once its readiness check passed.

    On a failed readiness check the container is stopped before the error propagates.
    """
    name = container_name(image, settings)
    spec = run_spec(image, settings, name)
    timeout = settings.startup_timeout if settings.startup_timeout is not None else default_timeout
    if timeout <= 0:
        raise ContainerConfigError(f"startup_timeout must be positive, got {timeout!r}")
    stats = stats or ContainerStats()
    t0 = time.monotonic()
    process = runtime.start(spec)
    stats.start_seconds = time.monotonic() - t0
    _copy_timings(process, stats)
    # a wasi:http proxy serves guest port 8080 (as wasmtime serve does) whatever the image declares
    proxy = [PROXY_PORT] if getattr(process, "world", None) == "proxy" else []
    container = WasmContainer(
        process,
        image,
        name,
        declared_ports=proxy or list(spec.ports) or image.exposed_ports,
        startup_timeout=timeout,
        stats=stats,
    )
    strategy = settings.wait if settings.wait is not None else default_wait(image, settings)
    if settings.wait is None and proxy:
        strategy = for_ports(*proxy)  # only 8080 ever listens, whatever ExposedPorts says
    if strategy is not None:
        try:
            stats.ready_seconds = wait_until_ready(container, strategy, timeout)
        except BaseException:
            container.stop()
            raise
    return container


def _copy_timings(process: WasmProcess, stats: ContainerStats) -> None:
    timings: Mapping[str, Any] = getattr(process, "timings", None) or {}
    stats.runtime_timings = dict(timings)
    how = timings.get("module_cache")
    if how is not None:
        # "compiled" means no cache had it; "disk" / "memory" are cache hits.
        stats.compile_cache_hit = how != "compiled"
    seconds = timings.get("compile_s", timings.get("load_s"))
    if seconds is not None:
        stats.compile_seconds = float(seconds)
