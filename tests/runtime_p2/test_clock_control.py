"""The controlled clock in a WASI 0.2 component (wasi:clocks): the p1 clock guest made a command
component through the preview-1 adapter, so its sleeps are monotonic-clock pollables."""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone

from pytest_wasmcontainers.runtime import RunSpec, Runtime
from pytest_wasmcontainers.runtime.clock import GuestClock
from tests.runtime.test_clock_control import _lines
from tests.support.components import GUESTS, adapt
from tests.support.toolchains import build_c


def _component() -> object:
    return adapt(build_c(GUESTS / "c" / "clock_control.c"))


def test_a_components_token_expires_after_an_hour_of_its_time(runtime: Runtime) -> None:
    clock = GuestClock("frozen")
    proc = runtime.start(RunSpec(_component(), ["g", "token"], clock=clock))  # type: ignore[arg-type]
    try:
        assert _lines(proc, r"issued \d+", 1), proc.logs()
        time.sleep(0.3)
        assert "valid" not in proc.logs(), proc.logs()
        clock.advance(1)
        assert _lines(proc, r"valid at 1 s", 1) == ["valid at 1 s"], proc.logs()
        clock.advance(3599)
        assert proc.wait(10) == 0, proc.logs()
        assert "expired after 3600 s" in proc.logs()
    finally:
        proc.stop()


def test_a_components_sleeps_and_clocks_move_together(runtime: Runtime) -> None:
    clock = GuestClock("frozen")
    proc = runtime.start(RunSpec(_component(), ["g", "sleeper"], clock=clock))  # type: ignore[arg-type]
    try:
        assert _lines(proc, r"start", 1)
        time.sleep(0.2)
        clock.advance(10)
        assert _lines(proc, r"tick \d.*", 1) == ["tick 1 mono 10 wall 10"], proc.logs()
    finally:
        proc.stop()


def test_a_components_wall_clock_starts_where_asked(runtime: Runtime) -> None:
    start = datetime(2030, 1, 1, tzinfo=timezone.utc)
    proc = runtime.start(RunSpec(_component(), ["g", "now"], clock=GuestClock(start)))  # type: ignore[arg-type]
    assert proc.wait(10) == 0, proc.logs()
    seconds = int(re.findall(r"now (\d+)", proc.logs())[0])
    assert 0 <= seconds - int(start.timestamp()) < 5, proc.logs()
