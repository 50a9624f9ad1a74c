"""Ask for ``GET /`` until a real HTTP response comes back: the "first response" every start-up figure
ends at. A refused or reset connection (nothing listening yet, or Docker's proxy with no backend) is
retried at once, so the probe adds well under a millisecond."""

from __future__ import annotations

import socket
import time

REQUEST = b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"


def get_once(host: str, port: int, timeout: float = 2.0) -> bytes:
    """One request; returns the status line (raises OSError if nothing sensible came back)."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(REQUEST)
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    if not data.startswith(b"HTTP/1."):
        raise ConnectionResetError(f"no HTTP response from {host}:{port} (got {data[:40]!r})")
    return data.split(b"\r\n", 1)[0]


def wait_first_response(host: str, port: int, timeout: float = 30.0, pause: float = 0.0002) -> bytes:
    deadline = time.perf_counter() + timeout
    last: Exception | None = None
    while time.perf_counter() < deadline:
        try:
            return get_once(host, port)
        except OSError as e:
            last = e
            time.sleep(pause)
    raise TimeoutError(f"no HTTP response from {host}:{port} within {timeout}s (last error: {last})")
