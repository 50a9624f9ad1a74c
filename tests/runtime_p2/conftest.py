"""Component guests for the WASI 0.2 tests, built from tests/guests (cached), and a Runtime."""

from __future__ import annotations

import functools
import http.client
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_wasmcontainers.runtime import Runtime
from tests.support.components import GUESTS, adapt, build_js, build_py, retarget
from tests.support.toolchains import BUILD_CACHE, build_c


@functools.cache
def proxy_guest() -> Path:
    """componentize-py wasi:http proxy (tests/guests/py/proxy/app.py)."""
    return build_py(GUESTS / "py" / "proxy", "proxy")


@functools.cache
def js_proxy() -> Path:
    """componentize-js wasi:http proxy (tests/guests/js/proxy/app.js), exports @0.2.10."""
    return build_js(GUESTS / "js" / "proxy")


@functools.cache
def py_command() -> Path:
    """componentize-py wasi:cli command (tests/guests/py/command/app.py)."""
    return build_py(GUESTS / "py" / "command", "command")


@functools.cache
def c_command(version: str = "0.2.12") -> Path:
    """tests/guests/c/p2_cli.c: wasip1 C made a command component; imports renamed to ``version``."""
    comp = adapt(build_c(GUESTS / "c" / "p2_cli.c"))
    return comp if version == "0.2.12" else retarget(comp, version)


@pytest.fixture(scope="module")
def runtime() -> Iterator[Runtime]:
    rt = Runtime(BUILD_CACHE / "runtime")  # compiled components persist beside the guest builds
    yield rt
    rt.close()


def request(
    port: int, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()
