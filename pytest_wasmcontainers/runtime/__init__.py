"""The embedded Wasm runtime (wasmtime-py + WasmEdge's socket extension). Knows nothing of pytest."""

from __future__ import annotations

from .process import WasmProcess
from .runtime import Runtime
from .spec import Endpoint, Mount, RunSpec, StaticEndpoint

__all__ = ["Endpoint", "Mount", "RunSpec", "Runtime", "StaticEndpoint", "WasmProcess"]
