"""The socket functions that ask or set rather than move data: local and peer addresses, socket
options and ``sock_getaddrinfo``. A part of ``sockets.Sockets``, split for size."""

from __future__ import annotations

import socket
import struct
from typing import Any

from . import addresses, errno
from .memory import put_u32, read, write
from .socktable import GuestSocket, SocketTable

AI_PASSIVE = 1
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


class SocketQueries:
    """Expects ``table``, ``names`` and ``view(caller)`` from ``Sockets``."""

    table: SocketTable
    names: Any

    def view(self, caller: Any) -> Any:
        raise NotImplementedError

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
