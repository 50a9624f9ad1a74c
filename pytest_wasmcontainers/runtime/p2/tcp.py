"""``wasi:sockets/tcp``: wasmtime's TCP state machine over non-blocking host sockets.

States, as wasmtime's: default -> bind-started -> bound -> listen-started -> listening, or
(default | bound) -> connecting -> streaming; a failed connect or listen leaves it closed. Host
sockets are IPv4 on the host's loopback whatever the guest's family (see net.py), unless a connect
really goes to an IPv6 address. Nothing here blocks except the streams' ``blocking-*`` calls, which
wait with ``io.wait_fd`` and so end when the container stops.
"""

from __future__ import annotations

import contextlib
import errno
import select
import socket
import struct
import time
from typing import Any

from ..dnsserver import DnsConnection
from ..faults import STOPPED, Key, inbound_keys, outbound_keys, stuck_socket
from ..network import route
from . import net
from .cabi import Err
from .context import Stopped, current
from .host import Interface
from .io import CHUNK, CLOSED, InputStream, OutputStream, Pollable, always, fd_ready, wait_fd
from .net import Addr, Network, SocketOptions

_NS = 1_000_000_000
_DROP_DRAIN_S = 1.0
"""How long dropping an output stream waits for its unsent bytes (wasmtime drops them at once)."""


def _new_host_socket(family: socket.AddressFamily = socket.AF_INET) -> socket.socket:
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setblocking(False)
    return s


