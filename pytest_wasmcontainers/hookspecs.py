"""Hooks other plugins (or a conftest.py) can implement; registered through ``pytest_addhooks``.

Example, in a ``conftest.py``::

    def pytest_wasmcontainers_before_start(settings):
        settings.env = {**(settings.env or {}), "LOG_LEVEL": "debug"}
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from .container import ContainerSettings, WasmContainer
    from .images.image import WasmImage
    from .session import PullStats

hookspec = pluggy.HookspecMarker("pytest")


@hookspec
def pytest_wasmcontainers_before_start(settings: ContainerSettings) -> None:
    """Before a container is started; change ``settings`` in place (env, command, ports, wait, ...).

    ``settings.image`` is already a reference (logical names resolved); it may be replaced."""


@hookspec
def pytest_wasmcontainers_ready(container: WasmContainer) -> None:
    """After the container passed its readiness check, before the test gets it. Raising stops it."""


@hookspec
def pytest_wasmcontainers_stopped(container: WasmContainer, exit_code: int | None, logs: str) -> None:
    """After a container was stopped (end of its test or session), with its exit code and all its logs."""


@hookspec
def pytest_wasmcontainers_image_pulled(image: WasmImage, stats: PullStats) -> None:
    """After an image was pulled or found in the cache (once per image per session / xdist worker)."""
