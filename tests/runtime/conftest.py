"""Fixtures for the runtime tests: guests built from tests/guests, a Runtime per test module."""

from __future__ import annotations

import functools
import hashlib
import http.client
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_wasmcontainers.runtime import Runtime, WasmProcess
from tests.support.toolchains import BUILD_CACHE, build_c, build_go

GUESTS = Path(__file__).resolve().parent.parent / "guests"


@functools.cache
def c_guest(name: str) -> Path:
    header = (GUESTS / "c" / "wasmedge_sock.h").read_bytes()
    digest = hashlib.sha256(header).hexdigest()[:12]  # the header is part of the build's identity
    return build_c(GUESTS / "c" / f"{name}.c", flags=("-O2", f"-I{GUESTS / 'c'}", f"-DSOCK_H={digest}"))


@functools.cache
def go_guest(name: str) -> Path:
    return build_go(GUESTS / name)


@pytest.fixture(scope="module")
def runtime() -> Iterator[Runtime]:
    # compiled modules persist across runs beside the guest builds (what users get by default)
    rt = Runtime(BUILD_CACHE / "runtime")
    yield rt
    rt.close()


def http_request(
    port: int, method: str, path: str, body: bytes | None = None, timeout: float = 10
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_output(proc: WasmProcess, text: str, timeout: float = 30) -> str:
    """The guest's stdout once it contains ``text`` (output is drained by a thread, a bit later)."""
    end = time.monotonic() + timeout
    while text not in (out := proc.stdout()):
        if time.monotonic() > end:
            raise AssertionError(f"{text!r} not in the output within {timeout}s:\n{out}")
        time.sleep(0.01)
    return out
