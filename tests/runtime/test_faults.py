"""The fault rules themselves: what they match, their checks, and that a seed repeats a run."""

from __future__ import annotations

import pytest

from pytest_wasmcontainers.runtime import RunSpec, Runtime, errno
from pytest_wasmcontainers.runtime.faults import Fault, Faults

from .conftest import c_guest


def test_rules_match_by_name_by_host_port_and_by_guest_port() -> None:
    assert Fault(link="db").matches(("out", "db", 3306))
    assert Fault(link="DB.").matches(("out", "db", 5432))
    assert not Fault(link="db").matches(("out", "cache", 3306))
    assert Fault(link="127.0.0.1:3306").matches(("out", "127.0.0.1", 3306))
    assert not Fault(link="127.0.0.1:3306").matches(("out", "127.0.0.1", 3307))
    assert Fault(port=8080).matches(("in", "", 8080))
    assert not Fault(port=8080).matches(("out", "db", 8080))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "exactly one of link= .* or port="),
        ({"link": "db", "port": 1}, "exactly one of"),
        ({"link": "db", "latency": 0.1, "jitter": 0.2}, "jitter at most the latency"),
        ({"link": "db", "drop": 1.5}, "drop is a probability"),
        ({"link": "db", "bandwidth": 0}, "bytes per second"),
        ({"port": 80, "reset_after": -1}, "reset_after is a byte count"),
    ],
)
def test_bad_rules_say_what_is_wrong(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Fault(**kwargs)  # type: ignore[arg-type]


def test_a_seed_repeats_the_same_drops_and_delays() -> None:
    def run(seed: int) -> list[object]:
        f = Fault(link="db", drop=0.5, latency=0.1, jitter=0.05, seed=seed)
        return [(f.rng.random() < f.drop, round(f.delay(100), 6)) for _ in range(50)]

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_bandwidth_holds_a_write_for_its_size() -> None:
    assert Fault(link="db", bandwidth=64_000).delay(32_000) == pytest.approx(0.5)


def test_the_newest_rule_wins_and_ends_with_its_block() -> None:
    faults = Faults()
    outer = faults.add(Fault(link="db", latency=0.1))
    with faults.add(Fault(link="db", partition=True)) as inner:
        assert faults.match(("out", "db", 3306)) is inner
    assert faults.match(("out", "db", 3306)) is outer
    outer.clear()
    assert not faults.active and faults.match(("out", "db", 3306)) is None


def test_mode_hang_needs_a_partition_and_a_known_mode() -> None:
    with pytest.raises(ValueError, match="give partition=True with it"):
        Fault(link="db", mode="hang")
    with pytest.raises(ValueError, match="mode is 'refuse' or 'hang'"):
        Fault(link="db", partition=True, mode="drop")


class _Gate:
    """A name-table entry that answers once the test has added its fault (the guest dials at once)."""

    def __init__(self, port: int) -> None:
        import threading

        self.port, self.open = port, threading.Event()

    def resolve(self, port: int) -> tuple[str, int]:
        self.open.wait(30)
        return "127.0.0.1", self.port


def test_a_hung_connect_never_completes_and_the_guest_still_stops(runtime: Runtime) -> None:
    import socket
    import time

    server = socket.create_server(("127.0.0.1", 0))
    gate = _Gate(server.getsockname()[1])
    try:
        proc = runtime.start(
            RunSpec(c_guest("client"), ["client", "db", "5000", "hello"], hosts={"db": gate})
        )
        proc.faults.add(Fault(link="db", partition=True, mode="hang"))
        gate.open.set()
        time.sleep(1.0)
        assert proc.running, proc.logs()  # still connecting: nothing refused, nothing sent
        server.settimeout(0.1)
        with pytest.raises(TimeoutError):
            server.accept()
        assert proc.stop(5) == 137
    finally:
        server.close()


def test_refused_connect_reaches_the_guest_as_econnrefused(runtime: Runtime) -> None:
    import socket

    server = socket.create_server(("127.0.0.1", 0))
    gate = _Gate(server.getsockname()[1])
    try:
        proc = runtime.start(
            RunSpec(c_guest("client"), ["client", "db", "5000", "hello"], hosts={"db": gate})
        )
        proc.faults.add(Fault(link="db", partition=True))
        gate.open.set()
        assert proc.wait(10) not in (None, 0), proc.logs()
        assert f"connect: error {errno.CONNREFUSED}\n" in proc.logs(), proc.logs()
    finally:
        server.close()


def test_a_guest_path_with_a_nul_byte_is_inval_not_a_host_error() -> None:
    # found by tests/reliability/test_fuzz.py: os.* raises ValueError for such a path
    from pytest_wasmcontainers.runtime.runtime import _errnos

    def nul(_caller: object, *_args: int) -> int:
        raise ValueError("embedded null byte")

    def other(_caller: object, *_args: int) -> int:
        raise ValueError("something else")

    assert _errnos(nul, lambda: None)(None) == errno.INVAL
    with pytest.raises(ValueError, match="something else"):
        _errnos(other, lambda: None)(None)
