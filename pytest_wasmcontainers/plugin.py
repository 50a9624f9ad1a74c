"""The pytest side: options, ini settings, fixtures, reports. The only module that imports pytest."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("wasmcontainers", "Wasm containers (pytest-wasmcontainers)")
