"""``wasi:clocks``: the host's monotonic and wall clocks; timers are pollables with a deadline."""

from __future__ import annotations

import time
from typing import Any

from .host import Interface
from .io import Pollable


def now() -> int:
    return time.monotonic_ns()


def resolution() -> int:
    return 1


def subscribe_instant(when: int) -> Pollable:
    return Pollable(deadline=when)


def subscribe_duration(when: int) -> Pollable:
    return Pollable(deadline=time.monotonic_ns() + when)


def wall_now() -> dict[str, Any]:
    ns = time.time_ns()
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
