"""Pure clock waits in poll_oneoff (what sleep(), nanosleep() and timers use)."""

from __future__ import annotations

import re

from pytest_wasmcontainers.runtime import RunSpec, Runtime

from .conftest import c_guest


def test_relative_and_absolute_sleeps_last_as_long_as_asked(runtime: Runtime) -> None:
    proc = runtime.start(RunSpec(c_guest("clock"), ["clock"]))
    assert proc.wait(10) == 0, proc.logs()
    took = {k: int(v) for k, v in re.findall(r"(relative|absolute) (\d+)", proc.logs())}
    assert 50 <= took["relative"] < 5000, proc.logs()
    assert 80 <= took["absolute"] < 5000, proc.logs()
