"""wasi:sockets (TCP, UDP, ip-name-lookup) of component guests built from tests/guests/py/sock_*.

The guests drive the socket bindings directly; the tests talk to them from the host through the
container's port map and name table, as a user's test would.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

from pytest_wasmcontainers.runtime import RunSpec, Runtime
from pytest_wasmcontainers.runtime.spec import Endpoint, StaticEndpoint
from tests.support.components import GUESTS, build_py


class Guest:
    """One running command component (through the runtime), with its port map and log."""

    def __init__(
        self,
        runtime: Runtime,
        app: str,
        args: list[str],
        ports: Mapping[int, int | None],
        hosts: Mapping[str, Endpoint],
    ):
        wasm = build_py(GUESTS / "py" / app, "command")
        self.proc = runtime.start(RunSpec(wasm, [app, *args], ports=ports, hosts=hosts, name=app))
        self.ports = self.proc._ports
        self.log = self.proc._log

    @property
    def error(self) -> str | None:
        return self.proc.error

    def stdout(self) -> str:
        return self.proc.stdout()

    def port(self, guest_port: int, timeout: float = 60) -> int:
        """The host port of the guest's listener on ``guest_port``."""
        found = self.proc.wait_listening(guest_port, timeout)
        assert found is not None, f"no listener on {guest_port}: {self.error}\n{self.proc.logs()}"
        return found

    def wait_output(self, text: str, count: int = 1, timeout: float = 30) -> str:
        """stdout once ``text`` was printed ``count`` times."""
        end = time.monotonic() + timeout
        while (out := self.stdout()).count(text) < count:
            assert self.proc.running and time.monotonic() < end, (
                f"{text!r} not printed: {self.error}\n{self.proc.logs()}"
            )
            time.sleep(0.005)
        return out

    def join(self, timeout: float = 60) -> str:
        self.proc.wait(timeout)
        assert not self.proc.running, "the guest did not end"
        return self.stdout()

    def halt(self) -> int:
        """Stop the guest (it must end: stop() wakes every wait); its exit code."""
        code = self.proc.stop(10)
        assert not self.proc.running, "the guest did not stop"
        return code


@pytest.fixture
def start(runtime: Runtime) -> Iterator[Callable[..., Guest]]:
    """``start(app, *args, ports={guest: host}, hosts={name: endpoint})`` runs a guest."""
    guests: list[Guest] = []

    def run(
        app: str,
        *args: Any,
        ports: Mapping[int, int | None] | None = None,
        hosts: Mapping[str, Endpoint] | None = None,
    ) -> Guest:
        g = Guest(runtime, app, [str(a) for a in args], ports or {}, hosts or {})
        guests.append(g)
        return g

    yield run
    for g in guests:
        g.proc.stop(10)


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def echo(port: int, payload: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
        c.sendall(payload)
        c.shutdown(socket.SHUT_WR)
        got = b""
        while chunk := c.recv(65536):
            got += chunk
        return got


# ---- TCP -------------------------------------------------------------------------------------
def test_tcp_echo_on_an_ephemeral_host_port(start: Callable[..., Guest]) -> None:
    g = start("sock_tcp", "server", 8080)
    port = g.port(8080)
    assert port != 8080 or g.ports.fixed.get(8080)
    assert echo(port, b"hello") == b"hello"
    big = bytes(range(256)) * 4096  # 1 MiB: more than one read, writes that wait on the peer
    assert echo(port, big) == big
    out = g.wait_output("closed\n", 2)
    # the guest sees what it bound, not the host's port
    assert "listening 0.0.0.0:8080\n" in out
    assert "accepted local=127.0.0.1:8080 remote=127.0.0.1:" in out


def test_tcp_listener_on_a_fixed_host_port(start: Callable[..., Guest]) -> None:
    fixed = free_port()
    g = start("sock_tcp", "server", 8080, ports={8080: fixed})
    assert g.port(8080) == fixed
    assert echo(fixed, b"fixed") == b"fixed"


def test_tcp_guest_port_zero_is_the_host_port(start: Callable[..., Guest]) -> None:
    g = start("sock_tcp", "server", 0)
    out = g.wait_output("listening ")
    guest_port = int(out.split("listening 0.0.0.0:")[1].split()[0])
    assert guest_port != 0
    assert g.port(guest_port) == guest_port
    assert echo(guest_port, b"zero") == b"zero"


def test_two_servers_on_one_guest_port_do_not_clash(start: Callable[..., Guest]) -> None:
    a, b = start("sock_tcp", "server", 8080), start("sock_tcp", "server", 8080)
    pa, pb = a.port(8080), b.port(8080)
    assert pa != pb
    assert echo(pa, b"to a") == b"to a"
    assert echo(pb, b"to b") == b"to b"
    assert "accepted" in a.wait_output("closed") and "accepted" in b.wait_output("closed")


def test_concurrent_connections_are_served(start: Callable[..., Guest]) -> None:
    g = start("sock_tcp", "server", 8080)
    port = g.port(8080)
    conns = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(3)]
    try:
        for i, c in enumerate(conns):
            c.sendall(b"msg %d" % i)
        for i, c in enumerate(conns):
            got = b""
            while len(got) < 5:
                got += c.recv(100)
            assert got == b"msg %d" % i
    finally:
        for c in conns:
            c.close()


