"""The benchmark guest, built from ``benchmarks/guests/http_ok.c`` by the tests' toolchain helper
(zig from the ``ziglang`` wheel; cached by content, never committed)."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SOURCE = REPO / "benchmarks" / "guests" / "http_ok.c"


def _build_c(*more: str) -> Path:
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from tests.support.toolchains import build_c

    return Path(build_c(SOURCE, flags=("-O2", *more)))


def wasmedge_form() -> Path:
    """Opens its own listener with the WasmEdge socket ABI (PORT env var, default 8080)."""
    return _build_c()


def preopened_form() -> Path:
    """Serves the listener the host passes as fd 3."""
    return _build_c("-DPREOPENED")