class TcpSocket(SocketOptions):
    def __init__(self, family: str, sock: socket.socket | None = None) -> None:
        ctx = current()
        self.ports, self.names, self.stop = ctx.ports, ctx.names, ctx.stop
        self.faults = ctx.faults
        self.fault_keys: tuple[Key, ...] = ()
        self.fault_bytes = 0
        self.stuck_peer: socket.socket | None = None
        self.family = family
        try:
            self.sock = sock if sock is not None else _new_host_socket()
        except OSError as exc:
            raise net.err(exc) from None
        self.state = "default" if sock is None else "connected"
        self.local: Addr | None = None
        """The guest's local address (what it bound); None: the host socket's."""
        self.remote: Addr | None = None
        """The address the guest dialled, or an accepted connection's peer."""
        self.claimed: int | None = None
        self.listen_port: int | None = None
        self.listen_real = 0
        self.backlog = 128
        self.connect_error: int | None = None
        self.dns: DnsConnection | None = None
        self.holders = 1
        """The socket resource and its streams: the host socket closes when all are dropped."""

    # ---- bind / connect / listen / accept ------------------------------------------------------
    def start_bind(self, network: Network, local_address: Any) -> None:
        fam, (ip, port) = net.sockaddr(local_address)
        net.check_unicast(ip)
        net.check_family(self.family, fam, ip)
        if self.state != "default":
            raise Err("invalid-state")
        self.local, self.claimed = net.bind_host(self.sock, self.ports, "tcp", ip, port)
        self.state = "bind-started"

    def finish_bind(self) -> None:
        if self.state != "bind-started":
            raise Err("not-in-progress")
        self.state = "bound"

    def start_connect(self, network: Network, remote_address: Any) -> None:
        if self.state == "connecting":
            raise Err("concurrency-conflict")
        if self.state not in ("default", "bound"):
            raise Err("invalid-state")
        fam, (ip, port) = net.sockaddr(remote_address)
        net.check_unicast(ip)
        net.check_remote(ip, port)
        net.check_family(self.family, fam, ip)
        self.remote = (ip, port)
        self.state = "connecting"
        if self.names.is_dns_server(ip, port):  # answered in-process from the name table (as p1)
            self.dns = DnsConnection(self.names.lookup, self.stop)
            self.sock.close()
            self.sock = self.dns.guest_end
            self.sock.setblocking(False)
            self.connect_error = 0
            return
        try:
            host, real_port = route(self.names, self.ports, ip, port)
        except OSError:  # a name-table service whose host does not resolve
            self.connect_error = errno.EHOSTUNREACH
            return
        self.fault_keys = outbound_keys(self.names.virtual.get(ip, ip), port, host, real_port)
        if self.faults is not None and self.faults.active and self.faults.refuses(self.fault_keys):
            self.connect_error = errno.ECONNREFUSED  # reported by finish-connect
            return
        if self.faults is not None and self.faults.active and self.faults.hangs(self.fault_keys):
            self.sock.close()
            self.sock, self.stuck_peer = stuck_socket()  # finish-connect stays would-block
            return
        if net.host_family(host) != self.sock.family and self.local is None:
            self.sock.close()
            self.sock = _new_host_socket(net.host_family(host))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as p1 guests get
        e = self.sock.connect_ex((host, real_port))
        if e not in (0, errno.EINPROGRESS, errno.EAGAIN):
            self.connect_error = e  # reported by finish-connect, as wasmtime's connect future does

    def finish_connect(self) -> tuple[TcpInput, TcpOutput]:
        if self.state != "connecting":
            raise Err("not-in-progress")
        e = self.connect_error
        if e is None:
            if not fd_ready(self.sock.fileno(), True, 0.0):
                raise Err("would-block")
            e = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if e:
            self._close()
            self.state = "closed"
            raise net.err(e)
        self.state = "connected"
        return self._streams()

    def start_listen(self) -> None:
        if self.state != "bound":
            raise Err("invalid-state")
        self.state = "listen-started"

    def finish_listen(self) -> None:
        if self.state != "listen-started":
            raise Err("not-in-progress")
        try:
            self.sock.listen(self.backlog)
        except OSError as exc:
            self._close()
            self.state = "closed"
            raise net.err(exc) from None
        self.state = "listening"
        assert self.local is not None
        self.listen_port, self.listen_real = self.local[1], int(self.sock.getsockname()[1])
        self.ports.add_listener(self.listen_port, self.listen_real)

    def accept(self) -> tuple[TcpSocket, TcpInput, TcpOutput]:
        if self.state != "listening":
            raise Err("invalid-state")
        try:
            conn, peer = self.sock.accept()
        except BlockingIOError:
            raise Err("would-block") from None
        except OSError as exc:
            raise Err("connection-aborted" if exc.errno in net.ACCEPT_ABORTED else net.code_of(exc)) from None
        conn.setblocking(False)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        child = TcpSocket(self.family, conn)
        assert self.local is not None
        ip, port = self.local
        # a wildcard listener's connection is on the loopback, seen at the guest's port
        wild = ip in ("0.0.0.0", "::")
        child.local = ("127.0.0.1" if wild and self.family == "ipv4" else "::1" if wild else ip, port)
        child.remote = (str(peer[0]), int(peer[1]))
        child.fault_keys = inbound_keys(port)
        inp, out = child._streams()
        return child, inp, out

    def fault_io(self, nbytes: int) -> None:
        """After a read or write under a fault (faults.py): hold it; a partition (either mode: a p2
        stream cannot be swapped for a stuck one) or ``reset_after`` ends the connection as reset."""
        rule = self.faults.match_any(self.fault_keys)
        if rule is None:
            return
        self.fault_bytes += nbytes
        met = rule.meet(nbytes, self.fault_bytes, self.stop)
        if met == STOPPED:
            raise Stopped("container stopped")
        if not met:
            return
        with contextlib.suppress(OSError):
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.sock.shutdown(socket.SHUT_RDWR)
        raise net.stream_failed(ConnectionResetError(errno.ECONNRESET, "connection reset (a fault)"))

    def _streams(self) -> tuple[TcpInput, TcpOutput]:
        self.state = "streaming"
        self.holders += 2
        self.input, self.output = TcpInput(self), TcpOutput(self)
        return self.input, self.output

    # ---- state ---------------------------------------------------------------------------------
    def local_address(self) -> Any:
        if self.state not in ("bound", "listening", "connected", "streaming"):
            raise Err("invalid-state")
        if self.local is not None:
            return net.sockaddr_value(self.family, *self.local)
        try:
            host, port = self.sock.getsockname()[:2]
        except OSError as exc:
            raise net.err(exc) from None
        return net.sockaddr_value(self.family, str(host), int(port))

    def remote_address(self) -> Any:
        if self.state not in ("connected", "streaming") or self.remote is None:
            raise Err("invalid-state")
        return net.sockaddr_value(self.family, *self.remote)

    def is_listening(self) -> bool:
        return self.state == "listening"

    def address_family(self) -> str:
        return self.family

    def set_listen_backlog_size(self, value: int) -> None:
        if value == 0:
            raise Err("invalid-argument")
        value = min(value, net.MAX_I32)
        if self.state == "listening":
            try:
                self.sock.listen(value)
            except OSError:
                raise Err("not-supported") from None
        elif self.state not in ("default", "bound"):
            raise Err("invalid-state")
        self.backlog = value

    # ---- options (the shared ones: net.SocketOptions) -------------------------------------------
    def _usable(self) -> None:
        if self.state in ("connecting", "closed"):
            raise Err("invalid-state")

    def keep_alive_enabled(self) -> bool:
        return bool(self._get(socket.SOL_SOCKET, socket.SO_KEEPALIVE))

    def set_keep_alive_enabled(self, value: bool) -> None:
        self._usable()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, int(value))

    def keep_alive_idle_time(self) -> int:
        return self._get(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) * _NS

    def set_keep_alive_idle_time(self, value: int) -> None:
        self._set(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, _seconds(value))

    def keep_alive_interval(self) -> int:
        return self._get(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL) * _NS

    def set_keep_alive_interval(self, value: int) -> None:
        self._set(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, _seconds(value))

    def keep_alive_count(self) -> int:
        return self._get(socket.IPPROTO_TCP, socket.TCP_KEEPCNT)

    def set_keep_alive_count(self, value: int) -> None:
        self._set(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, min(value, 127))

    # ---- readiness, shutdown, close ------------------------------------------------------------
    def _ready(self) -> bool:
        if self.state == "listening":
            return fd_ready(self.sock.fileno(), False, 0.0)
        if self.state == "connecting" and self.connect_error is None:
            return fd_ready(self.sock.fileno(), True, 0.0)
        return True

    def subscribe(self) -> Pollable:
        if self.state not in ("listening", "connecting"):  # ready unless a connect starts later
            return Pollable(check=self._ready)
        return Pollable(check=self._ready, fd=self.sock.fileno(), write=self.state == "connecting")

    def shutdown(self, shutdown_type: str) -> None:
        if self.state != "streaming":
            raise Err("invalid-state")
        if shutdown_type in ("receive", "both"):
            self.input.shut()
        if shutdown_type in ("send", "both"):
            self.output.shut()

    def _release(self) -> None:
        self.holders -= 1
        if self.holders <= 0:
            self._close()

    def drop(self) -> None:
        self._release()

    def _close(self) -> None:
        if self.listen_port is not None:
            if self.ports.listening.get(self.listen_port) == self.listen_real:
                self.ports.remove_listener(self.listen_port)
            self.listen_port = None
        if self.claimed is not None:
            net.release_port(self.ports, "tcp", self.claimed)
            self.claimed = None
        if self.dns is not None:
            self.dns.close()
        if self.stuck_peer is not None:
            self.stuck_peer.close()
        self.sock.close()


