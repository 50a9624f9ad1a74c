"""The project's side of each figure, through its non-pytest starter (``WasmSession``, the object
behind ``wasm_container_factory``). Imported lazily so the baselines still run while (or if) the
project's runtime cannot be imported; the reason is then reported instead of a number."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .image import PORT
from .probe import wait_first_response


def unavailable_reason() -> str | None:
    try:
        from pytest_wasmcontainers.container import ContainerSettings  # noqa: F401
        from pytest_wasmcontainers.runtime import Runtime  # noqa: F401
        from pytest_wasmcontainers.session import SessionConfig, WasmSession  # noqa: F401
    except ImportError as e:
        return f"the project's runtime/session cannot be imported yet: {e}"
    return None


def new_session(cache_dir: Path, registry: str) -> Any:
    from pytest_wasmcontainers.session import SessionConfig, WasmSession

    return WasmSession(SessionConfig(cache_dir=cache_dir, insecure_registries=(registry,)))


def settings(ref: str, **extra: Any) -> Any:
    from pytest_wasmcontainers.container import ContainerSettings

    return ContainerSettings(image=ref, ports={PORT: None}, **extra)


@dataclass
class Started:
    container: Any
    port: int
    seconds: float
    """From asking for the container to its first HTTP response."""


def start_and_probe(session: Any, ref: str) -> Started:
    t0 = time.perf_counter()
    container = session.start(settings(ref))
    port = container.host_port(PORT)
    wait_first_response("127.0.0.1", port, timeout=30)
    return Started(container, port, time.perf_counter() - t0)


@contextmanager
def one_container(session: Any, ref: str) -> Iterator[Started]:
    started = start_and_probe(session, ref)
    try:
        yield started
    finally:
        session.stop(started.container)
