"""Interrupting guests that spin in pure Wasm, one store at a time.

The engine runs with epoch interruption. Each store has a deadline callback (wasmtime C API,
through wasmtime-py's ctypes layer) that traps its own guest when that container is stopping, and
otherwise just extends its deadline by one epoch. Nothing ticks while guests run: ``stop()``
advances the (engine-wide) epoch itself, at once and then every ``RETRY`` seconds until the guest
has ended, so a stopping guest traps at its next epoch check (a loop header or a function entry)
without a thread per runtime or per container. Another guest only sees its callback extend its
deadline, so stopping one container never disturbs another on the shared engine.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import Any

import wasmtime
from wasmtime import _bindings as ffi

RETRY = 0.01
"""How often ``stop()`` advances the epoch again while the guest has not ended: a callback that was
running while the first advance happened may have set its deadline past it."""
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
