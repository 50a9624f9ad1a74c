"""Host functions defined through wasmtime's *unchecked* C API, for speed and for per-thread errors.

wasmtime-py's ``Linker.define_func`` converts every argument through ``Val`` objects (a few
microseconds per call, and a socket server makes ~7 calls per request), and it hands a host
function's exception to the trapping thread through one global. Here the callback reads the raw
i32/i64 arguments straight from wasmtime's array and turns an exception into a trap of its own.
Arguments arrive unsigned (pointers above 2 GiB stay positive).
"""

from __future__ import annotations

import ctypes
import weakref
from collections.abc import Callable
from typing import Any

import wasmtime
from wasmtime import _bindings as ffi
from wasmtime._func import Caller

_Callback = ffi.wasmtime_func_unchecked_callback_t
# A NULL finalizer: wasmtime may drop a definition late (a gc, interpreter exit), when no Python
# function should be called (or still exist).
_NO_FINALIZER = ffi._wasmtime_linker_define_func_unchecked.argtypes[8]()
_U32, _U64 = 0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF
_SIGNATURES: weakref.WeakKeyDictionary[wasmtime.FuncType, tuple[tuple[bool, ...], bool]] = (
    weakref.WeakKeyDictionary()
)


class GuestTrap(Exception):
    """Trap the guest with this message, as its own fault (not a failure of ours): raised where
    wasmtime's WASI, called on the guest's behalf, trapped it (a bad flag value, a misaligned
    pointer), so the guest gets the trap plain wasmtime would give it."""


def signature(ftype: wasmtime.FuncType) -> tuple[tuple[bool, ...], bool]:
    """Which parameters are i64, and whether it returns an i32 (errno). Read once per type: walking
    wasmtime-py's types costs ~40 us per function, ~0.5 ms per container start."""
    found = _SIGNATURES.get(ftype)
    if found is None:
        params = [str(p) for p in ftype.params]
        returns = [str(r) for r in ftype.results]  # an errno, or nothing (crate 0.1-0.3's sock_close)
        if any(p not in ("i32", "i64") for p in params) or returns not in (["i32"], []):
            raise wasmtime.WasmtimeError(f"unexpected signature {ftype.params} -> {ftype.results}")
        found = _SIGNATURES[ftype] = (tuple(p == "i64" for p in params), bool(returns))
    return found


def define(
    linker: wasmtime.Linker,
    module: str,
    name: str,
    ftype: wasmtime.FuncType,
    impl: Callable[..., int],
    on_error: Callable[[BaseException], None],
) -> Any:
    """Define ``impl(caller, *args) -> int`` as ``module.name``; return the callback to keep alive."""
    try:
        wide, returns = signature(ftype)
    except wasmtime.WasmtimeError as e:
        raise wasmtime.WasmtimeError(f"{module}.{name}: {e}") from None
    count = len(wide)

    def callback(_env: Any, caller_ptr: Any, values: Any, _n: int) -> int:
        caller = Caller(caller_ptr)
        try:
            args = [values[i].i64 & _U64 if wide[i] else values[i].i32 & _U32 for i in range(count)]
            result = impl(caller, *args)
            if returns:
                values[0].i32 = result
            return 0
        except GuestTrap as exc:
            trap = wasmtime.Trap(f"{name}: {exc}")
            return int(ctypes.cast(trap._consume(), ctypes.c_void_p).value or 0)
        except BaseException as exc:
            on_error(exc)
            trap = wasmtime.Trap(f"host function {name} failed: {type(exc).__name__}: {exc}")
            return int(ctypes.cast(trap._consume(), ctypes.c_void_p).value or 0)
        finally:
            caller._invalidate()

    cb = _Callback(callback)
    m, n = module.encode(), name.encode()
    err = ffi.wasmtime_linker_define_func_unchecked(
        linker.ptr(), m, len(m), n, len(n), ftype.ptr(), cb, None, _NO_FINALIZER
    )
    if err:
        raise wasmtime.WasmtimeError._from_ptr(err)
    return cb


def signed(value: int, wide: bool) -> int:
    """Back to the signed form wasmtime-py expects when we forward an argument to real WASI."""
    bits = 64 if wide else 32
    return value - (1 << bits) if value >= 1 << (bits - 1) else value
