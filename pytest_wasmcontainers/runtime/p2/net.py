"""``wasi:sockets`` shared parts: network, instance-network, ip-name-lookup, the socket factories,
error codes and address conversion.

A container's sockets are really on the host's loopback: a guest that binds port P listens at the
host port the container's ``PortMap`` gives P, and a guest's connect goes where ``network.route``
sends it (the name table's services, the container's own mapped ports). The guest keeps seeing its
own addresses: what it bound and what it dialled.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
import threading
import weakref
from typing import Any

from ..network import PortMap
from .cabi import Err
from .context import current
from .host import Interface
from .io import IoError, Pollable, always, failed

_CODES = {
    errno.EWOULDBLOCK: "would-block",
    errno.EAGAIN: "would-block",
    errno.EINTR: "would-block",
    errno.EPERM: "access-denied",
    errno.EACCES: "access-denied",
    errno.EADDRINUSE: "address-in-use",
    errno.EADDRNOTAVAIL: "address-not-bindable",
    errno.EALREADY: "concurrency-conflict",
    errno.ETIMEDOUT: "timeout",
    errno.ECONNREFUSED: "connection-refused",
    errno.ECONNRESET: "connection-reset",
    errno.ECONNABORTED: "connection-aborted",
    errno.EINVAL: "invalid-argument",
    errno.EHOSTUNREACH: "remote-unreachable",
    errno.EHOSTDOWN: "remote-unreachable",
    errno.ENETDOWN: "remote-unreachable",
    errno.ENETUNREACH: "remote-unreachable",
    errno.EISCONN: "invalid-state",
    errno.ENOTCONN: "invalid-state",
    errno.EDESTADDRREQ: "invalid-state",
    errno.ENFILE: "new-socket-limit",
    errno.EMFILE: "new-socket-limit",
    errno.EMSGSIZE: "datagram-too-large",
    errno.ENOMEM: "out-of-memory",
    errno.ENOBUFS: "out-of-memory",
    errno.EOPNOTSUPP: "not-supported",
    errno.ENOPROTOOPT: "not-supported",
    errno.EPFNOSUPPORT: "not-supported",
    errno.EPROTONOSUPPORT: "not-supported",
    errno.EPROTOTYPE: "not-supported",
    errno.ESOCKTNOSUPPORT: "not-supported",
    errno.EAFNOSUPPORT: "not-supported",
}
# Linux reports a pending network error of the new socket from accept(): wasmtime normalizes it
ACCEPT_ABORTED = frozenset(
    {
        errno.ECONNRESET,
        errno.ENETRESET,
        errno.EHOSTUNREACH,
        errno.EHOSTDOWN,
        errno.ENETDOWN,
        errno.ENETUNREACH,
        errno.EPROTO,
        errno.ENOPROTOOPT,
        getattr(errno, "ENONET", -1),
        errno.EOPNOTSUPP,
    }
)


def code_of(exc: OSError | int) -> str:
    """wasmtime's error-code for a host error."""
    n = exc if isinstance(exc, int) else exc.errno
    return _CODES.get(n or 0, "unknown")


def err(exc: OSError | int) -> Err:
    return Err(code_of(exc))


def stream_failed(exc: OSError) -> Err:
    """A stream's last-operation-failed, with the sockets code ``network-error-code`` reports."""
    return failed(str(exc), code_of(exc), "sockets")


def network_error_code(error: IoError) -> str | None:
    return error.code if error.kind == "sockets" and isinstance(error.code, str) else None


# ---- addresses -----------------------------------------------------------------------------------
Addr = tuple[str, int]
"""(ip, port) as Python's socket module spells them."""


def ip_text(addr: Any) -> str:
    """``ip-address`` -> text."""
    case, parts = addr
    if case == "ipv4":
        return ".".join(str(p) for p in parts)
    return str(ipaddress.IPv6Address(b"".join(int(p).to_bytes(2, "big") for p in parts)))


def ip_value(ip: str) -> tuple[str, tuple[int, ...]]:
    """text -> ``ip-address``."""
    a = ipaddress.ip_address(ip)
    if isinstance(a, ipaddress.IPv4Address):
        return "ipv4", tuple(a.packed)
    raw = a.packed
    return "ipv6", tuple(int.from_bytes(raw[i : i + 2], "big") for i in range(0, 16, 2))


def sockaddr(addr: Any) -> tuple[str, Addr]:
    """``ip-socket-address`` -> (family, (ip, port))."""
    case, rec = addr
    return case, (ip_text((case, rec["address"])), int(rec["port"]))


