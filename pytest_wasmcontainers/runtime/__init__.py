"""The embedded Wasm runtime (wasmtime-py + WasmEdge's socket extension). Knows nothing of pytest.

``Runtime`` and ``WasmProcess`` are imported on first use: wasmtime and the WASI 0.2 host take about
0.2 s to import, which every pytest run with the plugin installed would otherwise pay."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .spec import Endpoint, Mount, RunSpec, StaticEndpoint

if TYPE_CHECKING:
    from .process import WasmProcess
    from .runtime import Runtime

__all__ = ["Endpoint", "Mount", "RunSpec", "Runtime", "StaticEndpoint", "WasmProcess"]


def __getattr__(name: str) -> Any:
    if name == "Runtime":
        from .runtime import Runtime

        return Runtime
    if name == "WasmProcess":
        from .process import WasmProcess

        return WasmProcess
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
