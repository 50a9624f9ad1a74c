"""What the runtime is asked to run. Plain data: no pytest, no registries."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

PROXY_PORT = 8080
"""The guest port of a wasi:http proxy component, as wasmtime serve and runwasi's shims use it."""


@dataclass(frozen=True)
class Mount:
    host_path: Path
    guest_path: str
    read_only: bool = False


class Endpoint(Protocol):
    """Something a guest can reach by name: maps the port the guest dials to a real address."""

    def resolve(self, port: int) -> tuple[str, int]:
        """Return the ``(host, port)`` to really connect to; may block until it is known."""
        ...


@dataclass(frozen=True)
class StaticEndpoint:
    """A name for a fixed address, with optional port rewrites (guest port -> real port)."""

    host: str
    ports: Mapping[int, int] = field(default_factory=dict)

    def resolve(self, port: int) -> tuple[str, int]:
        return self.host, self.ports.get(port, port)


@dataclass
class RunSpec:
    module_file: Path
    argv: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)
    working_dir: str = "/"
    rootfs: Path | None = None
    """Shared, read-only root filesystem; the guest sees a private writable view of it at ``/``."""
    mounts: Sequence[Mount] = ()
    ports: Mapping[int, int | None] = field(default_factory=dict)
    """Guest port -> fixed host port (None or 0: ephemeral). Guest ports not listed still get an
    ephemeral host port when the guest binds them."""
    hosts: Mapping[str, Endpoint] = field(default_factory=dict)
    """The container's name table: host names the guest can dial (``db`` -> a Docker service)."""
    preopen_listeners: Sequence[int] = ()
    """Guest ports to listen on before start and hand to the guest as fds 3, 4, ... (``--tcplisten``)."""
    stdin: bytes | None = None
    tty: bool = False
    """Present stdout and stderr as a terminal (Docker's ``-t``): libc flushes them at each line."""
    memory_limit: int | None = None
    """Bytes of linear memory the guest may grow to."""
    log_limit: int = 1 << 20
    """Bytes of stdout+stderr kept in memory (the oldest are dropped, with a marker)."""
    name: str = ""
    dns_servers: Sequence[str] = ()
    clock: Any = None
    """A ``clock.GuestClock`` the test moves, or None for the host's clock."""
    """``"ip:port"`` addresses whose TCP connects are answered in-process with the name table
    (for guests that resolve names themselves, e.g. ``DNS_SERVER=127.0.0.11:53``)."""
