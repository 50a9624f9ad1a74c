"""One HTTP/1.1 connection for the wasi:http host: a non-blocking socket and its h11 state.

Both sides use it: the proxy server (reading requests, writing responses) and the outgoing client.
Every wait selects on the container's stop pipe too, so a stopped container never hangs in I/O.
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import time
from typing import Any

import h11

from ..sockets import StopSignal
from .context import Stopped

RECV = 64 * 1024


class WireTimeout(Exception):
    pass


class Wire:
    def __init__(self, sock: socket.socket, role: Any, stop: StopSignal) -> None:
        sock.setblocking(False)
        self.sock = sock
        self.h11 = h11.Connection(role)
        self.stop = stop
        self.closed = False

    def fileno(self) -> int:
        return self.sock.fileno()

    def _wait(self, write: bool, timeout: float | None) -> None:
        if not write and isinstance(self.sock, ssl.SSLSocket) and self.sock.pending():
            return
        end = None if timeout is None else time.monotonic() + timeout
        while True:
            if self.stop.is_set():
                raise Stopped("container stopped")
            left = None if end is None else end - time.monotonic()
            if left is not None and left <= 0:
                raise WireTimeout("timed out")
            fd = self.sock.fileno()
            r, w, _ = select.select(
                [self.stop.fileno()] + ([] if write else [fd]), [fd] if write else [], [], left
            )
            if fd in r or fd in w:
                return

    def receive(self, block: bool, timeout: float | None = None) -> bool:
        """Feed h11 what the socket has (waiting for it if ``block``); False if nothing came."""
        while True:
            try:
                data = self.sock.recv(RECV)
            except (BlockingIOError, ssl.SSLWantReadError):
                if not block:
                    return False
                self._wait(False, timeout)
                continue
            except ssl.SSLWantWriteError:
                self._wait(True, timeout)
                continue
            except (ConnectionResetError, BrokenPipeError):
                data = b""
            self.h11.receive_data(data)
            return True

    def next_event(self, block: bool, timeout: float | None = None) -> Any:
        """The next h11 event; None if ``block`` is False and none is complete yet."""
        while True:
            ev = self.h11.next_event()
            if ev is not h11.NEED_DATA:
                return ev
            if not self.receive(block, timeout):
                return None

    def send(self, event: Any, timeout: float | None = None) -> None:
        data = self.h11.send(event)
        if data:
            self.sendall(data, timeout)

    def sendall(self, data: bytes, timeout: float | None = None) -> None:
        view = memoryview(data)
        while view:
            try:
                n = self.sock.send(view)
                view = view[n:]
            except (BlockingIOError, ssl.SSLWantWriteError):
                self._wait(True, timeout)
            except ssl.SSLWantReadError:
                self._wait(False, timeout)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            with contextlib.suppress(OSError):
                self.sock.close()
