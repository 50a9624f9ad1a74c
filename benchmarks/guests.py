"""The benchmark guest, built from ``benchmarks/guests/http_ok.c`` by the tests' toolchain helper
(zig from the ``ziglang`` wheel; cached by content, never committed); and the tests' wasi:http
proxy component for the proxy figures."""

from __future__ import annotations

import subprocess
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


def _on_path() -> None:
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))


def proxy_component() -> Path:
    """The componentize-py wasi:http proxy of the tests (``tests/guests/py/proxy/app.py``)."""
    _on_path()
    from tests.support.components import GUESTS, build_py

    return Path(build_py(GUESTS / "py" / "proxy", "proxy"))


def runtime_cache() -> Path:
    """The cache directory the tests' component Runtime uses: its compiled proxy is reused here."""
    _on_path()
    from tests.support.toolchains import BUILD_CACHE

    return Path(BUILD_CACHE) / "runtime"


def precompiled(component: Path, exe: str) -> Path:
    """``wasmtime compile`` of ``component`` by the CLI ``exe``, cached by content and CLI version."""
    _on_path()
    from tests.support.toolchains import _cached, _digest, _run

    version = subprocess.run([exe, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    key = "cwasm-" + _digest([component], version)

    def build(out: Path) -> None:
        _run([exe, "compile", "-o", str(out), str(component)])

    return Path(_cached(key, component.stem + ".cwasm", build))