def sockaddr_value(family: str, ip: str, port: int) -> tuple[str, dict[str, Any]]:
    """(ip, port) -> ``ip-socket-address`` of ``family``: an IPv4 host address is shown to an IPv6
    socket as the IPv6 loopback or an IPv4-mapped address (host sockets are IPv4 underneath)."""
    a = ipaddress.ip_address(ip.split("%", 1)[0])
    if family == "ipv6" and isinstance(a, ipaddress.IPv4Address):
        a = ipaddress.IPv6Address("::1") if a.is_loopback else ipaddress.IPv6Address(f"::ffff:{a}")
    elif family == "ipv4" and isinstance(a, ipaddress.IPv6Address):
        a = a.ipv4_mapped or ipaddress.IPv4Address("127.0.0.1")
    case, parts = ip_value(str(a))
    if case == "ipv4":
        return "ipv4", {"port": port, "address": parts}
    return "ipv6", {"port": port, "flow-info": 0, "address": parts, "scope-id": 0}


def check_family(family: str, addr_family: str, ip: str) -> None:
    """wasmtime's is_valid_address_family: no IPv4-mapped or -compatible addresses on IPv6."""
    if family != addr_family:
        raise Err("invalid-argument")
    if family == "ipv6":
        a = ipaddress.IPv6Address(ip)
        compat = a.packed[:12] == bytes(12) and not (a.is_unspecified or a.is_loopback)
        if a.ipv4_mapped is not None or compat:
            raise Err("invalid-argument")


def check_unicast(ip: str) -> None:
    a = ipaddress.ip_address(ip)
    if isinstance(a, ipaddress.IPv6Address) and a.ipv4_mapped is not None:
        a = a.ipv4_mapped
    if a.is_multicast or (
        isinstance(a, ipaddress.IPv4Address) and a == ipaddress.IPv4Address("255.255.255.255")
    ):
        raise Err("invalid-argument")


def check_remote(ip: str, port: int) -> None:
    if ipaddress.ip_address(ip).is_unspecified or port == 0:
        raise Err("invalid-argument")


