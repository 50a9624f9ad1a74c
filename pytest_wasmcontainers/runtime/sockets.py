"""The socket table and WasmEdge's ``sock_*`` functions, over real host sockets.

Every host socket is non-blocking; a guest's blocking call waits with ``poll()`` in short slices
so that ``stop()`` is noticed. Guest socket fds are numbered from ``FD_BASE`` so they never collide
with wasmtime's own fds (except preopened listeners, which sit at 3, 4, ... like ``--tcplisten``).
"""

from __future__ import annotations

import socket
import time
from typing import Any

from . import addresses, errno
from .dnsserver import DnsConnection
from .faults import Faults, SocketFaults, inbound_keys, outbound_keys
from .memory import GuestMemory, gather, iovecs, put_u16, put_u32, scatter
from .network import NameTable, PortMap, is_local, route
from .readiness import READABLE, WRITABLE, Waiter
from .sockinfo import SocketQueries
from .socktable import (
    FD_BASE,
    GuestSocket,
    SocketTable,
    StopSignal,
    default_socket_limit,
    preopened_listener,
)

__all__ = [
    "FDFLAG_NONBLOCK",
    "FD_BASE",
    "POLL_SLICE",
    "GuestSocket",
    "SocketTable",
    "Sockets",
    "StopSignal",
    "default_socket_limit",
    "preopened_listener",
]  # the table's names are re-exported: the rest of the runtime imports them from here
FDFLAG_NONBLOCK = 0x4
RIFLAG_PEEK, RIFLAG_WAITALL = 1, 2
AI_PASSIVE = 1
POLL_SLICE = 0.25  # a fallback only: stop() wakes every wait through its pipe


class Sockets(SocketQueries):
    """Host functions for the socket extension. Each takes a wasmtime ``Caller`` first (addresses,
    options and name lookups are in ``sockinfo.SocketQueries``)."""

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
            child.fault_keys = inbound_keys(gs.guest_addr[1])
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
            gs.fault_keys = outbound_keys(self.names.virtual.get(ip, ip), port, host, real_port)
            if self.faults.active and self.faults.refuses(gs.fault_keys):
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
        if gs.reset or (self.faults.active and gs.fault_keys):
            self.fault_io.before(gs)
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
        if gs.reset or (self.faults.active and gs.fault_keys):
            self.fault_io.before(gs)
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
