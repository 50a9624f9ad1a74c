"""A clock the test controls (``clock="frozen"`` or a start datetime): the guest's clock_time_get and
its poll_oneoff clock waits follow ``advance()``; realtime and monotonic move together."""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone

import pytest

from pytest_wasmcontainers.runtime import RunSpec, Runtime
from pytest_wasmcontainers.runtime.clock import GuestClock
from pytest_wasmcontainers.wait import for_log, wait_until_ready

from .conftest import c_guest


def _lines(proc: object, pattern: str, count: int, timeout: float = 10.0) -> list[str]:
    """Wait until the log has ``count`` lines matching ``pattern``; return them."""
    deadline = time.monotonic() + timeout
    while True:
        found = re.findall(pattern, proc.logs())  # type: ignore[attr-defined]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def test_a_token_expires_after_an_hour_of_guest_time(runtime: Runtime) -> None:
    clock = GuestClock("frozen")
    proc = runtime.start(RunSpec(c_guest("clock_control"), ["g", "token"], clock=clock))
    try:
        assert _lines(proc, r"issued \d+", 1), proc.logs()
        time.sleep(0.3)  # frozen: a real 0.3 s is no guest time, so its one-second sleep goes on
        assert "valid" not in proc.logs(), proc.logs()
        clock.advance(1)
        assert _lines(proc, r"valid at 1 s", 1) == ["valid at 1 s"], proc.logs()
        clock.advance(1800)
        assert _lines(proc, r"valid at 1801 s", 1), proc.logs()
        clock.advance(1799)
        assert proc.wait(10) == 0, proc.logs()
        assert "expired after 3600 s" in proc.logs()
    finally:
        proc.stop()


def test_sleeps_wake_as_due_and_both_clocks_move_together(runtime: Runtime) -> None:
    clock = GuestClock("frozen")
    proc = runtime.start(RunSpec(c_guest("clock_control"), ["g", "sleeper"], clock=clock))
    try:
        assert _lines(proc, r"start", 1)
        time.sleep(0.2)  # into its first sleep (printed just before it), whose deadline is then 10
        clock.advance(9)
        time.sleep(0.2)
        assert "tick" not in proc.logs(), proc.logs()
        clock.advance(1)
        assert _lines(proc, r"tick \d.*", 1) == ["tick 1 mono 10 wall 10"], proc.logs()
        clock.advance(25)  # the sleep to 20 wakes (at 35); the next one, to 45, waits
        assert _lines(proc, r"tick \d.*", 2) == ["tick 1 mono 10 wall 10", "tick 2 mono 35 wall 35"]
        time.sleep(0.2)
        assert "tick 3" not in proc.logs(), proc.logs()
        clock.advance(10)
        assert _lines(proc, r"tick 3.*", 1) == ["tick 3 mono 45 wall 45"], proc.logs()
    finally:
        proc.stop()


def test_an_absolute_deadline_is_in_the_guests_monotonic_time(runtime: Runtime) -> None:
    clock = GuestClock("frozen")
    proc = runtime.start(RunSpec(c_guest("clock_control"), ["g", "sleeper"], clock=clock))
    try:
        assert _lines(proc, r"start", 1)
        for i in range(1, 4):
            time.sleep(0.2)  # into the next sleep before the clock moves
            clock.advance(10)
            assert len(_lines(proc, r"tick \d", i)) == i, proc.logs()
        time.sleep(0.2)
        assert "absolute" not in proc.logs()
        clock.advance(10)
        assert proc.wait(10) == 0, proc.logs()
        assert "absolute mono 40" in proc.logs()
    finally:
        proc.stop()


def test_a_start_time_runs_from_there(runtime: Runtime) -> None:
    start = datetime(2030, 1, 1, tzinfo=timezone.utc)
    proc = runtime.start(RunSpec(c_guest("clock_control"), ["g", "now"], clock=GuestClock(start)))
    assert proc.wait(10) == 0, proc.logs()
    seconds = int(re.findall(r"now (\d+)", proc.logs())[0])
    assert 0 <= seconds - int(start.timestamp()) < 5, proc.logs()


def test_a_frozen_guest_stops_at_once(runtime: Runtime) -> None:
    proc = runtime.start(RunSpec(c_guest("clock_control"), ["g", "sleeper"], clock=GuestClock("frozen")))
    wait_until_ready(proc, for_log("start"), 10)  # type: ignore[arg-type]
    assert proc.stop(5) == 137


def test_clock_settings_say_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="give 'real', 'frozen' or a datetime"):
        GuestClock("fast")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="only moves forward"):
        GuestClock("frozen").advance(-1)
