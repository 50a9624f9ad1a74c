"""HTTP servers on WasmEdge's socket ABI (C and Go) and on a preopened listener, with port mapping."""

from __future__ import annotations

import os

import pytest

from pytest_wasmcontainers.runtime import RunSpec, Runtime

from .conftest import c_guest, free_port, go_guest, http_request, wait_for_output

MIB = 1 << 20


def test_c_server_get_post_and_megabyte_bodies(runtime: Runtime) -> None:
    proc = runtime.start(RunSpec(c_guest("http_server"), ["server"], env={"PORT": "8080"}, name="c-http"))
    try:
        port = proc.wait_for_port(8080, timeout=30)
        assert proc.host_port(8080) == port and proc.ports == {8080: port}
        assert http_request(port, "GET", "/hello") == (200, b"hello from C #0\n")
        body = os.urandom(MIB)
        status, echoed = http_request(port, "POST", "/echo", body)
        assert status == 200 and echoed == body
        status, big = http_request(port, "GET", f"/big/{MIB}")
        assert status == 200 and len(big) == MIB and big[:3] == b"abc" and big[26:29] == b"abc"
        # the guest sees the port it asked for, in both address forms, not the host's
        out = wait_for_output(proc, "listening v2")
        assert "listening v1 0.0.0.0:8080" in out
        assert "listening v2 family=1 0.0.0.0:8080 (e=0)" in out
    finally:
        assert proc.stop() == 137
    assert proc.exit_code == 137 and not proc.running


@pytest.mark.parametrize(("bind", "form"), [("127.0.0.1", "v1"), ("0.0.0.0", "v2"), ("::", "v1")])
def test_bind_forms_all_map_to_loopback(runtime: Runtime, bind: str, form: str) -> None:
    env = {"PORT": "9090", "BIND": bind, "ADDR_FORM": form}
    proc = runtime.start(RunSpec(c_guest("http_server"), ["server"], env=env))
    try:
        port = proc.wait_for_port(9090, timeout=30)
        assert http_request(port, "GET", "/hello")[0] == 200
    finally:
        proc.stop()


def test_fixed_host_port(runtime: Runtime) -> None:
    want = free_port()
    proc = runtime.start(RunSpec(c_guest("http_server"), ["server"], env={"PORT": "80"}, ports={80: want}))
    try:
        assert proc.wait_for_port(80, timeout=30) == want
        assert http_request(want, "GET", "/hello")[0] == 200
    finally:
        proc.stop()


def test_two_containers_same_guest_port(runtime: Runtime) -> None:
    spec = RunSpec(c_guest("http_server"), ["server"], env={"PORT": "8080"})
    a, b = runtime.start(spec), runtime.start(spec)
    try:
        pa, pb = a.wait_for_port(8080, timeout=30), b.wait_for_port(8080, timeout=30)
        assert pa != pb
        assert http_request(pa, "GET", "/hello")[0] == 200
        assert http_request(pb, "GET", "/hello")[0] == 200
    finally:
        a.stop()
        b.stop()


def test_on_listen_hook_sees_the_port(runtime: Runtime) -> None:
    seen: list[tuple[int, int]] = []
    proc = runtime.start(RunSpec(c_guest("http_server"), ["server"], env={"PORT": "8081"}))
    try:
        port = proc.wait_for_port(8081, timeout=30)
        proc.on_listen(lambda g, h: seen.append((g, h)))
        assert seen == [(8081, port)]
    finally:
        proc.stop()


def test_go_server_on_wasmedge_imports(runtime: Runtime) -> None:
    proc = runtime.start(RunSpec(go_guest("go-wasmedge"), ["go-wasmedge"], env={"PORT": "8080"}))
    try:
        port = proc.wait_for_port(8080, timeout=30)
        status, body = http_request(port, "GET", "/hello")
        assert status == 200 and body.startswith(b"hello from go wasmedge-style")
        payload = os.urandom(MIB)
        assert http_request(port, "POST", "/echo", payload) == (200, payload)
    finally:
        assert proc.stop() == 137


def test_go_net_http_on_preopened_listener(runtime: Runtime) -> None:
    proc = runtime.start(RunSpec(go_guest("go-preopen"), ["go-preopen"], preopen_listeners=[8080]))
    try:
        port = proc.wait_for_port(8080, timeout=30)
        status, body = http_request(port, "GET", "/x/y")
        assert (status, body) == (200, b"hello from go net/http: GET /x/y\n")
        payload = os.urandom(MIB)
        assert http_request(port, "POST", "/echo", payload) == (200, payload)
    finally:
        assert proc.stop() == 137
