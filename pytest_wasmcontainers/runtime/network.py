"""A container's view of the network: its port map and its name table.

Port map: a guest that binds port P really listens on 127.0.0.1 at a host port (fixed when the user
mapped P, ephemeral otherwise); the guest keeps seeing P. Name table: each name in ``spec.hosts``
gets a virtual address in 127.77.0.0/16 that lookups return and connects are rewritten from.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence

from .spec import Endpoint

_log = logging.getLogger(__name__)
_VIRTUAL_BASE = int(ipaddress.IPv4Address("127.77.0.1"))


def is_local(ip: str) -> bool:
    """Addresses that mean 'this container' to a guest: wildcard and loopback."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return addr.is_unspecified or addr.is_loopback


class PortMap:
    def __init__(self, fixed: Mapping[int, int | None]) -> None:
        self.fixed = {int(g): int(h or 0) for g, h in fixed.items()}
        self.listening: dict[int, int] = {}
        """guest port -> host port, for every listener so far."""
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._callbacks: list[Callable[[int, int], None]] = []

    def host_port_for_bind(self, guest_port: int) -> int:
        return self.fixed.get(guest_port, 0)

    def add_listener(self, guest_port: int, host_port: int) -> None:
        with self._changed:
            self.listening[guest_port] = host_port
            callbacks = list(self._callbacks)
            self._changed.notify_all()
        for cb in callbacks:
            try:
                cb(guest_port, host_port)
            except Exception:  # the guest must not pay for a broken hook (it runs in its thread)
                _log.exception("on_listen callback failed for guest port %s", guest_port)

    def remove_listener(self, guest_port: int) -> None:
        with self._changed:
            self.listening.pop(guest_port, None)

    def on_listen(self, callback: Callable[[int, int], None]) -> None:
        with self._lock:
            self._callbacks.append(callback)
            current = dict(self.listening)
        for g, h in current.items():
            callback(g, h)

    def wait(self, guest_port: int, timeout: float, give_up: Callable[[], bool]) -> int | None:
        """Wait until the guest listens on ``guest_port`` (or ``give_up()``); None on timeout."""
        end = time.monotonic() + timeout
        with self._changed:
            while guest_port not in self.listening:
                left = end - time.monotonic()
                if left <= 0 or give_up():
                    return None
                self._changed.wait(min(left, 0.05))
            return self.listening[guest_port]

    def wake(self) -> None:
        with self._changed:
            self._changed.notify_all()


class NameTable:
    def __init__(self, hosts: Mapping[str, Endpoint], dns_servers: Sequence[str] = ()) -> None:
        self.hosts = {k.lower().rstrip("."): v for k, v in hosts.items()}
        self.virtual: dict[str, str] = {}
        """virtual IP -> name"""
        self.addresses: dict[str, str] = {}
        """name -> virtual IP"""
        for i, name in enumerate(sorted(self.hosts)):
            try:
                ipaddress.ip_address(name)
                continue  # an address as a key (e.g. a DNS server's): connects to it are rewritten
            except ValueError:
                pass
            ip = str(ipaddress.IPv4Address(_VIRTUAL_BASE + i))
            self.virtual[ip] = name
            self.addresses[name] = ip
        self.dns_servers = {_split_host_port(s) for s in dns_servers}

    def lookup(self, name: str) -> list[str]:
        """The addresses a guest sees for ``name``: a virtual one for table entries, else the host's
        resolver (IPv4 first)."""
        key = name.lower().rstrip(".")
        if key in self.addresses:
            return [self.addresses[key]]
        try:
            ipaddress.ip_address(key)
            return [key]
        except ValueError:
            pass
        infos = socket.getaddrinfo(key, None, proto=socket.IPPROTO_TCP)
        seen: list[str] = []
        for _fam, *_rest, sa in sorted(infos, key=lambda i: i[0] != socket.AF_INET):
            if str(sa[0]) not in seen:
                seen.append(str(sa[0]))
        return seen

    def endpoint_for(self, ip: str) -> Endpoint | None:
        name = self.virtual.get(ip)
        if name is not None:
            return self.hosts[name]
        return self.hosts.get(ip)

    def is_dns_server(self, ip: str, port: int) -> bool:
        return (ip, port) in self.dns_servers


def route(names: NameTable, ports: PortMap, ip: str, port: int) -> tuple[str, int]:
    """Where a guest's connect to (ip, port) really goes: a name-table entry's service, else this
    container's own mapped port for a local address, else the address itself."""
    endpoint = names.endpoint_for(ip)
    if endpoint is not None:
        host, real_port = endpoint.resolve(port)
        infos = socket.getaddrinfo(host, real_port, proto=socket.IPPROTO_TCP)
        infos.sort(key=lambda i: i[0] != socket.AF_INET)
        return str(infos[0][4][0]), int(infos[0][4][1])
    if is_local(ip):
        mapped = ports.listening.get(port)
        return "127.0.0.1", mapped if mapped is not None else port
    return ip, port


def _split_host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"dns server {text!r}: expected 'ip:port', e.g. '127.0.0.11:53'")
    return host.strip("[]"), int(port)
