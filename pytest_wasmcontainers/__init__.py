"""pytest-wasmcontainers: run wasi/wasm32 container images inside pytest, without Docker."""

from __future__ import annotations

from . import wait
from .container import (
    ContainerConfigError,
    ContainerSettings,
    ContainerStats,
    WaitTimeoutError,
    WasmContainer,
    start_container,
)
from .errors import (
    ContainerError,
    ContainerExitedError,
    ImageError,
    StartupTimeoutError,
    WasmContainersError,
)
from .session import SessionConfig, WasmSession

__all__ = [
    "ContainerConfigError",
    "ContainerError",
    "ContainerExitedError",
    "ContainerSettings",
    "ContainerStats",
    "ImageError",
    "SessionConfig",
    "StartupTimeoutError",
    "WaitTimeoutError",
    "WasmContainer",
    "WasmContainersError",
    "WasmSession",
    "start_container",
    "wait",
]
