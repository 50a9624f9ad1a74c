"""A clock the test controls: what a guest's ``clock_time_get`` reads and what its ``poll_oneoff``
clock waits are measured in.

``frozen`` stands still until ``advance()``; a start time runs from that moment at the real rate, and
``advance()`` jumps it too. Realtime and monotonic move together, so they stay consistent. A guest
waiting on a clock subscription wakes as soon as an ``advance()`` makes it due. The default ("real")
has no object at all: ``clock_time_get`` stays wasmtime's own (it is the hot path of tokio). Knows
nothing of pytest.
"""

from __future__ import annotations

import contextlib
import os
import struct
import threading
import time
from datetime import datetime, timezone
from typing import Any

from . import errno
from .memory import check

REALTIME, MONOTONIC = 0, 1
_U64 = struct.Struct("<Q")
_NS = 1_000_000_000
_MONOTONIC_EPOCH = 1_000 * _NS
"""Where the guest's monotonic clock starts (any fixed value: only differences mean anything)."""


class GuestClock:
    def __init__(self, start: str | datetime) -> None:
        if start == "frozen":
            self.frozen = True
            begin = datetime.now(timezone.utc)
        elif isinstance(start, datetime):
            self.frozen = False
            begin = start if start.tzinfo else start.replace(tzinfo=timezone.utc)
        else:
            raise ValueError(f"clock: give 'real', 'frozen' or a datetime to start from, not {start!r}")
        self._realtime0 = int(begin.timestamp() * _NS)
        self._started = time.monotonic_ns()
        self._offset = 0
        self._lock = threading.Lock()
        self._r, self._w = os.pipe()  # advance() wakes a guest waiting in poll
        os.set_blocking(self._r, False)
        os.set_blocking(self._w, False)
        self._closed = False

    # --- what the guest reads ------------------------------------------------------------------
    def elapsed_ns(self) -> int:
        with self._lock:
            run = 0 if self.frozen else time.monotonic_ns() - self._started
            return run + self._offset

    def realtime_ns(self) -> int:
        return self._realtime0 + self.elapsed_ns()

    def monotonic_ns(self) -> int:
        return _MONOTONIC_EPOCH + self.elapsed_ns()

    def now_ns(self, clock_id: int) -> int | None:
        """The guest's time on ``clock_id``; None for a clock this does not keep (CPU time)."""
        if clock_id == REALTIME:
            return self.realtime_ns()
        if clock_id == MONOTONIC:
            return self.monotonic_ns()
        return None

    def deadline(self, clock_id: int, timeout: int, absolute: bool) -> int:
        """A clock subscription as an elapsed-time deadline (ns)."""
        if not absolute:
            return self.elapsed_ns() + timeout
        now = self.now_ns(clock_id)
        return self.elapsed_ns() + max(0, timeout - now) if now is not None else 0

    def seconds_until(self, deadline: int) -> float | None:
        """Real seconds until ``deadline`` is due without an ``advance()`` (None: never, when frozen)."""
        left = deadline - self.elapsed_ns()
        if left <= 0:
            return 0.0
        return None if self.frozen else left / _NS

    def seconds_until_monotonic(self, deadline: int) -> float | None:
        """``seconds_until`` for a deadline on the guest's monotonic clock (wasi:clocks pollables)."""
        return self.seconds_until(deadline - _MONOTONIC_EPOCH)

    def fileno(self) -> int:
        """Readable after an ``advance()``: a poll that includes it wakes to look at its deadlines."""
        return self._r

    def drain(self) -> None:
        try:
            while os.read(self._r, 4096):
                pass
        except (BlockingIOError, OSError):
            pass

    # --- what the test does -----------------------------------------------------------------------
    def advance(self, seconds: float) -> None:
        """Move the guest's time forward; its sleeps and timers that are now due wake."""
        if seconds < 0:
            raise ValueError("a clock only moves forward (advance by seconds >= 0)")
        with self._lock:
            self._offset += int(seconds * _NS)
            if not self._closed:
                with contextlib.suppress(BlockingIOError):  # full of wake-ups already
                    os.write(self._w, b"x")

    def now(self) -> datetime:
        """The guest's wall-clock time."""
        return datetime.fromtimestamp(self.realtime_ns() / _NS, timezone.utc)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        os.close(self._r)
        os.close(self._w)

    # --- the host function --------------------------------------------------------------------
    def clock_time_get(self, memory: Any) -> Any:
        """``clock_time_get(id, precision, time_ptr)`` over this clock (CPU-time clocks stay BADF, as
        they are for every guest here)."""

        def call(caller: Any, clock_id: int, _precision: int, time_ptr: int) -> int:
            value = self.now_ns(clock_id)
            if value is None:
                return errno.BADF if clock_id in (2, 3) else errno.INVAL
            view = memory.view(caller)
            check(view, time_ptr, 8)
            _U64.pack_into(view, time_ptr, value)
            return 0

        return call


class RealClock:
    """``container.clock`` of a container on the host's clock: reading works, moving it does not."""

    frozen = False

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def advance(self, seconds: float) -> None:
        raise ValueError(
            "this container runs on the host's clock; start it with clock='frozen' or "
            "clock=datetime(...) to move its time"
        )