def _seconds(ns: int) -> int:
    """wasmtime's clamp of keep-alive times: 1 s to Linux's 32767 s; 0 is invalid."""
    if ns <= 0:
        raise Err("invalid-argument")
    return min(max(ns, _NS), 32767 * _NS) // _NS


class TcpInput(InputStream):
    def __init__(self, owner: TcpSocket) -> None:
        self.owner = owner
        self.sock = owner.sock
        self.closed = False

    def _read(self, n: int, block: bool) -> bytes | None:
        while not self.closed:
            try:
                data = self.sock.recv(n)
            except BlockingIOError:
                if not block:
                    return b""
                wait_fd(self.sock.fileno())
                continue
            except OSError as exc:
                self.closed = True
                raise net.stream_failed(exc) from None
            if data:
                if self.owner.fault_keys and self.owner.faults.active:
                    self.owner.fault_io(len(data))
                return data
            self.closed = True
        return None

    def _pollable(self) -> Pollable:
        if self.closed:
            return always()
        return Pollable(fd=self.sock.fileno())

    def shut(self) -> None:
        if not self.closed:
            self.closed = True
            _shutdown(self.sock, socket.SHUT_RD)

    def drop(self) -> None:
        self.owner._release()


class TcpOutput(OutputStream):
    """Writes never block: what the host socket does not take now is sent before the next write is
    allowed (``check-write`` says 0 meanwhile), as wasmtime's background write does."""

    def __init__(self, owner: TcpSocket) -> None:
        self.owner = owner
        self.sock = owner.sock
        self.pending = b""
        self.shut_pending = False

    def _push(self) -> None:
        """Send what is pending without blocking."""
        try:
            while self.pending:
                n = self.sock.send(self.pending)
                self.pending = self.pending[n:]
                if self.owner.fault_keys and self.owner.faults.active:
                    self.owner.fault_io(n)
        except BlockingIOError:
            return
        except BrokenPipeError:
            self.pending, self.closed = b"", True
            raise CLOSED from None
        except OSError as exc:
            self.pending = b""
            raise net.stream_failed(exc) from None
        if self.shut_pending:
            self.shut_pending = False
            _shutdown(self.sock, socket.SHUT_WR)

    def _drain(self) -> None:
        while self.pending:
            self._push()
            if self.pending:
                wait_fd(self.sock.fileno(), write=True)

    def check_write(self) -> int:
        if self.pending:
            self._push()
            if self.pending:
                return 0
        self._check()
        return CHUNK

    def write(self, contents: bytes) -> None:
        self._check()
        if self.pending:  # the guest did not wait for check-write: it waits here
            self._drain()
        if contents:
            self.pending = bytes(contents)
            self._push()

    def flush(self) -> None:
        self._check()
        self._push()

    def blocking_flush(self) -> None:
        self._check()
        self._drain()

    def blocking_write_and_flush(self, contents: bytes) -> None:
        self.write(contents)
        self._drain()

    def _writable(self) -> bool:
        if self.pending:
            try:
                self._push()
            except Err:
                return True  # the next call reports it
        return not self.pending

    def _pollable(self) -> Pollable:
        return Pollable(check=self._writable, fd=self.sock.fileno(), write=True)

    def shut(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.pending:
            self.shut_pending = True  # after what is pending, as wasmtime does
        else:
            _shutdown(self.sock, socket.SHUT_WR)

    def drop(self) -> None:
        end = time.monotonic() + _DROP_DRAIN_S
        stop = self.owner.stop
        while self.pending and not stop.is_set() and time.monotonic() < end:
            try:
                self._push()
                if self.pending:
                    select.select([stop.fileno()], [self.sock], [], max(0.0, end - time.monotonic()))
            except (Err, OSError, ValueError):
                break
        self.owner._release()


def _shutdown(sock: socket.socket, how: int) -> None:
    with contextlib.suppress(OSError):  # the peer went away already
        sock.shutdown(how)


INTERFACES = (Interface("wasi:sockets/tcp", resources={"tcp-socket": TcpSocket}),)
