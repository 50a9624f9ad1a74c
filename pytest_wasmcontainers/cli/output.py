"""What the commands write: the container's log as it grows, pull progress, sizes and ages."""

from __future__ import annotations

import re
import sys
import time
from typing import Any, TextIO

from ..session import ProgressFactory

_DROPPED = re.compile(r"\[\.\.\. (\d+) earlier bytes dropped \.\.\.\]\n")


def notice(message: str) -> None:
    """The tool's own messages go to stderr: stdout carries only the container's output."""
    print(f"wasmcontainers: {message}", file=sys.stderr, flush=True)


class LogFollower:
    """Writes what a container logged since the last call. The runtime keeps the log in memory only
    (a bounded ring), so this reads it again each time and writes the part not yet written."""

    def __init__(self, container: Any, out: TextIO) -> None:
        self.container, self.out = container, out
        self.written = 0
        """Characters of the ring's current text already written."""
        self.dropped = 0
        self._partial = ""

    def pump(self, final: bool = False) -> None:
        text: str = self.container.logs()
        m = _DROPPED.match(text)
        dropped, body = (int(m.group(1)), text[m.end() :]) if m else (0, text)
        if dropped > self.dropped:
            # The ring dropped its oldest bytes; counted in bytes, which is characters for ASCII logs.
            self.written -= dropped - self.dropped
            self.dropped = dropped
            if self.written < 0:
                self.out.write(f"[wasmcontainers: {-self.written} bytes of log lost]\n")
                self.written = 0
        new = body[self.written :]
        held = ""
        if not final:
            # Whole lines; a partial one (a prompt) once it has stopped growing. A line cut inside a
            # UTF-8 sequence would show U+FFFD for a character that is still coming.
            cut = new.rfind("\n") + 1
            tail = new[cut:]
            if tail and (tail != self._partial or tail.endswith("\ufffd")):
                held, new = tail, new[:cut]
        self._partial = held
        if new:
            self.out.write(new)
            self.out.flush()
            self.written += len(new)


class PullProgressLine:
    """One self-rewriting line on a terminal: blobs and bytes fetched so far."""

    def __init__(self, reference: str, stream: TextIO) -> None:
        self.reference, self.stream = reference, stream
        self.done: dict[str, int] = {}
        self.total: dict[str, int] = {}
        self.last = 0.0
        self.shown = False

    def __call__(self, progress: Any) -> None:
        self.done[progress.digest] = progress.done
        if progress.total:
            self.total[progress.digest] = progress.total
        now = time.monotonic()
        if now - self.last < 0.1:
            return
        self.last = now
        done = sum(self.done.values())
        total = sum(self.total.values())
        amount = human_size(done) + (f" / {human_size(total)}" if total else "")
        self.stream.write(f"\r\x1b[Kpulling {self.reference}: {len(self.done)} blobs, {amount}")
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def progress_factory(stream: TextIO | None = None) -> ProgressFactory | None:
    """Progress lines on a terminal only: in a pipe or a log file they would be noise."""
    out = stream or sys.stderr
    if not out.isatty():
        return None
    return lambda reference: PullProgressLine(reference, out)


def human_size(n: int | float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def human_age(when: float | None, now: float | None = None) -> str:
    if when is None:
        return "-"
    seconds = max(0.0, (now or time.time()) - when)
    for limit, size, unit in ((60, 1, "second"), (3600, 60, "minute"), (86400, 3600, "hour")):
        if seconds < limit:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    days = int(seconds // 86400)
    return f"{days} day{'s' if days != 1 else ''} ago"
