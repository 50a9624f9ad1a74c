"""The host state of one component store: its resources, its container's tables, its stop flag.

Host functions run on the thread that called into the guest, one store at a time, so the current
store's context is a thread-local: entering a guest call sets it.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from ..logs import ContainerLog
from ..network import NameTable, PortMap
from ..sockets import StopSignal
from . import cabi

_local = threading.local()
_reps = itertools.count(1)


class Stopped(Exception):
    """The container is stopping: the guest's call traps."""


class GuestExit(Exception):
    """``wasi:cli/exit``: the guest ends with this code."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class Preopen:
    host_path: str
    guest_path: str
    read_only: bool = False


@dataclass
class HostContext:
    """What the WASI interfaces of one store see. Shared tables come from the container."""

    log: ContainerLog
    ports: PortMap
    names: NameTable
    stop: StopSignal
    args: Sequence[str] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    preopens: Sequence[Preopen] = ()
    stdin: bytes | None = None
    tty: bool = False
    copy_up: Callable[[str], None] | None = None
    """Called with a host path before a file of the shared image root is opened for writing."""
    clock: Any = None
    """A ``clock.GuestClock`` the test moves (None: the host's clocks)."""
    faults: Any = None
    """The container's ``faults.Faults`` (what its TCP connections and outgoing requests meet)."""
    table: dict[int, Any] = field(default_factory=dict)
    host_error: str | None = None
    exit_code: int | None = None
    closers: list[Callable[[], None]] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    """Per-store state of the interfaces (the stdin stream, the network resource, ...)."""

    @contextmanager
    def entered(self) -> Iterator[HostContext]:
        previous = getattr(_local, "ctx", None)
        _local.ctx = self
        try:
            yield self
        finally:
            _local.ctx = previous

    def check_stop(self) -> None:
        if self.stop.is_set():
            raise Stopped("container stopped")

    def close(self) -> None:
        """Release every resource the guest still holds (sockets, files) and run the closers."""
        objs = list(self.table.values())
        self.table.clear()
        for obj in objs:
            drop(obj)
        for close in self.closers:
            close()
        self.closers.clear()


def current_or_none() -> HostContext | None:
    return getattr(_local, "ctx", None)


def current() -> HostContext:
    ctx: HostContext | None = getattr(_local, "ctx", None)
    if ctx is None:
        raise RuntimeError("a WASI host function ran outside a guest call")
    return ctx


def drop(obj: Any) -> None:
    close = getattr(obj, "drop", None)
    if close is not None:
        with suppress(OSError):
            close()


# ---- resource handles: Python objects in the current store's table ---------------------------
_type_ids: dict[type, int] = {}


def register_type(cls: type, type_id: int) -> None:
    _type_ids[cls] = type_id


def type_id(obj: Any) -> int:
    cls = type(obj)
    tid = _type_ids.get(cls)
    if tid is None:
        for base in cls.__mro__[1:]:
            if base in _type_ids:
                tid = _type_ids[cls] = _type_ids[base]
                break
        else:
            raise TypeError(f"{cls.__name__} is not a WASI resource of this host")
    return tid


def _put(obj: Any) -> int:
    rep = next(_reps) & 0xFFFFFFFF
    current().table[rep] = obj
    return rep


def _get(rep: int) -> Any:
    return current().table[rep]


def _take(rep: int) -> Any:
    return current().table.pop(rep)


def on_guest_drop(rep: int) -> None:
    ctx: HostContext | None = getattr(_local, "ctx", None)
    if ctx is not None:
        obj = ctx.table.pop(rep, None)
        if obj is not None:
            drop(obj)


cabi.Resources.type_id = staticmethod(type_id)
cabi.Resources.put = staticmethod(_put)
cabi.Resources.get = staticmethod(_get)
cabi.Resources.take = staticmethod(_take)
