"""A non-blocking server driven by poll_oneoff: concurrency, half-close, early disconnects,
and a regular file polled together with sockets."""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_wasmcontainers.runtime import RunSpec, Runtime, WasmProcess

from .conftest import c_guest, wait_for_output


@pytest.fixture
def echo(runtime: Runtime, tmp_path: Path) -> Iterator[tuple[WasmProcess, int]]:
    root = tmp_path / "root"
    root.mkdir()
    (root / "data.txt").write_bytes(b"x" * 1234)
    spec = RunSpec(
        c_guest("event_server"), ["event"], env={"PORT": "7000", "DATA_FILE": "/data.txt"}, rootfs=root
    )
    proc = runtime.start(spec)
    try:
        yield proc, proc.wait_for_port(7000, timeout=30)
    finally:
        proc.stop()


def roundtrip(port: int, payload: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)  # half-close: the server still answers
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_half_close_gets_the_echo_and_a_goodbye(echo: tuple[WasmProcess, int]) -> None:
    _, port = echo
    assert roundtrip(port, b"hello") == b"helloBYE 5\n"


def test_regular_file_polled_with_sockets(echo: tuple[WasmProcess, int]) -> None:
    proc, port = echo
    roundtrip(port, b"x")
    # real WASI's own event for the file (wasmtime 50 says nbytes=1 for files): read, no error
    out = wait_for_output(proc, "file event")
    line = next(ln for ln in out.splitlines() if ln.startswith("file event"))
    assert line.startswith("file event type=1 error=0 nbytes=")
    assert int(line.rsplit("=", 1)[1]) >= 1


def test_fifty_concurrent_connections(echo: tuple[WasmProcess, int]) -> None:
    _, port = echo
    socks = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(50)]
    try:
        for i, s in enumerate(socks):
            s.sendall(f"client {i} ".encode() * 100)
        for s in socks:
            s.shutdown(socket.SHUT_WR)
        for i, s in enumerate(socks):
            data = b""
            while chunk := s.recv(65536):
                data += chunk
            want = f"client {i} ".encode() * 100
            assert data == want + f"BYE {len(want)}\n".encode()
    finally:
        for s in socks:
            s.close()


def test_megabyte_through_the_event_loop(echo: tuple[WasmProcess, int]) -> None:
    _, port = echo
    payload = bytes(range(256)) * 4096
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        received = bytearray()
        sent = 0
        s.setblocking(False)
        import select

        while sent < len(payload) or not received.endswith(b"\n") or len(received) <= len(payload):
            want_write = [s] if sent < len(payload) else []
            r, w, _ = select.select([s], want_write, [], 10)
            assert r or w, "stalled"
            if w:
                sent += s.send(payload[sent : sent + 65536])
                if sent == len(payload):
                    s.shutdown(socket.SHUT_WR)
            if r:
                chunk = s.recv(65536)
                if not chunk:
                    break
                received += chunk
    assert bytes(received) == payload + f"BYE {len(payload)}\n".encode()


def test_clients_that_disconnect_early_do_not_hurt_the_server(echo: tuple[WasmProcess, int]) -> None:
    proc, port = echo
    for _ in range(5):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(b"partial request")
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()  # RST instead of FIN
        quiet = socket.create_connection(("127.0.0.1", port), timeout=10)
        quiet.close()  # connect and go away without a byte
    assert roundtrip(port, b"still there?") == b"still there?BYE 12\n"
    assert proc.running


def test_udp_recv_from_and_send_to(runtime: Runtime) -> None:
    proc = runtime.start(RunSpec(c_guest("udp_echo"), ["udp"], env={"PORT": "5353"}))
    try:
        port = proc.wait_for_port(5353, timeout=30)  # a bound datagram socket counts
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(10)
            s.sendto(b"ping", ("127.0.0.1", port))
            reply, _ = s.recvfrom(2048)
            assert reply == f"1:{s.getsockname()[1]}:ping".encode()  # family Inet4, our port
            s.sendto(b"quit", ("127.0.0.1", port))
        assert proc.wait(30) == 0
    finally:
        proc.stop()
