"""A server that makes the calls tokio_wasi/mio_wasi over wasmedge_wasi_socket 0.5 make
(tests/guests/c/mio_server.c): every bind address form, the selector's read+write interest on
many fds, accept/peer address/close as the crates do them."""

from __future__ import annotations

import http.server
import os
import socket
import threading
from collections.abc import Iterator

import pytest

from pytest_wasmcontainers.runtime import RunSpec, Runtime, WasmProcess

from .conftest import c_guest, free_port, http_request, wait_for_output


def start(runtime: Runtime, form: str, port: int = 8080) -> WasmProcess:
    spec = RunSpec(c_guest("mio_server"), ["mio"], env={"PORT": str(port), "BIND_FORM": form})
    return runtime.start(spec)


@pytest.fixture
def server(runtime: Runtime) -> Iterator[tuple[WasmProcess, int]]:
    proc = start(runtime, "storage")
    try:
        yield proc, proc.wait_for_port(8080, timeout=30)
    finally:
        proc.stop()


@pytest.mark.parametrize(("form", "family"), [("raw4", 4), ("raw16", 6), ("storage", 4)])
def test_bind_forms_and_local_address(runtime: Runtime, form: str, family: int) -> None:
    proc = start(runtime, form)
    try:
        port = proc.wait_for_port(8080, timeout=30)
        # the guest sees the port it asked for, with the V1 type (4/6) of what it bound
        assert f"listening type={family} port=8080" in wait_for_output(proc, "listening")
        status, body = http_request(port, "GET", "/")
        assert status == 200
        assert body.startswith(b"peer=127.0.0.1 n=1")
        assert "FAIL" not in proc.logs()
    finally:
        proc.stop()


def test_many_concurrent_clients(server: tuple[WasmProcess, int]) -> None:
    proc, port = server
    results: list[tuple[int, bytes]] = []
    lock = threading.Lock()

    def client() -> None:
        got = http_request(port, "GET", "/")
        with lock:
            results.append(got)

    threads = [threading.Thread(target=client) for _ in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(results) == 40
    assert all(status == 200 and body.startswith(b"peer=127.0.0.1 ") for status, body in results)
    numbers = sorted(int(body.split(b"n=")[1]) for _, body in results)
    assert numbers == list(range(1, 41))
    assert proc.running, proc.logs()


def test_idle_and_vanishing_clients_do_not_stall_others(server: tuple[WasmProcess, int]) -> None:
    proc, port = server
    idle = socket.create_connection(("127.0.0.1", port), timeout=10)
    gone = socket.create_connection(("127.0.0.1", port), timeout=10)
    gone.close()  # EOF without a request: the selector gets a hang-up
    half = socket.create_connection(("127.0.0.1", port), timeout=10)
    half.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # half a request, then nothing
    try:
        status, body = http_request(port, "GET", "/")
        assert status == 200 and body.startswith(b"peer=127.0.0.1")
        # a request and FIN in one go: the data still reaches the server (no hang-up yet)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            s.shutdown(socket.SHUT_WR)
            data = b""
            while chunk := s.recv(4096):
                data += chunk
        assert data.startswith(b"HTTP/1.1 200 OK")
    finally:
        for s in (idle, half):
            s.close()
    assert proc.running, proc.logs()
    assert "FAIL" not in proc.logs()


def test_host_fds_past_1024(runtime: Runtime) -> None:
    """A test process may hold many fds; the runtime's waits must not depend on small fd numbers."""
    filler = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        proc = start(runtime, "raw4")
        try:
            port = proc.wait_for_port(8080, timeout=30)
            assert http_request(port, "GET", "/")[0] == 200
            assert http_request(port, "GET", "/")[0] == 200
            assert proc.running, proc.logs()
            assert "listening" in wait_for_output(proc, "listening")
        finally:
            proc.stop()
    finally:
        for fd in filler:
            os.close(fd)


def test_nonblocking_connect_as_tokio_makes_it(runtime: Runtime) -> None:
    body = b"x" * 100_000

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    live, closed = server.server_address[1], free_port()
    try:
        proc = runtime.start(RunSpec(c_guest("mio_client"), ["client", str(live), str(closed)]))
        assert proc.wait(30) == 0, proc.logs()
        lines = proc.stdout().splitlines()
    finally:
        server.shutdown()
        server.server_close()
    ok = next(ln for ln in lines if ln.startswith(f"port={live} "))
    # EINPROGRESS, then writable, no error, the dialled peer as a V1 address, the whole body
    assert f"connect=26 writable=0 so_error=0 peer=127.0.0.1:{live} type=4" in ok
    assert int(ok.rsplit("got=", 1)[1]) > len(body)
    refused = next(ln for ln in lines if ln.startswith(f"port={closed} "))
    # a refused connect: writable with SO_ERROR = WASI ECONNREFUSED (14), as take_error reads it
    assert refused.endswith("so_error=14") or "connect=14" in refused, refused
