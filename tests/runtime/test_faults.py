"""The fault rules themselves: what they match, their checks, and that a seed repeats a run."""

from __future__ import annotations

import pytest

from pytest_wasmcontainers.runtime.faults import Fault, Faults


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
