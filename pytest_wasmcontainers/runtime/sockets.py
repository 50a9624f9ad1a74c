"""The socket table and WasmEdge's ``sock_*`` functions, over real host sockets.

Every host socket is non-blocking; a guest's blocking call waits with ``poll()`` in short slices
so that ``stop()`` is noticed. Guest socket fds are numbered from ``FD_BASE`` so they never collide
with wasmtime's own fds (except preopened listeners, which sit at 3, 4, ... like ``--tcplisten``).
"""

from __future__ import annotations

import contextlib
import heapq
import os
import resource
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from . import addresses, errno
from .dnsserver import DnsConnection
from .faults import Faults, Key, SocketFaults
from .memory import GuestMemory, gather, iovecs, put_u16, put_u32, read, scatter, write
from .network import NameTable, PortMap, is_local, route
from .readiness import READABLE, WRITABLE, Waiter

FD_BASE = 4096
FDFLAG_NONBLOCK = 0x4
RIFLAG_PEEK, RIFLAG_WAITALL = 1, 2
AI_PASSIVE = 1
POLL_SLICE = 0.25  # a fallback only: stop() wakes every wait through its pipe

# WasmEdge SO_* numbering (SocketOptName in the crates) -> host option; level 0 = SOL_SOCKET.
SO_REUSEADDR, SO_TYPE, SO_ERROR, SO_DONTROUTE, SO_BROADCAST = 0, 1, 2, 3, 4
SO_SNDBUF, SO_RCVBUF, SO_KEEPALIVE, SO_OOBINLINE, SO_LINGER = 5, 6, 7, 8, 9
SO_RCVLOWAT, SO_RCVTIMEO, SO_SNDTIMEO, SO_ACCEPTCONN, SO_BINDTODEVICE = 10, 11, 12, 13, 14
_INT_OPTS = {
    SO_REUSEADDR: socket.SO_REUSEADDR,
    SO_DONTROUTE: socket.SO_DONTROUTE,
    SO_BROADCAST: socket.SO_BROADCAST,
    SO_SNDBUF: socket.SO_SNDBUF,
    SO_RCVBUF: socket.SO_RCVBUF,
    SO_KEEPALIVE: socket.SO_KEEPALIVE,
    SO_OOBINLINE: socket.SO_OOBINLINE,
    SO_RCVLOWAT: socket.SO_RCVLOWAT,
}
_TIMEVAL = struct.Struct("<qq")  # wasm32 wasi-libc: time_t and suseconds_t are 64-bit
# IPPROTO_TCP level: TCP_NODELAY is 1 (wasi-go's numbering) or 15 (the "WasmEdge v2" C socket shim
# of vmware-labs' language runtimes). WasmEdge itself only knows level 0.
LEVEL_TCP, TCP_NODELAY_NAMES = 6, (1, 15)
SMALLEST_POINTER = 1024
"""wasm-ld puts data at 1024 and up: a smaller "pointer" is a value (see sock_getsockopt)."""
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


