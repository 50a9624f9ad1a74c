"""Docker healthchecks in compose's spelling (``test``, ``interval: 1s``, ...) turned into the API's."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

_UNITS_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")


def parse_duration(value: str | float, what: str = "duration") -> int:
    """A Go/compose duration (``1m30s``, ``500ms``) or a number of seconds, as nanoseconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value * 1_000_000_000)
    text = str(value).strip()
    pos, total = 0, 0.0
    for m in _PART.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS_NS[m.group(2)]
        pos = m.end()
    if not text or pos != len(text):
        raise ValueError(f"{what}: {value!r} is not a duration; write e.g. '1s', '500ms' or '1m30s'")
    return int(total)


def docker_healthcheck(spec: Mapping[str, Any] | Sequence[str] | str) -> dict[str, Any]:
    """Compose-style healthcheck -> the Engine API's ``Healthcheck`` object.

    Accepts ``{"test": [...], "interval": "1s", "timeout": ..., "retries": n, "start_period": ...}``,
    a bare test list (``["CMD", "pg_isready"]``) or a shell string (run with ``CMD-SHELL``).
    """
    if isinstance(spec, str) or not isinstance(spec, Mapping):
        spec = {"test": spec}
    unknown = set(spec) - {
        "test",
        "interval",
        "timeout",
        "retries",
        "start_period",
        "start_interval",
        "disable",
    }
    if unknown:
        raise ValueError(f"healthcheck: unsupported key(s) {sorted(unknown)}")
    if spec.get("disable"):
        return {"Test": ["NONE"]}
    test = spec.get("test")
    if isinstance(test, str):
        test = ["CMD-SHELL", test]
    if not test or not isinstance(test, (list, tuple)) or test[0] not in ("CMD", "CMD-SHELL", "NONE"):
        raise ValueError(
            f"healthcheck: test must be a shell string or a list starting with CMD, CMD-SHELL or NONE, "
            f"not {test!r}"
        )
    # start_interval is accepted but not sent: daemons older than API 1.44 reject it.
    out: dict[str, Any] = {"Test": [str(t) for t in test]}
    for key, api in (("interval", "Interval"), ("timeout", "Timeout"), ("start_period", "StartPeriod")):
        if spec.get(key) is not None:
            out[api] = parse_duration(spec[key], f"healthcheck {key}")
    if spec.get("retries") is not None:
        out["Retries"] = int(spec["retries"])
    return out
