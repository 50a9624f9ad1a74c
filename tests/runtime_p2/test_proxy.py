"""wasi:http proxy components through the runtime's public API, with a real HTTP client."""

from __future__ import annotations

import http.server
import json
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from pytest_wasmcontainers.runtime import RunSpec, Runtime, StaticEndpoint, WasmProcess

from .conftest import js_proxy, proxy_guest, request

pytestmark = pytest.mark.slow  # one componentize-py build (~15 s) and compile (~20 s), then cached


@pytest.fixture(scope="module")
def proxy(runtime: Runtime) -> Iterator[tuple[WasmProcess, int]]:
    proc = runtime.start(RunSpec(proxy_guest(), [], env={"GREETING": "hello"}, name="proxy"))
    port = proc.wait_for_port(8080, 120)
    yield proc, port
    proc.stop()


def raw(port: int, data: bytes) -> bytes:
    """Send ``data`` and read until the server closes (the request says Connection: close)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(data)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out


def _dechunk(data: bytes) -> bytes:
    out, pos = bytearray(), 0
    while True:
        end = data.index(b"\r\n", pos)
        size = int(data[pos:end], 16)
        if size == 0:
            return bytes(out)
        out += data[end + 2 : end + 2 + size]
        pos = end + 4 + size


def test_request_parts_reach_the_guest(proxy: tuple[WasmProcess, int]) -> None:
    _, port = proxy
    status, headers, body = request(port, "PUT", "/info?a=1&b=two", b"payload", {"X-Custom": "Yes"})
    assert status == 200
    assert headers["content-type"] == "application/json"
    doc = json.loads(body)
    assert doc["method"] == "PUT"
    assert doc["path"] == "/info?a=1&b=two"
    assert doc["scheme"] == "Scheme_Http"
    assert doc["authority"] == f"127.0.0.1:{port}"
    assert ["x-custom", "Yes"] in doc["headers"]
    assert doc["body"] == "payload" and doc["body_length"] == 7
    # forbidden headers never reach the guest (the authority carries the host), as in wasmtime
    names = {k for k, _ in doc["headers"]}
    assert not names & {"host", "connection", "transfer-encoding"}


def test_request_body_streams_through(proxy: tuple[WasmProcess, int]) -> None:
    """The guest echoes the first chunk before the client has sent the second."""
    _, port = proxy
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        got = b""
        while b"first" not in got:
            chunk = s.recv(65536)
            assert chunk, f"closed early: {got!r}"
            got += chunk
        assert b"HTTP/1.1 200" in got and b"second" not in got
        s.sendall(b"6\r\nsecond\r\n0\r\n\r\n")
        while not got.endswith(b"0\r\n\r\n"):
            chunk = s.recv(65536)
            assert chunk
            got += chunk
    assert b"second" in got


def test_large_bodies_both_ways(proxy: tuple[WasmProcess, int]) -> None:
    _, port = proxy
    status, headers, body = request(port, "GET", "/big?n=20000000")
    assert status == 200 and headers.get("transfer-encoding") == "chunked"
    assert len(body) == 20_000_000 and body[:20] == b"01234567890123456789"
    payload = bytes(range(256)) * 40_000  # 10 MB, echoed while it is sent (so: send in a thread)
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        head = (
            f"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
        )
        sender = threading.Thread(target=s.sendall, args=(head.encode() + payload,))
        sender.start()
        got = bytearray()
        while chunk := s.recv(1 << 20):
            got += chunk
        sender.join()
    head_end = got.index(b"\r\n\r\n")
    assert got.startswith(b"HTTP/1.1 200") and b"chunked" in got[:head_end].lower()
    assert _dechunk(bytes(got[head_end + 4 :])) == payload


def test_trailers_only_for_clients_that_ask(proxy: tuple[WasmProcess, int]) -> None:
    _, port = proxy
    asked = raw(port, b"GET /trailers HTTP/1.1\r\nHost: x\r\nTE: trailers\r\nConnection: close\r\n\r\n")
    assert b"\r\n0\r\nx-checksum: abc\r\n\r\n" in asked
    plain = raw(port, b"GET /trailers HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert b"body" in plain and b"x-checksum" not in plain


def test_a_trap_or_no_response_is_a_500_and_logged(proxy: tuple[WasmProcess, int]) -> None:
    proc, port = proxy
    status, _, _ = request(port, "GET", "/trap")
    assert status == 500
    assert "boom from the guest" in proc.logs()
    assert "GET /trap:" in proc.logs() and "unreachable" in proc.logs()
    status, _, _ = request(port, "GET", "/noresponse")
    assert status == 500
    assert "GET /noresponse: the guest returned without setting a response" in proc.logs()
    assert request(port, "GET", "/env?name=GREETING")[2] == b"hello"  # and it still serves


def test_a_wrong_content_length_cuts_the_response(proxy: tuple[WasmProcess, int]) -> None:
    _, port = proxy
    got = raw(port, b"GET /length-wrong HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert got.startswith(b"HTTP/1.1 200") and b"content-length: 10" in got.lower()
    assert got.endswith(b"abc")  # 3 of 10 bytes, then closed: the client sees it incomplete


def test_forbidden_headers_are_refused_as_in_wasmtime(proxy: tuple[WasmProcess, int]) -> None:
    _, port = proxy
    answers = json.loads(request(port, "GET", "/forbidden")[2])
    assert answers == {
        "connection": "Forbidden",
        "host": "Forbidden",
        "transfer-encoding": "Forbidden",
        "x-ok": "ok",
        "bad name": "InvalidSyntax",
    }


def test_each_request_gets_a_fresh_instance(proxy: tuple[WasmProcess, int]) -> None:
    _, port = proxy
    assert {request(port, "GET", "/counter")[2] for _ in range(3)} == {b"1"}


def test_concurrent_requests(proxy: tuple[WasmProcess, int]) -> None:
    _, port = proxy
    # one request holds its connection open mid-body while others are served
    held = socket.create_connection(("127.0.0.1", port), timeout=30)
    held.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhalf")
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda i: request(port, "GET", f"/info?i={i}"), range(16)))
    assert [json.loads(b)["path"] for _, _, b in results] == [f"/info?i={i}" for i in range(16)]
    held.sendall(b"-the-r")
    held.settimeout(30)
    got = b""
    while not got.endswith(b"0\r\n\r\n"):
        chunk = held.recv(65536)
        assert chunk
        got += chunk
    held.close()
    assert b"half" in got and b"-the-r" in got


def test_two_proxies_on_guest_port_8080_do_not_clash(
    runtime: Runtime, proxy: tuple[WasmProcess, int]
) -> None:
    _, first = proxy
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        fixed = s.getsockname()[1]
    other = runtime.start(RunSpec(proxy_guest(), [], env={"GREETING": "second"}, ports={8080: fixed}))
    try:
        assert other.wait_for_port(8080, 60) == fixed != first
        assert request(fixed, "GET", "/env?name=GREETING")[2] == b"second"
        assert request(first, "GET", "/env?name=GREETING")[2] == b"hello"
    finally:
        assert other.stop() == 137
    assert not other.running


class _Backend(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"backend saw {self.path} host={self.headers['Host']}".encode()
        self.send_response(201)
        self.send_header("X-Backend", "yes")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_outgoing_requests_reach_names_and_host_addresses(runtime: Runtime) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Backend)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    real = server.server_address[1]
    proc = runtime.start(
        RunSpec(proxy_guest(), [], hosts={"backend": StaticEndpoint("127.0.0.1", {80: real})})
    )
    try:
        port = proc.wait_for_port(8080, 60)
        got = request(port, "GET", "/fetch?url=http://backend/x%3F1")
        assert got[0] == 200, (got, proc.logs())
        doc = json.loads(got[2])
        assert doc["status"] == 201
        assert doc["body"] == "backend saw /x?1 host=backend"
        assert ["x-backend", "yes"] in doc["headers"]
        doc = json.loads(request(port, "GET", f"/fetch?url=http://127.0.0.1:{real}/direct")[2])
        assert doc["status"] == 201 and doc["body"].startswith("backend saw /direct")
        # localhost:8080 is the container itself (its mapped port), as for a p1 guest
        doc = json.loads(request(port, "GET", "/fetch?url=http://localhost:8080/env%3Fname=GREETING")[2])
        assert doc["status"] == 200
        doc = json.loads(request(port, "GET", "/fetch?url=http://nowhere.invalid/")[2])
        assert doc["status"] == 599 and "DnsError" in doc["body"]
    finally:
        proc.stop()
        server.shutdown()


def test_expect_100_continue(proxy: tuple[WasmProcess, int]) -> None:
    _, port = proxy
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(b"POST /info HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        first = s.recv(65536)
        assert first.startswith(b"HTTP/1.1 100 "), first
        s.sendall(b"data")
        got = b""
        while b'"body_length": 4' not in got:
            chunk = s.recv(65536)
            assert chunk, got
            got += chunk


def test_a_componentize_js_proxy(runtime: Runtime) -> None:
    """A second toolchain's output: StarlingMonkey, exporting incoming-handler@0.2.10 and importing
    0.2.10 and 0.2.12 interfaces side by side."""
    proc = runtime.start(RunSpec(js_proxy(), []))
    try:
        port = proc.wait_for_port(8080, 120)
        status, headers, body = request(port, "POST", "/a/b?q=1", b"hi js", {"X-Custom": "js"})
        assert status == 200 and headers["x-js"] == "yes"
        assert json.loads(body) == {
            "toolchain": "componentize-js",
            "method": "POST",
            "path": "/a/b?q=1",
            "header": "js",
            "body": "hi js",
        }
    finally:
        proc.stop()