class Sockets:
    """Host functions for the socket extension. Each takes a wasmtime ``Caller`` first."""

    def __init__(
        self,
        table: SocketTable,
        ports: PortMap,
        names: NameTable,
        stop: StopSignal,
        faults: Faults | None = None,
    ) -> None:
        self.table = table
        self.ports = ports
        self.names = names
        self.stop = stop
        self.faults = faults or Faults()
        self.fault_io = SocketFaults(self.faults, table, stop)
        self.memory: GuestMemory | None = None
        self.waiter = Waiter()  # the guest thread's blocking waits

    # ---- helpers -------------------------------------------------------------------------
    def view(self, caller: Any) -> Any:
        assert self.memory is not None
        return self.memory.view(caller)

    def wait(self, gs: GuestSocket, write: bool) -> None:
        """Wait until ``gs`` is ready, honouring non-blocking mode, SO_*TIMEO and stop()."""
        if gs.nonblock:
            raise errno.WasiError(errno.AGAIN)
        limit = gs.send_timeout if write else gs.recv_timeout
        end = None if not limit else time.monotonic() + limit
        while True:
            if self.stop.is_set():
                raise errno.stopped()
            left = POLL_SLICE if end is None else min(POLL_SLICE, end - time.monotonic())
            if left <= 0:
                raise errno.WasiError(errno.AGAIN)
            fd, wake = gs.sock.fileno(), self.stop.fileno()
            mask = WRITABLE if write else READABLE
            if self.waiter.wait({fd: mask, wake: READABLE}, left).get(fd, 0) & mask:
                return

    def _new_host_socket(self, family: int, stream: bool) -> socket.socket:
        s = socket.socket(family, socket.SOCK_STREAM if stream else socket.SOCK_DGRAM)
        s.setblocking(False)
        return s

    def _route(self, ip: str, port: int) -> tuple[str, int]:
        """Where a guest's (ip, port) really goes (see network.route)."""
        return route(self.names, self.ports, ip, port)

    # ---- WasmEdge API --------------------------------------------------------------------
    def sock_open(self, caller: Any, af: int, socktype: int, fd_ptr: int) -> int:
        if af not in (addresses.FAMILY_UNSPEC, addresses.FAMILY_INET4, addresses.FAMILY_INET6):
            return errno.AFNOSUPPORT
        if socktype not in (0, 1, 2):
            return errno.INVAL
        stream = socktype != 1
        gs = GuestSocket(self._new_host_socket(socket.AF_INET, stream), stream)
        fd = self.table.add(gs)
        put_u32(self.view(caller), fd_ptr, fd)
        return 0

    def sock_bind(self, caller: Any, fd: int, addr_ptr: int, port: int) -> int:
        gs = self.table.get(fd)
        ip = addresses.decode(self.view(caller), addr_ptr)
        host_port = self.ports.host_port_for_bind(port)
        if gs.stream:
            gs.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Every bind is really on loopback: the guest's "own" address, whatever it asked for.
        gs.sock.bind(("127.0.0.1", host_port))
        gs.guest_addr = (ip if is_local(ip) else "0.0.0.0", port or gs.sock.getsockname()[1])
        if not gs.stream:  # a datagram socket serves from its bind on: its port is known now
            self.ports.add_listener(gs.guest_addr[1], int(gs.sock.getsockname()[1]))
        return 0

    def sock_listen(self, caller: Any, fd: int, backlog: int) -> int:
        gs = self.table.get(fd)
        if gs.guest_addr is None:  # listen without bind: the host picks a port, like Linux does
            gs.sock.bind(("127.0.0.1", 0))
            gs.guest_addr = ("0.0.0.0", gs.sock.getsockname()[1])
        gs.sock.listen(max(backlog, 128))
        gs.listening = True
        self.ports.add_listener(gs.guest_addr[1], int(gs.sock.getsockname()[1]))
        return 0

    def _accept(self, caller: Any, fd: int, flags: int, fd_ptr: int) -> int:
        gs = self.table.get(fd)
        while True:
            try:
                conn, _ = gs.sock.accept()
                break
            except BlockingIOError:
                self.wait(gs, write=False)
        conn.setblocking(False)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        child = GuestSocket(conn, True, nonblock=bool(flags & FDFLAG_NONBLOCK), guest_addr=gs.guest_addr)
        if gs.guest_addr is not None:
            child.fault_keys = (("in", "", gs.guest_addr[1]),)
        put_u32(self.view(caller), fd_ptr, self.table.add(child))
        return 0

    def sock_accept_wasmedge(self, caller: Any, fd: int, fd_ptr: int) -> int:
        return self._accept(caller, fd, 0, fd_ptr)

    def sock_accept(self, caller: Any, fd: int, flags: int, fd_ptr: int) -> int:
        return self._accept(caller, fd, flags, fd_ptr)

    def sock_connect(self, caller: Any, fd: int, addr_ptr: int, port: int) -> int:
        gs = self.table.get(fd)
        ip = addresses.decode(self.view(caller), addr_ptr)
        gs.peer = (ip, port)
        if self.names.is_dns_server(ip, port):
            dns = DnsConnection(self.names.lookup, self.stop)
            gs.sock.close()
            gs.sock, gs.dns = dns.guest_end, dns
            self.table.generation += 1
            gs.sock.setblocking(False)
            return 0
        host, real_port = self._route(ip, port)
        if gs.stream:
            dialled = self.names.virtual.get(ip, ip)
            gs.fault_keys = (("out", dialled, port), ("out", host.lower(), real_port))
            if self.faults.active and self.fault_io.refuses(gs.fault_keys):
                return errno.CONNREFUSED
            if self.faults.active and self.faults.hangs(gs.fault_keys):
                self.fault_io.hang(gs)  # the connect never completes
                if gs.nonblock:
                    return errno.INPROGRESS
                self.wait(gs, write=True)
                return errno.TIMEDOUT
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        if family != gs.sock.family:
            gs.sock.close()
            gs.sock = self._new_host_socket(family, gs.stream)
            self.table.generation += 1
            for opt, value in gs.options.items():
                gs.sock.setsockopt(socket.SOL_SOCKET, opt, value)
        if gs.stream:
            gs.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        err = gs.sock.connect_ex((host, real_port))
        if err == 0:
            return 0
        if err not in (115, 11):  # EINPROGRESS, EAGAIN
            return errno.from_host(err)
        if gs.nonblock:
            return errno.INPROGRESS
        self.wait(gs, write=True)
        err = gs.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        return errno.from_host(err) if err else 0

    def buffers(self, caller: Any) -> tuple[Any, memoryview]:
        """Guest memory for one host call (it cannot grow while the guest waits on us)."""
        assert self.memory is not None
        return self.memory.buffers(caller)

    def _recv(
        self, gs: GuestSocket, view: Any, mv: memoryview, iovs_ptr: int, count: int, flags: int
    ) -> tuple[int, Any]:
        if gs.reset:
            self.fault_io.reset(gs)
            raise errno.WasiError(errno.CONNRESET)
        if (
            self.faults.active
            and gs.fault_keys
            and gs.stuck_peer is None
            and self.faults.hangs(gs.fault_keys)
        ):
            self.fault_io.hang(gs)
        got, addr = self._recv_data(gs, view, mv, iovs_ptr, count, flags)
        if self.faults.active and gs.fault_keys:
            self.fault_io.after(gs, got)
        return got, addr

    def _recv_data(
        self, gs: GuestSocket, view: Any, mv: memoryview, iovs_ptr: int, count: int, flags: int
    ) -> tuple[int, Any]:
        vecs = iovecs(view, iovs_ptr, count)
        want = sum(n for _, n in vecs)
        if want == 0:
            return 0, None
        peek = socket.MSG_PEEK if flags & RIFLAG_PEEK else 0
        if len(vecs) == 1:  # straight into guest memory; a stream needs no address
            base, n = vecs[0]
            buf = mv[base : base + n]
            plain = gs.stream and gs.dns is None
            while True:
                try:
                    if plain:
                        return gs.sock.recv_into(buf, n, peek), None
                    got, addr = gs.sock.recvfrom_into(buf, n, peek)
                    return got, addr
                except BlockingIOError:
                    self.wait(gs, write=False)
        while True:
            try:
                data, addr = gs.sock.recvfrom(want, peek)
                scatter(view, vecs, data)
                return len(data), addr
            except BlockingIOError:
                self.wait(gs, write=False)

    def _send(
        self,
        gs: GuestSocket,
        view: Any,
        mv: memoryview,
        iovs_ptr: int,
        count: int,
        to: tuple[str, int] | None,
    ) -> int:
        vecs = iovecs(view, iovs_ptr, count)
        if len(vecs) == 1:  # straight from guest memory, no copy
            base, n = vecs[0]
            data: Any = mv[base : base + n]
        else:
            data = gather(view, vecs)
        if not data:
            return 0
        if gs.reset:
            self.fault_io.reset(gs)
            raise errno.WasiError(errno.CONNRESET)
        if (
            self.faults.active
            and gs.fault_keys
            and gs.stuck_peer is None
            and self.faults.hangs(gs.fault_keys)
        ):
            self.fault_io.hang(gs)
        while True:
            try:
                sent: int = gs.sock.sendto(data, to) if to is not None else gs.sock.send(data)
                break
            except BlockingIOError:
                self.wait(gs, write=True)
        if self.faults.active and gs.fault_keys:
            self.fault_io.after(gs, sent)
        return sent

    def sock_recv(
        self, caller: Any, fd: int, iovs: int, count: int, flags: int, len_ptr: int, oflags_ptr: int
    ) -> int:
        gs = self.table.get(fd)
        view, mv = self.buffers(caller)
        got, _ = self._recv(gs, view, mv, iovs, count, flags)
        put_u32(view, len_ptr, got)
        put_u16(view, oflags_ptr, 0)
        return 0

    def sock_recv_from_v1(
        self,
        caller: Any,
        fd: int,
        iovs: int,
        count: int,
        addr_ptr: int,
        flags: int,
        len_ptr: int,
        oflags_ptr: int,
    ) -> int:
        return self._recv_from(caller, fd, iovs, count, addr_ptr, flags, None, len_ptr, oflags_ptr)

    def sock_recv_from(
        self,
        caller: Any,
        fd: int,
        iovs: int,
        count: int,
        addr_ptr: int,
        flags: int,
        port_ptr: int,
        len_ptr: int,
        oflags_ptr: int,
    ) -> int:
        return self._recv_from(caller, fd, iovs, count, addr_ptr, flags, port_ptr, len_ptr, oflags_ptr)

    def _recv_from(
        self,
        caller: Any,
        fd: int,
        iovs: int,
        count: int,
        addr_ptr: int,
        flags: int,
        port_ptr: int | None,
        len_ptr: int,
        oflags_ptr: int,
    ) -> int:
        """V1 has no port pointer (the port is not reported); V2 writes it as a u16, as WasmEdge does."""
        gs = self.table.get(fd)
        view, mv = self.buffers(caller)
        got, addr = self._recv(gs, view, mv, iovs, count, flags)
        if addr:
            addresses.encode(view, addr_ptr, str(addr[0]))
            if port_ptr is not None:
                put_u16(view, port_ptr, int(addr[1]))
        put_u32(view, len_ptr, got)
        put_u16(view, oflags_ptr, 0)
        return 0

    def sock_send(self, caller: Any, fd: int, iovs: int, count: int, flags: int, len_ptr: int) -> int:
        gs = self.table.get(fd)
        view, mv = self.buffers(caller)
        put_u32(view, len_ptr, self._send(gs, view, mv, iovs, count, None))
        return 0

    def sock_send_to(
        self, caller: Any, fd: int, iovs: int, count: int, addr_ptr: int, port: int, flags: int, len_ptr: int
    ) -> int:
        gs = self.table.get(fd)
        view, mv = self.buffers(caller)
        ip = addresses.decode(view, addr_ptr)
        target = self._route(ip, port)
        put_u32(view, len_ptr, self._send(gs, view, mv, iovs, count, target))
        return 0

    def sock_close(self, caller: Any, fd: int) -> int:
        """``wasmedge_wasi_socket`` before 0.4 closed sockets with an import of its own."""
        return 0 if self.table.close(fd) else errno.BADF

    def sock_shutdown(self, caller: Any, fd: int, how: int) -> int:
        gs = self.table.get(fd)
        mode = {1: socket.SHUT_RD, 2: socket.SHUT_WR, 3: socket.SHUT_RDWR}.get(how)
        if mode is None:
            return errno.INVAL
        try:
            gs.sock.shutdown(mode)
        except OSError as exc:
            if exc.errno != 107:  # ENOTCONN: the peer already went away
                raise
            return errno.NOTCONN
        return 0

    def _local(self, gs: GuestSocket) -> tuple[str, int]:
        if gs.guest_addr is not None:
            return gs.guest_addr
        host, port = gs.sock.getsockname()[:2]
        return str(host), int(port)

    def _peer(self, gs: GuestSocket) -> tuple[str, int]:
        if gs.peer is not None:
            return gs.peer
        host, port = gs.sock.getpeername()[:2]
        return str(host), int(port)

    def sock_getlocaladdr_v1(self, caller: Any, fd: int, addr_ptr: int, type_ptr: int, port_ptr: int) -> int:
        ip, port = self._local(self.table.get(fd))
        addresses.encode_v1(self.view(caller), addr_ptr, type_ptr, port_ptr, ip, port)
        return 0

    def sock_getlocaladdr(self, caller: Any, fd: int, addr_ptr: int, port_ptr: int) -> int:
        ip, port = self._local(self.table.get(fd))
        view = self.view(caller)
        addresses.encode(view, addr_ptr, ip)
        put_u32(view, port_ptr, port)
        return 0

    def sock_getpeeraddr_v1(self, caller: Any, fd: int, addr_ptr: int, type_ptr: int, port_ptr: int) -> int:
        ip, port = self._peer(self.table.get(fd))
        addresses.encode_v1(self.view(caller), addr_ptr, type_ptr, port_ptr, ip, port)
        return 0

    def sock_getpeeraddr(self, caller: Any, fd: int, addr_ptr: int, port_ptr: int) -> int:
        ip, port = self._peer(self.table.get(fd))
        view = self.view(caller)
        addresses.encode(view, addr_ptr, ip)
        put_u32(view, port_ptr, port)
        return 0

    def sock_setsockopt(self, caller: Any, fd: int, level: int, name: int, value_ptr: int, size: int) -> int:
        gs = self.table.get(fd)
        if level == LEVEL_TCP and name in TCP_NODELAY_NAMES:
            raw = read(self.view(caller), value_ptr, 4)
            if gs.stream:
                gs.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, struct.unpack("<i", raw)[0])
            return 0
        if level != 0:
            return errno.INVAL  # as WasmEdge answers a level or name it does not know
        raw = read(self.view(caller), value_ptr, size)
        if name in (SO_RCVTIMEO, SO_SNDTIMEO):
            if size < 16:
                return errno.INVAL
            sec, usec = _TIMEVAL.unpack_from(raw)
            timeout = sec + usec / 1e6 or None
            if name == SO_RCVTIMEO:
                gs.recv_timeout = timeout
            else:
                gs.send_timeout = timeout
            return 0
        if name == SO_LINGER:
            if size < 8:
                return errno.INVAL
            gs.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, raw[:8])
            return 0
        if name == SO_BINDTODEVICE:
            return 0  # one loopback "interface" per container: nothing to choose
        opt = _INT_OPTS.get(name)
        if opt is None or size < 4:  # (TYPE, ERROR, ACCEPTCONN are read-only, as on Linux)
            return errno.NOPROTOOPT if opt is None and name <= SO_BINDTODEVICE else errno.INVAL
        value = struct.unpack_from("<i", raw)[0]
        gs.options[opt] = value
        gs.sock.setsockopt(socket.SOL_SOCKET, opt, value)
        return 0

    def sock_getsockopt(
        self, caller: Any, fd: int, level: int, name: int, value_ptr: int, size_ptr: int
    ) -> int:
        gs = self.table.get(fd)
        view = self.view(caller)
        if level == LEVEL_TCP and name in TCP_NODELAY_NAMES:
            nodelay = gs.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) if gs.stream else 0
            return self._put_option(view, value_ptr, size_ptr, struct.pack("<i", int(bool(nodelay))))
        if level != 0:
            return errno.INVAL
        if name in (SO_RCVTIMEO, SO_SNDTIMEO):
            t = gs.recv_timeout if name == SO_RCVTIMEO else gs.send_timeout
            sec = int(t or 0)
            out = _TIMEVAL.pack(sec, round(((t or 0) - sec) * 1e6))
        elif name == SO_BINDTODEVICE:
            out = b""
        elif name == SO_LINGER:
            out = gs.sock.getsockopt(socket.SOL_SOCKET, socket.SO_LINGER, 8)
        elif name == SO_TYPE:
            out = struct.pack("<i", 2 if gs.stream else 1)
        elif name == SO_ERROR:
            err = gs.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            out = struct.pack("<i", errno.from_host(err) if err else 0)
        elif name == SO_ACCEPTCONN:
            out = struct.pack("<i", int(gs.listening))
        elif name in _INT_OPTS:
            out = struct.pack("<i", gs.sock.getsockopt(socket.SOL_SOCKET, _INT_OPTS[name]))
        else:
            return errno.INVAL
        return self._put_option(view, value_ptr, size_ptr, out)

    @staticmethod
    def _put_option(view: Any, value_ptr: int, size_arg: int, out: bytes) -> int:
        """The crates pass the value's size by pointer (in: room, out: length), as WasmEdge reads
        it; wasi-go and the C socket shims built for it pass the room itself (4)."""
        if size_arg < SMALLEST_POINTER:
            write(view, value_ptr, out[:size_arg])
            return 0
        room = struct.unpack_from("<I", view, size_arg)[0] if size_arg + 4 <= len(view) else 0
        out = out[:room]
        write(view, value_ptr, out)
        put_u32(view, size_arg, len(out))
        return 0

    def sock_getaddrinfo(
        self,
        caller: Any,
        node_ptr: int,
        node_len: int,
        service_ptr: int,
        service_len: int,
        hints_ptr: int,
        res_ptr: int,
        max_len: int,
        res_len_ptr: int,
    ) -> int:
        view = self.view(caller)
        node = read(view, node_ptr, node_len).split(b"\0", 1)[0].decode("utf-8", "replace")
        service = read(view, service_ptr, service_len).split(b"\0", 1)[0].decode("utf-8", "replace")
        if not node and not service:
            return errno.AINONAME
        if max_len < 1:
            return errno.AIMEMORY
        flags, family, socktype, protocol = addresses.read_hints(view, hints_ptr)
        if family not in (0, 1, 2):
            return errno.AIFAMILY
        try:
            port = int(service) if service.isdigit() else socket.getservbyname(service) if service else 0
        except OSError:
            return errno.AISERVICE
        try:
            ips = self.names.lookup(node or ("0.0.0.0" if flags & AI_PASSIVE else "127.0.0.1"))
        except OSError:
            return errno.AINONAME
        if family == addresses.FAMILY_INET4:
            ips = [ip for ip in ips if ":" not in ip]
        elif family == addresses.FAMILY_INET6:
            ips = [ip for ip in ips if ":" in ip]
        if not ips:
            return errno.AINONAME
        count = addresses.write_addrinfos(
            view, res_ptr, max_len, [(ip, port) for ip in ips], socktype, protocol
        )
        put_u32(self.view(caller), res_len_ptr, count)
        return 0
