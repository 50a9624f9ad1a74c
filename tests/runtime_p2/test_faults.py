"""Network faults on a WASI 0.2 component's own connections (wasi:sockets TCP), from the same rules
as p1 guests: refused under a partition, held under latency, reset past ``reset_after``."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from pytest_wasmcontainers.runtime.faults import Fault
from tests.runtime_p2.test_sockets import Guest, start  # noqa: F401  (fixture)


class Gate:
    """A name-table entry that answers only once the test has set its faults (the guest dials at
    once on start, before the test could otherwise add a rule)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.open = threading.Event()

    def resolve(self, port: int) -> tuple[str, int]:
        self.open.wait(30)
        return "127.0.0.1", self.port


@pytest.fixture
def upper() -> Iterator[int]:
    """A host server that upper-cases what a connection sends, until the client shuts its side."""
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                data = b""
                while chunk := conn.recv(100):
                    data += chunk
                conn.sendall(data.upper())

    threading.Thread(target=serve, daemon=True).start()
    yield server.getsockname()[1]
    server.close()


def _client(start: Callable[..., Guest], gate: Gate) -> Guest:  # noqa: F811
    return start("sock_tcp", "client", "peer", 80, "hi there", hosts={"peer": gate})


def test_a_partition_refuses_the_components_connect(start: Callable[..., Guest], upper: int) -> None:  # noqa: F811
    gate = Gate(upper)
    g = _client(start, gate)
    g.proc.faults.add(Fault(link="peer", partition=True))
    gate.open.set()
    out = g.join()
    assert "connect failed connection-refused\n" in out, g.proc.logs()
    assert "reply" not in out


def test_latency_holds_the_components_reads_and_writes(start: Callable[..., Guest], upper: int) -> None:  # noqa: F811
    gate = Gate(upper)
    g = _client(start, gate)
    g.proc.faults.add(Fault(link="peer", latency=0.3))
    t0 = time.monotonic()
    gate.open.set()
    out = g.join()
    took = time.monotonic() - t0
    assert "reply HI THERE\n" in out, g.proc.logs()
    assert took >= 0.6, took  # one write and one read, each held 0.3 s


def test_a_real_host_port_rule_matches_too(start: Callable[..., Guest], upper: int) -> None:  # noqa: F811
    gate = Gate(upper)
    g = _client(start, gate)
    g.proc.faults.add(Fault(link=f"127.0.0.1:{upper}", drop=1.0, seed=3))
    gate.open.set()
    assert "connect failed connection-refused\n" in g.join(), g.proc.logs()
