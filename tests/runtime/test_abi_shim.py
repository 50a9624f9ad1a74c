"""The WasmEdge socket ABI as C programs built with the "v2" libc socket shims see it
(tests/guests/c/shim_server.c): getsockopt's size by value, TCP_NODELAY at level 6, 3-parameter
accept/getlocaladdr/getpeeraddr, uint32_t protocol and family in the addrinfo structs."""

from __future__ import annotations

from pytest_wasmcontainers.runtime import RunSpec, Runtime

from .conftest import c_guest, http_request, wait_for_output


def test_c_shim_abi(runtime: Runtime) -> None:
    proc = runtime.start(RunSpec(c_guest("shim_server"), ["shim"], env={"PORT": "8080"}))
    try:
        port = proc.wait_for_port(8080, timeout=30)
        wait_for_output(proc, "shim server ready")
        for _ in range(2):
            status, body = http_request(port, "GET", "/")
            assert (status, body) == (200, b"peer=127.0.0.1 family=1 nodelay=1 error=0"), proc.logs()
        assert "FAIL" not in proc.logs()
    finally:
        proc.stop()
