"""The guest's socket table: its entries (host sockets and what the guest set on them), the stop
signal every blocking wait also watches, and listeners made before start. Split from sockets.py."""

from __future__ import annotations

import contextlib
import heapq
import os
import resource
import socket
import threading
from dataclasses import dataclass, field

from . import errno
from .dnsserver import DnsConnection
from .faults import Key
from .network import PortMap

FD_BASE = 4096
HOST_FD_RESERVE = 512


def default_socket_limit() -> int:
    """Sockets one guest may hold at once: half of the process's fds beyond a reserve. A guest's
    sockets are the test process's fds: one that hoards them must get MFILE, never leave pytest,
    the log pumps and the other containers unable to open anything."""
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft == resource.RLIM_INFINITY or soft > 1 << 20:
        soft = 1 << 20
    return max(64, (soft - HOST_FD_RESERVE) // 2)


class StopSignal(threading.Event):
    """A stop flag that can also wake a ``poll()``: its pipe becomes readable on ``set()``."""

    def __init__(self) -> None:
        super().__init__()
        self._r, self._w = os.pipe()
        # stop() (any thread) may race the guest thread's close(): never write to a closed fd,
        # whose number may already belong to another file or socket
        self._fds_lock = threading.Lock()

    def fileno(self) -> int:
        return self._r

    def set(self) -> None:
        super().set()
        with self._fds_lock, contextlib.suppress(OSError):
            if self._w >= 0:
                os.write(self._w, b"x")

    def close(self) -> None:
        with self._fds_lock:
            for fd in (self._r, self._w):
                if fd >= 0:
                    with contextlib.suppress(OSError):
                        os.close(fd)
            self._r = self._w = -1


@dataclass(eq=False)
class GuestSocket:
    sock: socket.socket
    stream: bool
    nonblock: bool = False
    listening: bool = False
    guest_addr: tuple[str, int] | None = None
    """What the guest bound (or sees as its local address); None: ask the host socket."""
    peer: tuple[str, int] | None = None
    """The address the guest dialled (before name/port rewriting)."""
    recv_timeout: float | None = None
    send_timeout: float | None = None
    dns: DnsConnection | None = None
    options: dict[int, int] = field(default_factory=dict)
    fault_keys: tuple[Key, ...] = ()
    """What a fault rule matches this connection by (see faults.py)."""
    fault_bytes: int = 0
    reset: bool = False
    reset_done: bool = False
    stuck_peer: socket.socket | None = None
    """The other end of a hung connection's stand-in (faults.stuck_socket)."""

    def close(self) -> None:
        if self.dns is not None:
            self.dns.close()
        if self.stuck_peer is not None:
            self.stuck_peer.close()
        self.sock.close()


def preopened_listener(ports: PortMap, guest_port: int) -> GuestSocket:
    """A listening socket made before start, for a guest that expects one at fd 3, 4, ... (non-blocking,
    as ``wasmtime --tcplisten`` hands it over; Go's ``net.FileListener`` relies on that)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setblocking(False)
        s.bind(("127.0.0.1", ports.host_port_for_bind(guest_port)))
        s.listen(128)
    except OSError:
        s.close()
        raise
    ports.add_listener(guest_port, int(s.getsockname()[1]))
    return GuestSocket(s, True, nonblock=True, listening=True, guest_addr=("0.0.0.0", guest_port))


class SocketTable:
    """Guest socket fds. A new socket gets the lowest free number from ``FD_BASE`` on, as POSIX
    gives the lowest free fd: a long-running server's numbers stay small."""

    def __init__(self, limit: int | None = None) -> None:
        self.fds: dict[int, GuestSocket] = {}
        self.limit = limit or default_socket_limit()
        self._next = FD_BASE
        self._free: list[int] = []  # a heap of released numbers below _next
        self._lock = threading.Lock()
        self.generation = 0
        """Bumped whenever an fd's socket (or its host fd) changes: decoded poll calls are kept until then."""

    def add(self, gs: GuestSocket, fd: int | None = None) -> int:
        with self._lock:
            if fd is None and len(self.fds) >= self.limit:
                gs.close()  # the caller made it for this slot: never leak it
                raise errno.WasiError(errno.MFILE)
            if fd is None:
                while self._free and self._free[0] in self.fds:  # taken meanwhile (fd_renumber)
                    heapq.heappop(self._free)
                if self._free:
                    fd = heapq.heappop(self._free)
                else:
                    fd = self._next
                    self._next += 1
            self.fds[fd] = gs
            self.generation += 1
        return fd

    def get(self, fd: int) -> GuestSocket:
        gs = self.fds.get(fd)
        if gs is None:
            raise errno.WasiError(errno.BADF)
        return gs

    def close(self, fd: int) -> bool:
        with self._lock:
            gs = self.fds.pop(fd, None)
            if gs is None:
                return False
            self.generation += 1
            if FD_BASE <= fd < self._next:
                heapq.heappush(self._free, fd)
        gs.close()
        return True

    def close_all(self) -> None:
        for fd in list(self.fds):
            self.close(fd)
