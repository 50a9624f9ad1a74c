"""``wasi:sockets/udp``: wasmtime's UDP sockets over a non-blocking host socket on the loopback.

A "connected" socket (``stream(some(addr))``) is kept here, not in the kernel: datagrams go with
``sendto`` to where ``network.route`` sends the guest's address, and only that peer's are received.
Replies are shown from the address the guest sent to (a name-table service answers as its virtual
address, not as the host's real one).
"""

from __future__ import annotations

import socket
from typing import Any

from ..network import route
from . import net
from .cabi import Err
from .context import current
from .host import Interface
from .io import Pollable, always, fd_ready
from .net import Addr, Network, SocketOptions

MAX_DATAGRAM = 65535
"""wasmtime's MAX_UDP_DATAGRAM_SIZE."""
_PERMIT = 16


class UdpSocket(SocketOptions):
    def __init__(self, family: str) -> None:
        ctx = current()
        self.ports, self.names = ctx.ports, ctx.names
        self.family = family
        try:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        except OSError as exc:
            raise net.err(exc) from None
        self.sock.setblocking(False)
        self.state = "default"
        self.local: Addr | None = None
        self.remote: Addr | None = None
        """The guest's peer of a connected socket (its own view)."""
        self.remote_real: Addr | None = None
        self.claimed: int | None = None
        self.listed: tuple[int, int] | None = None
        self.seen: dict[Addr, Addr] = {}
        """real address -> the guest's address, of every peer the guest sent to."""
        self.holders = 1

    def start_bind(self, network: Network, local_address: Any) -> None:
        if self.state != "default":
            raise Err("invalid-state")
        fam, (ip, port) = net.sockaddr(local_address)
        net.check_family(self.family, fam, ip)
        self.local, self.claimed = net.bind_host(self.sock, self.ports, "udp", ip, port)
        real = int(self.sock.getsockname()[1])
        # a datagram socket serves from its bind on: the container's host_port() knows it now (as p1)
        self.listed = (self.local[1], real)
        self.ports.add_listener(*self.listed)
        self.state = "bind-started"

    def finish_bind(self) -> None:
        if self.state != "bind-started":
            raise Err("not-in-progress")
        self.state = "bound"

    def stream(self, remote_address: Any) -> tuple[IncomingDatagramStream, OutgoingDatagramStream]:
        if self.state not in ("bound", "connected"):
            raise Err("invalid-state")
        self.state, self.remote, self.remote_real = "bound", None, None
        if remote_address is not None:
            fam, (ip, port) = net.sockaddr(remote_address)
            net.check_family(self.family, fam, ip)
            net.check_remote(ip, port)
            self.remote, self.remote_real = (ip, port), self._route(ip, port)
            self.state = "connected"
        self.holders += 2
        return IncomingDatagramStream(self, self.remote_real), OutgoingDatagramStream(self, self.remote)

    def _route(self, ip: str, port: int) -> Addr:
        try:
            real = route(self.names, self.ports, ip, port)
        except OSError:
            raise Err("remote-unreachable") from None
        self.seen[real] = (ip, port)
        return real

    def local_address(self) -> Any:
        if self.state in ("default", "bind-started") or self.local is None:
            raise Err("invalid-state")
        return net.sockaddr_value(self.family, *self.local)

    def remote_address(self) -> Any:
        if self.state != "connected" or self.remote is None:
            raise Err("invalid-state")
        return net.sockaddr_value(self.family, *self.remote)

    def address_family(self) -> str:
        return self.family

    def unicast_hop_limit(self) -> int:
        return self.hop_limit()

    def set_unicast_hop_limit(self, value: int) -> None:
        self.set_hop_limit(value)

    def subscribe(self) -> Pollable:
        return always()  # no socket-level operation waits

    def _release(self) -> None:
        self.holders -= 1
        if self.holders > 0:
            return
        if self.listed is not None and self.ports.listening.get(self.listed[0]) == self.listed[1]:
            self.ports.remove_listener(self.listed[0])
        if self.claimed is not None:
            net.release_port(self.ports, "udp", self.claimed)
            self.claimed = None
        self.sock.close()

    def drop(self) -> None:
        self._release()


class IncomingDatagramStream:
    def __init__(self, owner: UdpSocket, peer: Addr | None) -> None:
        self.owner = owner
        self.peer = peer
        """The connected peer's real address: datagrams from others are dropped."""

    def receive(self, max_results: int) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        owner = self.owner
        while len(out) < max_results:
            try:
                data, src = owner.sock.recvfrom(MAX_DATAGRAM)
            except BlockingIOError:
                break
            except OSError as exc:
                if out:
                    break
                raise net.err(exc) from None
            real = (str(src[0]), int(src[1]))
            if self.peer is not None and real != self.peer:
                continue
            ip, port = owner.seen.get(real, real)
            out.append({"data": data, "remote-address": net.sockaddr_value(owner.family, ip, port)})
        return out

    def subscribe(self) -> Pollable:
        return Pollable(fd=self.owner.sock.fileno())

    def drop(self) -> None:
        self.owner._release()


class OutgoingDatagramStream:
    def __init__(self, owner: UdpSocket, remote: Addr | None) -> None:
        self.owner = owner
        self.remote = remote
        self.waiting = False
        """The last send would have blocked: check-send says 0 until the socket is writable."""

    def check_send(self) -> int:
        if self.waiting and not self._writable():
            return 0
        return _PERMIT

    def _writable(self) -> bool:
        if self.waiting and fd_ready(self.owner.sock.fileno(), True, 0.0):
            self.waiting = False
        return not self.waiting

    def send(self, datagrams: list[dict[str, Any]]) -> int:
        count = 0
        for d in datagrams:
            try:
                self._send_one(d)
            except BlockingIOError:
                self.waiting = True
                return count
            except (Err, OSError) as exc:
                if count:  # WIT: after one datagram is sent, send never fails
                    return count
                raise exc if isinstance(exc, Err) else net.err(exc) from None
            count += 1
        return count

    def _send_one(self, d: dict[str, Any]) -> None:
        data: bytes = d["data"]
        if len(data) > MAX_DATAGRAM:
            raise Err("datagram-too-large")
        given = d["remote-address"]
        owner = self.owner
        if given is None:
            if self.remote is None or owner.remote_real is None:
                raise Err("invalid-argument")
            owner.sock.sendto(data, owner.remote_real)
            return
        fam, (ip, port) = net.sockaddr(given)
        if self.remote is not None and (ip, port) != self.remote:
            raise Err("invalid-argument")
        net.check_remote(ip, port)
        net.check_family(owner.family, fam, ip)
        real = owner.remote_real if self.remote is not None else None
        owner.sock.sendto(data, real or owner._route(ip, port))

    def subscribe(self) -> Pollable:
        if not self.waiting:
            return always()
        return Pollable(check=self._writable, fd=self.owner.sock.fileno(), write=True)

    def drop(self) -> None:
        self.owner._release()


INTERFACES = (
    Interface(
        "wasi:sockets/udp",
        resources={
            "udp-socket": UdpSocket,
            "incoming-datagram-stream": IncomingDatagramStream,
            "outgoing-datagram-stream": OutgoingDatagramStream,
        },
    ),
)