def host_family(ip: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in ip else socket.AF_INET


# ---- socket options, as wasmtime sets them ----------------------------------------------------------
MAX_I32 = 2**31 - 1


class SocketOptions:
    """The options TCP and UDP sockets share, on the host socket ``sock``."""

    sock: socket.socket

    def _usable(self) -> None:
        """Raise when the socket is in no state to have options (TCP: connecting, closed)."""

    def _get(self, level: int, opt: int) -> int:
        self._usable()
        try:
            return int(self.sock.getsockopt(level, opt))
        except OSError as exc:
            raise err(exc) from None

    def _set(self, level: int, opt: int, value: int) -> None:
        if value == 0:  # WIT: 0 is invalid-argument for each of them
            raise Err("invalid-argument")
        self._usable()
        try:
            self.sock.setsockopt(level, opt, value)
        except OSError as exc:
            if exc.errno != errno.ENOBUFS:  # a buffer size is a hint (wasmtime: even ENOBUFS is ok)
                raise err(exc) from None

    def _hop(self) -> tuple[int, int]:
        if self.sock.family == socket.AF_INET6:
            return socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS
        return socket.IPPROTO_IP, socket.IP_TTL

    def hop_limit(self) -> int:
        return min(self._get(*self._hop()), 255)

    def set_hop_limit(self, value: int) -> None:
        self._set(*self._hop(), value)

    def receive_buffer_size(self) -> int:
        return self._get(socket.SOL_SOCKET, socket.SO_RCVBUF) // 2  # Linux reports it doubled

    def set_receive_buffer_size(self, value: int) -> None:
        self._set(socket.SOL_SOCKET, socket.SO_RCVBUF, min(value, MAX_I32))

    def send_buffer_size(self) -> int:
        return self._get(socket.SOL_SOCKET, socket.SO_SNDBUF) // 2

    def set_send_buffer_size(self, value: int) -> None:
        self._set(socket.SOL_SOCKET, socket.SO_SNDBUF, min(value, MAX_I32))


# ---- guest ports in use ----------------------------------------------------------------------------
# A container's guest port is bound once per protocol, as on one host: the real binds are on
# different (ephemeral) host ports, so the host itself would not refuse the second.
_bound: weakref.WeakKeyDictionary[PortMap, set[tuple[str, int]]] = weakref.WeakKeyDictionary()
_bound_lock = threading.Lock()


def claim_port(ports: PortMap, proto: str, port: int) -> None:
    with _bound_lock:
        taken = _bound.setdefault(ports, set())
        if (proto, port) in taken:
            raise Err("address-in-use")
        taken.add((proto, port))


def release_port(ports: PortMap, proto: str, port: int) -> None:
    with _bound_lock:
        _bound.get(ports, set()).discard((proto, port))


def bind_host(sock: socket.socket, ports: PortMap, proto: str, ip: str, port: int) -> tuple[Addr, int | None]:
    """Bind ``sock`` for a guest's bind to (ip, port): really 127.0.0.1 at the mapped host port.
    Returns the guest's local address (its port: the host's when it asked for any) and the guest
    port claimed (to release when the socket closes)."""
    if port:
        claim_port(ports, proto, port)
    try:
        if proto == "tcp":  # as wasmtime: TIME_WAIT of a closed socket must not block a bind
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", ports.host_port_for_bind(port)))
    except OSError as exc:
        if port:
            release_port(ports, proto, port)
        raise Err("invalid-argument" if exc.errno == errno.EAFNOSUPPORT else code_of(exc)) from None
    if port:
        return (ip, port), port
    real = int(sock.getsockname()[1])
    try:  # an ephemeral port seen as the guest's: claimed unless the guest bound it already
        claim_port(ports, proto, real)
    except Err:
        return (ip, real), None
    return (ip, real), real


# ---- network, lookups ------------------------------------------------------------------------------
class Network:
    """The capability to use the network; nothing to keep."""


def instance_network() -> Network:
    return Network()


_BAD_NAME_CHARS = frozenset(" \t\r\n#%/:<>?@[\\]^|")


class ResolveAddressStream:
    def __init__(self, name: str) -> None:
        self.addresses: list[str] | None = None
        self.error: str | None = None
        self.done = threading.Event()
        names = current().names
        key = name.lower().rstrip(".")
        if key in names.addresses or _literal(key):
            self._lookup(names.lookup, key)
        else:  # the host's resolver may take long: the guest polls meanwhile (and can be stopped)
            threading.Thread(target=self._lookup, args=(names.lookup, key), daemon=True).start()

    def _lookup(self, lookup: Any, name: str) -> None:
        try:
            self.addresses = lookup(name)
        except socket.gaierror as exc:
            self.error = (
                "temporary-resolver-failure" if exc.errno == socket.EAI_AGAIN else "name-unresolvable"
            )
        except (OSError, UnicodeError):
            self.error = "name-unresolvable"
        self.done.set()

    def resolve_next_address(self) -> Any:
        if not self.done.is_set():
            raise Err("would-block")
        if self.error is not None:
            raise Err(self.error)
        assert self.addresses is not None
        return ip_value(self.addresses.pop(0)) if self.addresses else None

    def subscribe(self) -> Pollable:
        return always() if self.done.is_set() else Pollable(check=self.done.is_set)


def _literal(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
        return True
    except ValueError:
        return False


def resolve_addresses(network: Network, name: str) -> ResolveAddressStream:
    # as wasmtime's url::Host::parse: an IP literal (IPv6 with or without brackets) or a domain
    if _literal(name):
        name = name.strip("[]")
    else:
        if not name or any(c in _BAD_NAME_CHARS for c in name):
            raise Err("invalid-argument")
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError:
            raise Err("invalid-argument") from None
    stream = ResolveAddressStream(name)
    if stream.done.is_set() and stream.error is not None:  # surfaced at once, as wasmtime does
        raise Err(stream.error)
    return stream


def create_tcp_socket(address_family: str) -> Any:
    from .tcp import TcpSocket

    return TcpSocket(address_family)


def create_udp_socket(address_family: str) -> Any:
    from .udp import UdpSocket

    return UdpSocket(address_family)


INTERFACES = (
    Interface(
        "wasi:sockets/network",
        resources={"network": Network},
        funcs={"network-error-code": network_error_code},
    ),
    Interface("wasi:sockets/instance-network", funcs={"instance-network": instance_network}),
    Interface(
        "wasi:sockets/ip-name-lookup",
        resources={"resolve-address-stream": ResolveAddressStream},
        funcs={"resolve-addresses": resolve_addresses},
    ),
    Interface("wasi:sockets/tcp-create-socket", funcs={"create-tcp-socket": create_tcp_socket}),
    Interface("wasi:sockets/udp-create-socket", funcs={"create-udp-socket": create_udp_socket}),
)
