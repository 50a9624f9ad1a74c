"""The benchmark guest, built from ``benchmarks/guests/http_ok.c`` by the tests' toolchain helper
(zig from the ``ziglang`` wheel; cached by content, never committed)."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SOURCE = REPO / "benchmarks" / "guests" / "http_ok.c"


def _build_c():  # type: ignore[no-untyped-def]
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from tests.support.toolchains import build_c

    return build_c


def wasmedge_form() -> Path:
    """Opens its own listener with the WasmEdge socket ABI (PORT env var, default 8080)."""
    return Path(_build_c()(SOURCE))


def preopened_form() -> Path:
    """Serves the listener the host passes as fd 3."""
    return Path(_build_c()(SOURCE, flags=("-O2", "-DPREOPENED")))
