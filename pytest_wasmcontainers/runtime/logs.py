"""A container's stdout/stderr, kept in memory with a bound (the oldest bytes are dropped)."""

from __future__ import annotations

import os
import threading
from collections import deque
from pathlib import Path

from .readiness import ready


class RingLog:
    def __init__(self, limit: int) -> None:
        self.limit = max(1024, limit)
        self._chunks: deque[bytes] = deque()
        self._size = 0
        self.dropped = 0
        self._lock = threading.Lock()

    def append(self, data: bytes) -> None:
        if not data:
            return
        with self._lock:
            if len(data) > self.limit:
                self.dropped += len(data) - self.limit
                data = data[-self.limit :]
            self._chunks.append(data)
            self._size += len(data)
            while self._size > self.limit:
                head = self._chunks[0]
                excess = self._size - self.limit
                if len(head) <= excess:
                    self._chunks.popleft()
                    self._size -= len(head)
                    self.dropped += len(head)
                else:
                    self._chunks[0] = head[excess:]
                    self._size -= excess
                    self.dropped += excess

    def text(self) -> str:
        with self._lock:
            data = b"".join(self._chunks)
            dropped = self.dropped
        body = data.decode("utf-8", "replace")
        return f"[... {dropped} earlier bytes dropped ...]\n{body}" if dropped else body


class ContainerLog:
    """Combined log plus one per stream, each bounded by ``limit``."""

    def __init__(self, limit: int) -> None:
        self.combined = RingLog(limit)
        self.stdout = RingLog(limit)
        self.stderr = RingLog(limit)


class LogPump:
    """stdout/stderr through two FIFOs that a thread of ours drains into the ring buffers.

    Not ``WasiConfig.stdout_custom``: its callback is called, and finally released, on wasmtime's
    tokio threads, and one that runs while the interpreter exits kills that thread mid-Rust (a
    "tokio-rt-worker panicked" message at exit in about half of all runs). Pipes keep Python out
    of wasmtime's threads; a guest flooding its output just waits on the pipe while we drain it.
    """

    def __init__(self, log: ContainerLog, directory: Path) -> None:
        self.log = log
        self.paths = (directory / "stdout.fifo", directory / "stderr.fifo")
        self._read: list[int] = []
        self._keepalive: list[int] = []  # our own write ends: no EOF until close(), however
        for p in self.paths:  # often wasmtime opens and closes its end
            os.mkfifo(p, 0o600)
            self._read.append(os.open(p, os.O_RDONLY | os.O_NONBLOCK))
            self._keepalive.append(os.open(p, os.O_WRONLY | os.O_NONBLOCK))
        self._streams = {self._read[0]: log.stdout, self._read[1]: log.stderr}
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="wasm-logs", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        # This thread closes the read ends itself, when it is done with them: closed under it, their
        # numbers could be reused by another file or socket, which it would then read from.
        open_fds = list(self._read)
        try:
            while open_fds:
                readable, _ = ready(open_fds, [], 0.05 if self._closing else 1.0)
                if not readable and self._closing:
                    break  # drained; a writer wasmtime still holds open must not keep us here
                for fd in readable:
                    try:
                        data = os.read(fd, 65536)
                    except BlockingIOError:
                        continue
                    if not data:
                        open_fds.remove(fd)  # every writer (ours last) has closed its end
                        continue
                    self.log.combined.append(data)
                    self._streams[fd].append(data)
        finally:
            for fd in self._read:
                os.close(fd)

    def close(self, timeout: float = 2.0) -> None:
        """After the store is gone: let the thread drain what is left; it then releases the FIFOs."""
        for fd in self._keepalive:
            os.close(fd)
        self._keepalive = []
        self._closing = True
        self._thread.join(timeout)
