"""``wasi:clocks``: the host's monotonic and wall clocks, or the container's controlled clock
(``clock.GuestClock``, shared with p1 guests); timers are pollables with a deadline."""

from __future__ import annotations

import time
from typing import Any

from .. import clock as guest_clock
from .context import current_or_none
from .host import Interface
from .io import Pollable


def _clock() -> guest_clock.GuestClock | None:
    ctx = current_or_none()
    return ctx.clock if ctx is not None else None


def now() -> int:
    clock = _clock()
    return clock.monotonic_ns() if clock is not None else time.monotonic_ns()


def resolution() -> int:
    return 1


def subscribe_instant(when: int) -> Pollable:
    return Pollable(deadline=when, clock=_clock())


def subscribe_duration(when: int) -> Pollable:
    return Pollable(deadline=now() + when, clock=_clock())


def wall_now() -> dict[str, Any]:
    clock = _clock()
    ns = clock.realtime_ns() if clock is not None else time.time_ns()
    return {"seconds": ns // 1_000_000_000, "nanoseconds": ns % 1_000_000_000}


def wall_resolution() -> dict[str, Any]:
    return {"seconds": 0, "nanoseconds": 1}


def tz_display(when: dict[str, Any]) -> dict[str, Any]:
    return {"utc-offset": 0, "name": "UTC", "in-daylight-saving-time": False}


MONOTONIC = Interface(
    "wasi:clocks/monotonic-clock",
    funcs={
        "now": now,
        "resolution": resolution,
        "subscribe-instant": subscribe_instant,
        "subscribe-duration": subscribe_duration,
    },
)
WALL = Interface("wasi:clocks/wall-clock", funcs={"now": wall_now, "resolution": wall_resolution})
# containers run in UTC, as Docker's do unless TZ is mounted
TIMEZONE = Interface("wasi:clocks/timezone", funcs={"display": tz_display, "utc-offset": lambda when: 0})
INTERFACES = (MONOTONIC, WALL, TIMEZONE)
