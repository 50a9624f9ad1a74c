"""``wasi:io``: errors, pollables, input and output streams.

A pollable knows how to tell it is ready (``check``) and what to wait on meanwhile: a file
descriptor and/or a monotonic deadline. ``poll`` waits on all of them and on the container's stop
pipe, so a stopped container's guest returns from any wait at once (and traps). Streams are bases
that the other packages (stdio, files, sockets, HTTP bodies) subclass with ``_read``/``_write``.
"""

from __future__ import annotations

import contextlib
import select
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from .cabi import Err

if TYPE_CHECKING:
    from ..clock import GuestClock
from .context import current
from .host import Interface

CHUNK = 64 * 1024
"""What ``check-write`` allows and the most one ``read`` returns (wasmtime uses similar sizes)."""
_IDLE_S = 0.01
"""A pollable with neither fd nor deadline is checked this often."""


class IoError:
    """``wasi:io/error.error``; other packages attach their error code (``code``)."""

    def __init__(self, message: str, code: object = None, kind: str = "") -> None:
        self.message = message
        self.code = code
        self.kind = kind
        """Which package's code it is: "filesystem", "http", "sockets"."""

    def to_debug_string(self) -> str:
        return self.message


def failed(message: str, code: object = None, kind: str = "") -> Err:
    return Err(("last-operation-failed", IoError(message, code, kind)))


CLOSED = Err("closed")


class Pollable:
    __slots__ = ("check", "clock", "deadline", "fd", "write")

    def __init__(
        self,
        check: Callable[[], bool] | None = None,
        fd: int | None = None,
        write: bool = False,
        deadline: int | None = None,
        clock: GuestClock | None = None,
    ) -> None:
        self.check = check
        self.fd = fd
        self.write = write
        self.deadline = deadline
        """monotonic-clock nanoseconds (of ``clock``, a controlled ``GuestClock``, when given)"""
        self.clock = clock

    def now(self) -> int:
        return self.clock.monotonic_ns() if self.clock is not None else time.monotonic_ns()

    def seconds_left(self) -> float | None:
        """Real seconds until the deadline is due (None: not without an ``advance()``)."""
        assert self.deadline is not None
        if self.clock is not None:
            return self.clock.seconds_until_monotonic(self.deadline)
        return max(0.0, (self.deadline - time.monotonic_ns()) / 1e9)

    def ready(self) -> bool:
        if self.check is not None:
            return self.check()
        if self.deadline is not None and self.now() >= self.deadline:
            return True
        if self.fd is not None:
            return fd_ready(self.fd, self.write, 0.0)
        return self.deadline is None

    def block(self) -> None:
        poll([self])


def always() -> Pollable:
    return Pollable(check=lambda: True)


def fd_ready(fd: int, write: bool, timeout: float) -> bool:
    try:
        r, w, _ = select.select([] if write else [fd], [fd] if write else [], [], timeout)
    except (OSError, ValueError):
        return True  # closed or broken: the next operation reports why
    return bool(r or w)


def poll(pollables: Sequence[Pollable]) -> list[int]:
    if not pollables:
        raise ValueError("poll: the list of pollables is empty")
    ctx = current()
    while True:
        ctx.check_stop()
        ready = [i for i, p in enumerate(pollables) if p.ready()]
        if ready:
            return ready
        rl: list[int] = [ctx.stop.fileno()]
        wl: list[int] = []
        timeout: float | None = None
        clocks = []
        for p in pollables:
            if p.fd is not None:
                (wl if p.write else rl).append(p.fd)
            if p.deadline is not None:
                left = p.seconds_left()
                if p.clock is not None:
                    clocks.append(p.clock)  # its advance() wakes this wait
                if left is not None:
                    timeout = left if timeout is None else min(timeout, left)
            elif p.fd is None and p.check is not None:  # nothing to wait on: check again soon
                timeout = _IDLE_S if timeout is None else min(timeout, _IDLE_S)
        rl += [c.fileno() for c in clocks]
        with contextlib.suppress(OSError, ValueError):  # a closed fd: ready on the next round
            readable, _, _ = select.select(rl, wl, [], timeout)
            for c in clocks:
                if c.fileno() in readable:
                    c.drain()