def test_ipv6_listener_sees_ipv6_addresses(start: Callable[..., Guest]) -> None:
    g = start("sock_tcp", "server", 8081, "ipv6")
    assert echo(g.port(8081), b"six") == b"six"
    out = g.wait_output("closed")
    assert "listening [0:0:0:0:0:0:0:0]:8081\n" in out
    assert "accepted local=[0:0:0:0:0:0:0:1]:8081 remote=[0:0:0:0:0:0:0:1]:" in out


def test_client_connects_to_a_name_of_the_name_table(start: Callable[..., Guest]) -> None:
    server = socket.create_server(("127.0.0.1", 0))
    real = server.getsockname()[1]
    seen: list[bytes] = []

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            data = b""
            while chunk := conn.recv(100):
                data += chunk
            seen.append(data)
            conn.sendall(data.upper())

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        g = start(
            "sock_tcp",
            "client",
            "peer",
            80,
            "hi there",
            hosts={"peer": StaticEndpoint("127.0.0.1", {80: real})},
        )
        out = g.join()
    finally:
        server.close()
    assert g.error is None, g.log.combined.text()
    assert seen == [b"hi there"]
    # the guest sees the virtual address it resolved and dialled, not the service's real one
    assert "resolved 127.77.0.1\n" in out
    assert "connected remote=127.77.0.1:80\n" in out
    assert "reply HI THERE\n" in out


def test_client_reaches_another_container_by_name(start: Callable[..., Guest]) -> None:
    server = start("sock_tcp", "server", 9000)
    port = server.port(9000)
    client = start(
        "sock_tcp",
        "client",
        "echo",
        9000,
        "via name",
        hosts={"echo": StaticEndpoint("127.0.0.1", {9000: port})},
    )
    assert "reply via name\n" in client.join()


def test_state_machine_error_codes(start: Callable[..., Guest]) -> None:
    g = start("sock_tcp", "errors", free_port())
    out = g.join()
    assert g.error is None, g.log.combined.text()
    assert out == "".join(
        line + "\n"
        for line in [
            "default.finish-bind=not-in-progress",
            "default.start-listen=invalid-state",
            "default.finish-connect=not-in-progress",
            "default.finish-listen=not-in-progress",
            "default.accept=invalid-state",
            "default.local-address=invalid-state",
            "default.remote-address=invalid-state",
            "default.shutdown=invalid-state",
            "bind.wrong-family=invalid-argument",
            "bind.multicast=invalid-argument",
            "backlog.zero=invalid-argument",
            "keepalive-count.zero=invalid-argument",
            "keepalive-idle.zero=invalid-argument",
            "hop-limit.zero=invalid-argument",
            "recv-buffer.zero=invalid-argument",
            "hop-limit.set=ok,42",
            "keepalive.set=ok,True",
            "keepalive-idle.set=ok,30000000000",
            "recv-buffer.set=ok,True",
            "bind=ok",
            "bind.again=invalid-state",
            "bound.local-address-before-finish=invalid-state",
            "finish-bind=ok",
            "finish-bind.again=not-in-progress",
            "bound.local-address=0.0.0.0:7001",
            "bound.finish-listen=not-in-progress",
            "start-listen=ok",
            "start-listen.again=invalid-state",
            "finish-listen=ok",
            "listening=True",
            "listening.accept=would-block",
            "listening.connect=invalid-state",
            "listening.backlog=ok",
            "bind.in-use=address-in-use",
            "connect.unspecified=invalid-argument",
            "connect.port-zero=invalid-argument",
            "connect.wrong-family=invalid-argument",
            "connect.refused=ok",
            "connecting.connect=concurrency-conflict",
            "connecting.bind=invalid-state",
            "finish-connect=connection-refused",
            "failed.finish-connect=not-in-progress",
            "failed.local-address=invalid-state",
            "failed.connect=invalid-state",
            "lookup.empty=invalid-argument",
            "lookup.bad=invalid-argument",
            "lookup.ipv6-literal=IpAddress_Ipv6(value=(0, 0, 0, 0, 0, 0, 0, 1)),None",
            "self.connected=127.0.0.1:7001",
            "self.finish-connect.again=not-in-progress",
            "self.bind=invalid-state",
            "self.accepted.local=127.0.0.1:7001",
            "self.read=ping",
            "self.eof=StreamError_Closed",
            "self.write-after-shutdown=StreamError_Closed",
            "done",
        ]
    )
    # every host socket is closed and every guest port released when the guest ends
    assert g.ports.listening == {}


