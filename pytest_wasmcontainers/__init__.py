"""pytest-wasmcontainers: run wasi/wasm32 container images inside pytest, without Docker."""

from __future__ import annotations

from .errors import (
    ContainerError,
    ContainerExitedError,
    ImageError,
    StartupTimeoutError,
    WasmContainersError,
)

__all__ = [
    "ContainerError",
    "ContainerExitedError",
    "ImageError",
    "StartupTimeoutError",
    "WasmContainersError",
]
