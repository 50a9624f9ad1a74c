"""``poll_oneoff`` over a mix of socket fds, wasmtime's own fds and clocks.

Without a socket subscription the call goes to wasmtime's WASI as it is, except pure clock waits,
which we sleep ourselves in slices so that ``stop()`` is noticed. With sockets: each non-socket fd
subscription is asked of real WASI one at a time (regular files and stdio are always ready there,
and real WASI writes the exact event: nbytes left, flags); sockets are ``poll()``ed.
"""

from __future__ import annotations

import array
import fcntl
import struct
import termios
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import errno
from .memory import GuestMemory, check, put_u32
from .readiness import READABLE, WRITABLE, Waiter
from .sockets import POLL_SLICE, GuestSocket, SocketTable, StopSignal

if TYPE_CHECKING:
    from .clock import GuestClock

CLOCK, FD_READ, FD_WRITE = 0, 1, 2
ABSTIME = 1
HANGUP = 1
_SUB = struct.Struct("<QB")
_CLOCK = struct.Struct("<I4xQQH")  # subscription_clock: id u32, pad, timeout u64, precision u64, flags u16
_EVENT = struct.Struct("<QHB5xQH6x")
_FD_SUB = struct.Struct("<QB7xI")  # userdata, tag, then subscription_fd_readwrite's fd
_U32 = struct.Struct("<I")


@dataclass
class _Plan:
    """A decoded call whose subscriptions are all on sockets. An event loop passes the same bytes
    call after call (wasi-libc's userdata is the pollfd's address), so the decoding is kept while
    they and the socket table stay the same."""

    key: bytes
    generation: int
    masks: dict[int, int]  # host fd -> poll mask, the stop pipe included
    subs: dict[int, list[tuple[int, int, GuestSocket]]]  # host fd -> (userdata, tag, socket)


