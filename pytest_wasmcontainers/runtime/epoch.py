"""Interrupting guests that spin in pure Wasm, one store at a time.

The engine runs with epoch interruption. A ticker thread increments the (engine-wide) epoch while
any guest runs; each store has a deadline callback (wasmtime C API, through wasmtime-py's ctypes
layer) that traps its own guest when that container is stopping, and otherwise just extends its
deadline by one tick. So stopping one container never disturbs another on the shared engine.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable
from typing import Any

import wasmtime
from wasmtime import _bindings as ffi

TICK = 0.01
_CONTINUE = 0

_set_callback = ffi.wasmtime_store_epoch_deadline_callback
_CallbackType = ffi._wasmtime_store_epoch_deadline_callback.argtypes[1]
# A NULL finalizer: the store may be dropped late (a gc, interpreter exit), when no Python
# function should be called (or still exist).
_NO_FINALIZER = ffi._wasmtime_store_epoch_deadline_callback.argtypes[3]()


def install_deadline(store: wasmtime.Store, should_stop: Callable[[], bool], message: str) -> Any:
    """Install the per-store callback; return the ctypes callback (keep it alive with the store)."""

    def on_deadline(_ctx: Any, _data: Any, delta: Any, kind: Any) -> int:
        if should_stop():
            err = ffi.wasmtime_error_new(message.encode())
            return int(ctypes.cast(err, ctypes.c_void_p).value or 0)
        delta[0] = 1
        kind[0] = _CONTINUE
        return 0

    callback = _CallbackType(on_deadline)
    _set_callback(store.ptr(), callback, None, _NO_FINALIZER)
    store.set_epoch_deadline(1)
    return callback


class EpochTicker:
    """Increments the engine's epoch every ``TICK`` seconds while at least one guest runs."""

    def __init__(self, engine: wasmtime.Engine) -> None:
        self.engine = engine
        self._users = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self) -> None:
        with self._lock:
            self._users += 1
            if self._thread is None:
                self._stop = threading.Event()
                self._thread = threading.Thread(
                    target=self._run, args=(self._stop,), name="wasm-epoch", daemon=True
                )
                self._thread.start()

    def release(self) -> None:
        with self._lock:
            self._users -= 1
            thread = self._thread if self._users == 0 else None
            if thread is not None:
                self._stop.set()
                self._thread = None
        if thread is not None:
            thread.join()

    def kick(self) -> None:
        """Advance the epoch now: a stopping guest traps at its next check instead of waiting up
        to a tick (the others' callbacks just extend their deadlines). Safe from any thread."""
        self.engine.increment_epoch()

    def _run(self, stop: threading.Event) -> None:
        while not stop.wait(TICK):
            self.engine.increment_epoch()
