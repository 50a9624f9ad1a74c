"""Network faults a test injects into one container: latency, partitions, dropped connects, resets
and a bandwidth cap, on the connections the runtime itself makes for the guest (no proxy, no root).

A rule matches outbound connections by the name the guest dialled (``links``/``hosts``) or by the real
``host:port`` it reaches, and inbound ones by the guest port they were accepted on. Rules apply at once,
to open connections too: a partition cuts every matching connection that is open. Each rule has its
own seeded random source, so a run repeats exactly. Knows nothing of pytest.
"""

from __future__ import annotations

import contextlib
import random
import socket
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import errno

Key = tuple[str, str, int]
"""``("out", name or host, port)`` for a connect, ``("in", "", guest port)`` for an accepted one."""
HANG, CUT, RESET, STOPPED = "hang", "cut", "reset", "stopped"
"""What a read or write on a faulted connection meets (``Fault.meet``)."""


def outbound_keys(dialled: str, port: int, host: str, real_port: int) -> tuple[Key, ...]:
    """A connect matches a rule by the name (or address) the guest dialled, or by where it really goes."""
    return (("out", dialled.lower().rstrip("."), port), ("out", host.lower(), real_port))


def inbound_keys(guest_port: int) -> tuple[Key, ...]:
    return (("in", "", guest_port),)


@dataclass
class Fault:
    link: str | None = None
    """A name from links/hosts, or ``host:port`` (outbound)."""
    port: int | None = None
    """A guest port (inbound connections accepted on it)."""
    latency: float = 0.0
    """Seconds added to each read and write."""
    jitter: float = 0.0
    """Up to this many seconds more or less, uniformly."""
    partition: bool = False
    """New connects are refused and open connections are cut (``mode="refuse"``), or both hang
    (``mode="hang"``: a connect never completes, an open connection never moves again)."""
    mode: str = "refuse"
    reset_after: int | None = None
    """Reset a connection once this many bytes crossed it (both ways together)."""
    drop: float = 0.0
    """The probability that a new connect fails (refused)."""
    bandwidth: float | None = None
    """Bytes per second, each way."""
    seed: int | None = None
    rng: random.Random = field(init=False, repr=False)
    owner: Faults | None = field(default=None, repr=False, compare=False)

    def clear(self) -> None:
        """End this fault (the ``with`` block's end does it too)."""
        if self.owner is not None:
            self.owner.remove(self)

    def __enter__(self) -> Fault:
        return self

    def __exit__(self, *exc: object) -> None:
        self.clear()

    def __post_init__(self) -> None:
        if (self.link is None) == (self.port is None):
            raise ValueError("a fault needs exactly one of link= (outbound) or port= (inbound)")
        if self.latency < 0 or self.jitter < 0 or self.jitter > self.latency:
            raise ValueError("latency and jitter must be >= 0, and jitter at most the latency")
        if not 0.0 <= self.drop <= 1.0:
            raise ValueError(f"drop is a probability from 0 to 1, not {self.drop!r}")
        if self.bandwidth is not None and self.bandwidth <= 0:
            raise ValueError(f"bandwidth is in bytes per second and must be > 0, not {self.bandwidth!r}")
        if self.mode not in ("refuse", "hang"):
            raise ValueError(f"mode is 'refuse' or 'hang', not {self.mode!r}")
        if self.mode == "hang" and not self.partition:
            raise ValueError("mode='hang' is a kind of partition: give partition=True with it")
        if self.reset_after is not None and self.reset_after < 0:
            raise ValueError(f"reset_after is a byte count, not {self.reset_after!r}")
        self.rng = random.Random(self.seed)

    def matches(self, key: Key) -> bool:
        kind, host, port = key
        if kind == "in":
            return self.port == port
        if self.link is None:
            return False
        name, sep, want = self.link.rpartition(":")
        if sep and want.isdigit():
            return name.lower() == host and int(want) == port
        return self.link.lower().rstrip(".") == host

    def meet(self, nbytes: int, crossed: int, stop: threading.Event) -> str:
        """What one read or write of ``nbytes`` meets, ``crossed`` bytes having crossed the connection
        with it: ``HANG`` or ``CUT`` under a partition, ``STOPPED`` when stop() came while it was held,
        ``RESET`` past ``reset_after`` (it went through; the connection ends now), else "" (held for
        the latency and bandwidth, then on). One decision for the p1 and p2 socket layers."""
        if self.partition:
            return HANG if self.mode == "hang" else CUT
        hold = self.delay(nbytes)
        if hold and stop.wait(hold):
            return STOPPED
        if self.reset_after is not None and crossed >= self.reset_after:
            return RESET
        return ""

    def delay(self, nbytes: int) -> float:
        """Seconds to hold one read or write of ``nbytes``."""
        wait = self.latency + (self.rng.uniform(-self.jitter, self.jitter) if self.jitter else 0.0)
        if self.bandwidth:
            wait += nbytes / self.bandwidth
        return max(wait, 0.0)