class Poller:
    def __init__(self, table: SocketTable, stop: StopSignal) -> None:
        self.table = table
        self.stop = stop
        self.memory: GuestMemory | None = None
        self.real: Callable[..., int] | None = None
        self.clock_time_get: Callable[..., int] | None = None
        self.clock: GuestClock | None = None
        """A clock the test controls (clock.py): clock waits are then in its time, not the host's."""
        self.waiter = Waiter()  # one poll object for the guest thread's whole life
        self._count = array.array("i", [0])  # FIONREAD's answer, written in place
        self._plan: _Plan | None = None

    def _deadline(self, caller: Any, clock_id: int, timeout: int, flags: int, scratch: int) -> float:
        """A clock subscription as a ``time.monotonic()`` deadline, or in a controlled clock's elapsed
        nanoseconds (``_now`` is in the same terms).

        An absolute timeout is in the guest's clock (wasmtime's monotonic clock has its own epoch), so
        the guest's "now" is read through real WASI into ``scratch`` (the event buffer, not yet written).
        """
        if self.clock is not None:
            return float(self.clock.deadline(clock_id, timeout, bool(flags & ABSTIME)))
        if not flags & ABSTIME:
            return time.monotonic() + timeout / 1e9
        assert self.memory is not None and self.clock_time_get is not None
        if self.clock_time_get(caller, clock_id, 1, scratch) != 0:
            return time.monotonic()  # unknown clock: wake at once rather than never
        now: int = struct.unpack_from("<Q", self.memory.view(caller), scratch)[0]
        return time.monotonic() + max(0, timeout - now) / 1e9

    def poll_oneoff(self, caller: Any, in_ptr: int, out_ptr: int, nsubs: int, nevents_ptr: int) -> int:
        assert self.memory is not None and self.real is not None
        if nsubs == 0:
            return errno.INVAL
        view, mv = self.memory.buffers(caller)
        check(view, in_ptr, 48 * nsubs)
        check(view, out_ptr, 32 * nsubs)
        key = mv[in_ptr : in_ptr + 48 * nsubs].tobytes()
        plan = self._plan
        if plan is None or plan.key != key or plan.generation != self.table.generation:
            plan = self._plan = self._sockets_only(key)
        if plan is not None:
            return self._poll_sockets(view, plan, out_ptr, nevents_ptr)
        return self._poll_mixed(caller, view, in_ptr, out_ptr, nsubs, nevents_ptr)

    def _sockets_only(self, key: bytes) -> _Plan | None:
        fds = self.table.fds
        masks = {self.stop.fileno(): READABLE}
        subs: dict[int, list[tuple[int, int, GuestSocket]]] = {}
        for base in range(0, len(key), 48):
            userdata, tag, fd = _FD_SUB.unpack_from(key, base)
            gs = fds.get(fd) if tag in (FD_READ, FD_WRITE) else None
            if gs is None:
                return None
            sfd = gs.sock.fileno()
            masks[sfd] = masks.get(sfd, 0) | (READABLE if tag == FD_READ else WRITABLE)
            subs.setdefault(sfd, []).append((userdata, tag, gs))
        return _Plan(key, self.table.generation, masks, subs)

    def _poll_sockets(self, view: Any, plan: _Plan, out_ptr: int, nevents_ptr: int) -> int:
        """The hot path: sockets only, no timeout. Wait, then write one event per ready subscription
        (``view`` stays valid: the memory cannot grow while its guest waits on us)."""
        wait, masks, subs, stop = self.waiter.wait, plan.masks, plan.subs, self.stop
        while True:
            if stop.is_set():
                raise errno.stopped()
            got = wait(masks, POLL_SLICE)
            if not got:
                continue
            nevents = 0
            for sfd, revents in got.items():
                for userdata, tag, gs in subs.get(sfd, ()):
                    if tag == FD_READ:
                        if revents & READABLE:
                            nbytes, flags = self._readable(gs)
                            _EVENT.pack_into(
                                view, out_ptr + 32 * nevents, userdata, 0, FD_READ, nbytes, flags
                            )
                            nevents += 1
                    elif revents & WRITABLE:
                        _EVENT.pack_into(view, out_ptr + 32 * nevents, userdata, 0, FD_WRITE, 65536, 0)
                        nevents += 1
            if nevents:  # else only the stop pipe, or POLLNVAL: no event for the guest
                put_u32(view, nevents_ptr, nevents)
                return 0

    def _readable(self, gs: GuestSocket) -> tuple[int, int]:
        """A read event's nbytes and flags: the bytes waiting (as wasmtime reports), 0 + HANGUP at EOF."""
        if gs.listening:
            return 1, 0
        try:
            fcntl.ioctl(gs.sock.fileno(), termios.FIONREAD, self._count, True)
        except OSError:
            return 0, HANGUP
        nbytes = self._count[0]
        return nbytes, HANGUP if nbytes == 0 else 0

    def _poll_mixed(
        self, caller: Any, view: Any, in_ptr: int, out_ptr: int, nsubs: int, nevents_ptr: int
    ) -> int:
        """Clocks, wasmtime's fds and sockets together."""
        assert self.memory is not None and self.real is not None
        fds = self.table.fds
        clocks: list[tuple[int, float]] = []
        socks: list[tuple[int, int, GuestSocket]] = []  # (userdata, tag, socket)
        foreign: list[int] = []  # indexes of subscriptions on wasmtime's fds
        for base in range(in_ptr, in_ptr + 48 * nsubs, 48):
            userdata, tag, fd = _FD_SUB.unpack_from(view, base)
            if tag in (FD_READ, FD_WRITE):
                gs = fds.get(fd)
                if gs is not None:
                    socks.append((userdata, tag, gs))
                else:
                    foreign.append((base - in_ptr) // 48)
            elif tag == CLOCK:
                clock_id, timeout, _precision, flags = _CLOCK.unpack_from(view, base + 16)
                clocks.append((userdata, self._deadline(caller, clock_id, timeout, flags, out_ptr)))
                view = self.memory.view(caller)
            else:
                return errno.INVAL
        if not socks and foreign and (self.clock is None or not clocks):
            rc = int(self.real(caller, in_ptr, out_ptr, nsubs, nevents_ptr))
            if rc == 0:
                return 0
            view = self.memory.view(caller)  # an error: find the culprit one subscription at a time

        nevents = 0
        for i in foreign:  # real WASI answers these at once (files and stdio are always ready)
            rc = int(self.real(caller, in_ptr + 48 * i, out_ptr + 32 * nevents, 1, nevents_ptr))
            view = self.memory.view(caller)
            if rc != 0:
                # One bad subscription (a closed fd, say) is that event's error, as WasmEdge
                # reports it; failing the whole call would stop an event loop (tokio/mio) for good.
                userdata, tag = _SUB.unpack_from(view, in_ptr + 48 * i)
                _EVENT.pack_into(view, out_ptr + 32 * nevents, userdata, rc, tag, 0, 0)
                nevents += 1
                continue
            nevents += _U32.unpack_from(view, nevents_ptr)[0]

        end = min((d for _, d in clocks), default=None)
        wake = self.stop.fileno()
        masks = {wake: READABLE}
        clock = self.clock
        if clock is not None:
            masks[clock.fileno()] = READABLE
        for _, tag, gs in socks:
            sfd = gs.sock.fileno()
            masks[sfd] = masks.get(sfd, 0) | (READABLE if tag == FD_READ else WRITABLE)
        got: dict[int, int] = {}
        while True:
            if self.stop.is_set():
                raise errno.stopped()
            if nevents:
                left = 0.0
            elif end is None:
                left = POLL_SLICE
            elif clock is not None:
                until = clock.seconds_until(int(end))
                left = POLL_SLICE if until is None else min(POLL_SLICE, until)
            else:
                left = max(0.0, min(POLL_SLICE, end - time.monotonic()))
            if socks or clock is not None:
                got = self.waiter.wait(masks, left)
                if got:  # the stop pipe's wake-up, a clock's advance, or POLLNVAL: no event for the guest
                    if clock is not None and clock.fileno() in got:
                        clock.drain()
                    skip = (wake, clock.fileno() if clock is not None else -1)
                    got = {fd: ev for fd, ev in got.items() if ev & masks[fd] and fd not in skip}
            elif left:
                self.stop.wait(left)
            if got or nevents or (end is not None and self._now() >= end):
                break

        view = self.memory.view(caller)
        first = nevents
        for userdata, tag, gs in socks:
            revents = got.get(gs.sock.fileno(), 0)
            if tag == FD_READ:
                if not revents & READABLE:
                    continue
                nbytes, flags = self._readable(gs)
                _EVENT.pack_into(view, out_ptr + 32 * nevents, userdata, 0, FD_READ, nbytes, flags)
                nevents += 1
            elif revents & WRITABLE:
                _EVENT.pack_into(view, out_ptr + 32 * nevents, userdata, 0, FD_WRITE, 65536, 0)
                nevents += 1
        if nevents == first == 0:
            now = self._now()
            for userdata, deadline in clocks:
                if deadline <= now + (1e-4 if clock is None else 0):
                    _EVENT.pack_into(view, out_ptr + 32 * nevents, userdata, 0, CLOCK, 0, 0)
                    nevents += 1
        put_u32(view, nevents_ptr, nevents)
        return 0

    def _now(self) -> float:
        """Now, in the terms of ``_deadline``."""
        return float(self.clock.elapsed_ns()) if self.clock is not None else time.monotonic()
