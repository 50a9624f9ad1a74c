"""DNS over TCP served in-process, for guests that resolve names themselves (``DNS_SERVER``).

A guest connect to one of ``spec.dns_servers`` gets one end of a socketpair; a small thread reads
length-prefixed queries from the other end and answers them with ``runtime.dns.answer`` over the
container's name table, so the guest sees the same virtual addresses ``sock_getaddrinfo`` returns.
"""

from __future__ import annotations

import contextlib
import importlib
import socket
import struct
import threading
from collections.abc import Callable

from .readiness import ready


def _answerer() -> Callable[[bytes, Callable[[str], list[str]]], bytes]:
    try:
        module = importlib.import_module(f"{__package__}.dns")
    except ImportError as exc:  # pragma: no cover - depends on the dns module being present
        raise OSError(111, f"in-process DNS is not available ({exc})") from exc
    answer: Callable[[bytes, Callable[[str], list[str]]], bytes] = module.answer
    return answer


class DnsConnection:
    def __init__(self, lookup: Callable[[str], list[str]], stop: threading.Event) -> None:
        self._answer = _answerer()
        self.guest_end, self._host_end = socket.socketpair()
        self._lookup = lookup
        self._stop = stop
        self._thread = threading.Thread(target=self._serve, name="wasm-dns", daemon=True)
        self._thread.start()

    def _recv_exact(self, n: int) -> bytes | None:
        data = b""
        while len(data) < n:
            if self._stop.is_set():
                return None
            readable, _ = ready([self._host_end.fileno()], [], 0.05)
            if not readable:
                continue
            chunk = self._host_end.recv(n - len(data))
            if not chunk:
                return None
            data += chunk
        return data

    def _serve(self) -> None:
        try:
            while True:
                head = self._recv_exact(2)
                if head is None:
                    return
                query = self._recv_exact(struct.unpack(">H", head)[0])
                if query is None:
                    return
                reply = self._answer(query, self._lookup)
                self._host_end.sendall(struct.pack(">H", len(reply)) + reply)
        except OSError:
            return
        finally:
            self._host_end.close()

    def close(self) -> None:
        """Called when the guest closes its end (or at stop): the thread sees EOF and ends."""
        with contextlib.suppress(OSError):
            self.guest_end.shutdown(socket.SHUT_RDWR)
        self._thread.join(2)