class Faults:
    """One container's rules. ``active`` is read on the socket hot path: False costs one attribute."""

    def __init__(self) -> None:
        self.rules: list[Fault] = []
        self.active = False
        self._lock = threading.Lock()
        self._on_change: list[Callable[[Fault], None]] = []

    def on_change(self, callback: Callable[[Fault], None]) -> None:
        """Called with each rule added (the socket layer cuts what a partition matches)."""
        self._on_change.append(callback)

    def add(self, fault: Fault) -> Fault:
        fault.owner = self
        with self._lock:
            self.rules.append(fault)
            self.active = True
        for callback in list(self._on_change):
            callback(fault)
        return fault

    def remove(self, fault: Fault) -> None:
        with self._lock:
            if fault in self.rules:
                self.rules.remove(fault)
            self.active = bool(self.rules)

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()
            self.active = False

    def match_any(self, keys: tuple[Key, ...]) -> Fault | None:
        for key in keys:
            rule = self.match(key)
            if rule is not None:
                return rule
        return None

    def refuses(self, keys: tuple[Key, ...]) -> bool:
        """A new connect: refused under a partition, or by chance under ``drop``."""
        rule = self.match_any(keys)
        if rule is None or (rule.partition and rule.mode == "hang"):
            return False
        return rule.partition or (rule.drop > 0 and rule.rng.random() < rule.drop)

    def hangs(self, keys: tuple[Key, ...]) -> bool:
        rule = self.match_any(keys)
        return rule is not None and rule.partition and rule.mode == "hang"

    def match(self, key: Key) -> Fault | None:
        """The newest rule for this connection, if any."""
        if not self.active:
            return None
        with self._lock:
            for fault in reversed(self.rules):
                if fault.matches(key):
                    return fault
        return None


class SocketFaults:
    """What the p1 socket layer's connects, accepts, reads and writes meet (``sockets.Sockets`` calls
    these only while ``faults.active``, or for a connection already reset)."""

    def __init__(self, faults: Faults, table: Any, stop: threading.Event) -> None:
        self.faults = faults
        self._table = table
        self._stop = stop
        faults.on_change(self._cut)

    def before(self, gs: Any) -> None:
        """Before a read or write: a reset connection fails as reset; under a hang it stops moving."""
        if gs.reset:
            self.reset(gs)
            raise errno.WasiError(errno.CONNRESET)
        if gs.stuck_peer is None and self.faults.hangs(gs.fault_keys):
            self.hang(gs)

    def after(self, gs: Any, nbytes: int) -> None:
        """After a read or write of ``nbytes`` on ``gs``: hold it for the latency and bandwidth; reset
        it under a partition or past ``reset_after``."""
        rule = self.faults.match_any(gs.fault_keys)
        if rule is None:
            return
        gs.fault_bytes += nbytes
        met = rule.meet(nbytes, gs.fault_bytes, self._stop)
        if met == HANG:
            self.hang(gs)
        elif met == STOPPED:
            raise errno.stopped()
        elif met:
            self.reset(gs)  # past reset_after this read or write went through; a cut one fails
            if met == CUT:
                raise errno.WasiError(errno.CONNRESET)

    def hang(self, gs: Any) -> None:
        """On the guest's thread: the connection never moves again (its data is dropped)."""
        if gs.stuck_peer is not None:
            return
        old = gs.sock
        gs.sock, gs.stuck_peer = stuck_socket()
        self._table.generation += 1
        old.close()

    def _cut(self, fault: Fault) -> None:
        """A new partition cuts the open connections it matches (from the test's thread: only a
        shutdown here, which wakes a guest waiting on them; the guest's thread does the reset)."""
        if not fault.partition or fault.mode == "hang":  # a hang needs no wake-up: nothing comes
            return
        for gs in list(self._table.fds.values()):
            if gs.fault_keys and any(fault.matches(k) for k in gs.fault_keys) and not gs.reset:
                gs.reset = True
                with contextlib.suppress(OSError):
                    gs.sock.shutdown(socket.SHUT_RDWR)

    def reset(self, gs: Any) -> None:
        """On the guest's thread: send a RST (close with a zero linger) and leave the guest a socket
        that reads as reset (readable at once, so a guest waiting in poll wakes)."""
        gs.reset = True
        if gs.reset_done:
            return
        gs.reset_done = True
        with contextlib.suppress(OSError):
            gs.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        old = gs.sock
        dead, other = socket.socketpair()
        other.close()
        dead.setblocking(False)
        gs.sock = dead
        self._table.generation += 1  # decoded poll calls hold the old host fd
        old.close()


def stuck_socket() -> tuple[socket.socket, socket.socket]:
    """A connected pair whose first end never becomes readable or writable: its send buffer is full
    and the peer (kept open by the caller) never reads or writes. What a hung connection looks like."""
    a, b = socket.socketpair()
    a.setblocking(False)
    with contextlib.suppress(BlockingIOError):
        while True:
            a.send(b"\0" * 65536)
    return a, b
