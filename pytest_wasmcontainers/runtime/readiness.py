"""Waiting for host fds to become ready.

``poll()``, never ``select()``: a test process easily holds more than 1024 fds, and ``select()``
refuses any fd number from 1024 on (a ValueError, which would trap the guest or kill a log thread).
"""

from __future__ import annotations

import select

_READABLE = select.POLLIN | select.POLLPRI | select.POLLHUP | select.POLLERR
_WRITABLE = select.POLLOUT | select.POLLHUP | select.POLLERR


def ready(reads: list[int], writes: list[int], timeout: float) -> tuple[list[int], list[int]]:
    """The fds of ``reads`` / ``writes`` that are ready within ``timeout`` seconds (a hang-up or
    an error counts as ready, as with ``select()``)."""
    poller = select.poll()
    masks: dict[int, int] = {}
    for fd in reads:
        masks[fd] = masks.get(fd, 0) | _READABLE
    for fd in writes:
        masks[fd] = masks.get(fd, 0) | _WRITABLE
    for fd, mask in masks.items():
        poller.register(fd, mask)
    events = dict(poller.poll(max(0, round(timeout * 1000))))
    want_w = set(writes)
    r = [fd for fd in reads if events.get(fd, 0) & _READABLE]
    w = [fd for fd in want_w if events.get(fd, 0) & _WRITABLE]
    return r, w


READABLE, WRITABLE = _READABLE, _WRITABLE


class Waiter:
    """One ``poll`` object kept across calls, for one thread (a guest's event loop polls the same
    sockets again and again): registrations change only when the wanted fds or masks do."""

    def __init__(self) -> None:
        self._poll = select.poll()
        self._masks: dict[int, int] = {}
        self._last: dict[int, int] | None = None  # the caller's dict last seen (its plan's, unchanged)

    def wait(self, masks: dict[int, int], timeout: float) -> dict[int, int]:
        """Events (fd -> revents) of ``masks`` (fd -> poll mask) within ``timeout`` seconds."""
        if masks is not self._last and masks != self._masks:
            current = self._masks
            for fd in current.keys() - masks.keys():
                self._poll.unregister(fd)
            for fd, mask in masks.items():
                if current.get(fd) != mask:
                    self._poll.register(fd, mask)  # also modifies an existing registration
            self._masks = dict(masks)
        self._last = masks
        timeout_ms = 0 if timeout <= 0 else max(1, round(timeout * 1000))
        return dict(self._poll.poll(timeout_ms))