def test_stop_ends_a_guest_blocked_in_accept(start: Callable[..., Guest]) -> None:
    g = start("sock_tcp", "server", 8080)
    port = g.port(8080)
    time.sleep(0.05)  # into poll
    assert g.halt() == 137
    with pytest.raises(OSError):  # the listener is closed
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    assert g.ports.listening == {}


def test_stop_ends_a_guest_blocked_in_a_read(start: Callable[..., Guest]) -> None:
    server = socket.create_server(("127.0.0.1", 0))
    real = server.getsockname()[1]
    try:
        g = start(
            "sock_tcp",
            "client",
            "peer",
            80,
            "never answered",
            hosts={"peer": StaticEndpoint("127.0.0.1", {80: real})},
        )
        conn, _ = server.accept()
        with conn:
            assert conn.recv(100) == b"never answered"
            time.sleep(0.05)  # the guest waits in blocking-read for a reply that does not come
            assert g.halt() == 137
            assert conn.recv(100) == b""  # its socket was closed
    finally:
        server.close()


# ---- UDP -------------------------------------------------------------------------------------
def test_udp_echo(start: Callable[..., Guest]) -> None:
    g = start("sock_udp", "server", 5353)
    port = g.port(5353)
    assert "bound 0.0.0.0:5353\n" in g.wait_output("bound")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(10)
        for msg in (b"one", b"two", bytes(60000)):
            s.sendto(msg, ("127.0.0.1", port))
            data, src = s.recvfrom(65536)
            assert (data, src) == (msg, ("127.0.0.1", port))


def test_udp_client_by_name_sees_the_address_it_sent_to(start: Callable[..., Guest]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
        server.bind(("127.0.0.1", 0))
        server.settimeout(30)
        real = server.getsockname()[1]
        g = start(
            "sock_udp",
            "client",
            "peer",
            53,
            "question",
            hosts={"peer": StaticEndpoint("127.0.0.1", {53: real})},
        )
        data, src = server.recvfrom(100)
        assert data == b"question"
        server.sendto(b"answer", src)
        out = g.join()
    assert "remote=127.77.0.1:53\n" in out
    assert "reply answer from=127.77.0.1:53\n" in out


def test_udp_error_codes(start: Callable[..., Guest]) -> None:
    g = start("sock_udp", "errors")
    out = g.join()
    assert g.error is None, g.log.combined.text()
    assert out == "".join(
        line + "\n"
        for line in [
            "default.finish-bind=not-in-progress",
            "default.stream=invalid-state",
            "default.local-address=invalid-state",
            "default.remote-address=invalid-state",
            "hop-limit.zero=invalid-argument",
            "bind=ok",
            "bind.again=invalid-state",
            "finish-bind=ok",
            "local-address=0.0.0.0:7002",
            "bind.in-use=address-in-use",
            "stream.unspecified=invalid-argument",
            "unconnected.remote-address=invalid-state",
            "send.no-address=invalid-argument",
            "send.port-zero=invalid-argument",
            "send.too-large=datagram-too-large",
            "receive.nothing=0",
            "self=self",
            "done",
        ]
    )
    assert g.ports.listening == {}


def test_stop_ends_a_udp_guest_blocked_in_poll(start: Callable[..., Guest]) -> None:
    g = start("sock_udp", "server", 5353)
    g.port(5353)
    time.sleep(0.05)
    assert g.halt() == 137