def wait_fd(fd: int, write: bool = False, timeout: float | None = None) -> bool:
    """Block on ``fd`` (or the stop pipe: raises Stopped); False when ``timeout`` ran out."""
    ctx = current()
    end = None if timeout is None else time.monotonic() + timeout
    while True:
        ctx.check_stop()
        left = None if end is None else max(0.0, end - time.monotonic())
        try:
            r, w, _ = select.select(
                [fd, ctx.stop.fileno()] if not write else [ctx.stop.fileno()], [fd] if write else [], [], left
            )
        except (OSError, ValueError):
            return True
        ctx.check_stop()
        if (fd in r) or (fd in w):
            return True
        if end is not None and time.monotonic() >= end:
            return False


# ---- streams -------------------------------------------------------------------------------------
class InputStream:
    """Subclasses implement ``_read(n, block)`` -> bytes (b"" when nothing yet) or None at the end,
    and ``_pollable()``."""

    def _read(self, n: int, block: bool) -> bytes | None:
        return None

    def _pollable(self) -> Pollable:
        return always()

    def read(self, length: int) -> bytes:
        data = self._read(min(length, CHUNK), False) if length else b""
        if data is None:
            raise CLOSED
        return data

    def blocking_read(self, length: int) -> bytes:
        if not length:
            return b""
        data = self._read(min(length, CHUNK), True)
        if data is None:
            raise CLOSED
        return data

    def skip(self, length: int) -> int:
        return len(self.read(length))

    def blocking_skip(self, length: int) -> int:
        return len(self.blocking_read(length))

    def subscribe(self) -> Pollable:
        return self._pollable()

    def drop(self) -> None:
        pass


class BytesInput(InputStream):
    """A stream over bytes known in advance (stdin given to the container)."""

    def __init__(self, data: bytes) -> None:
        self.data = memoryview(data)
        self.pos = 0

    def _read(self, n: int, block: bool) -> bytes | None:
        if self.pos >= len(self.data):
            return None
        chunk = bytes(self.data[self.pos : self.pos + n])
        self.pos += len(chunk)
        return chunk


class OutputStream:
    """Subclasses implement ``_write(data)`` (all of it, blocking if needed); ``_flush()`` and
    ``_pollable()`` when writes can wait."""

    closed = False

    def _write(self, data: bytes) -> None:
        pass

    def _flush(self) -> None:
        pass

    def _pollable(self) -> Pollable:
        return always()

    def _check(self) -> None:
        if self.closed:
            raise CLOSED

    def check_write(self) -> int:
        self._check()
        return CHUNK

    def write(self, contents: bytes) -> None:
        self._check()
        if contents:
            self._write(contents)

    def blocking_write_and_flush(self, contents: bytes) -> None:
        self.write(contents)
        self._flush()

    def flush(self) -> None:
        self._check()
        self._flush()

    def blocking_flush(self) -> None:
        self.flush()

    def subscribe(self) -> Pollable:
        return self._pollable()

    def write_zeroes(self, length: int) -> None:
        self.write(bytes(length))

    def blocking_write_zeroes_and_flush(self, length: int) -> None:
        self.blocking_write_and_flush(bytes(length))

    def splice(self, src: InputStream, length: int) -> int:
        self._check()
        data = src.read(min(length, CHUNK))
        self.write(data)
        return len(data)

    def blocking_splice(self, src: InputStream, length: int) -> int:
        self._check()
        data = src.blocking_read(min(length, CHUNK))
        self.blocking_write_and_flush(data)
        return len(data)

    def drop(self) -> None:
        pass


ERROR = Interface("wasi:io/error", resources={"error": IoError})
POLL = Interface("wasi:io/poll", resources={"pollable": Pollable}, funcs={"poll": poll})
STREAMS = Interface("wasi:io/streams", resources={"input-stream": InputStream, "output-stream": OutputStream})
INTERFACES = (ERROR, POLL, STREAMS)
