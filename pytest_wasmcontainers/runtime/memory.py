"""Reading and writing guest linear memory from host functions.

A view is a ctypes array over the memory, used with ``struct`` for every field: much cheaper than
a call per field. Making a view (a new ctypes array type, two calls into wasmtime) costs more than
most host calls' own work, so one view is kept while the memory's size is unchanged: linear memory
never shrinks, and wasmtime moves it only when it grows, so an unchanged size means the same bytes
at the same address. A size check (one raw C call) is all each host call pays.
"""

from __future__ import annotations

import ctypes
import struct
from typing import Any

import wasmtime
from wasmtime import _bindings as ffi

from . import errno

_U32 = struct.Struct("<I")
_U16 = struct.Struct("<H")
_IOVEC = struct.Struct("<II")


class GuestMemory:
    def __init__(self, memory: wasmtime.Memory) -> None:
        self.memory = memory
        self._ref = ctypes.byref(memory._memory)
        self._size = -1
        self._view: ctypes.Array[ctypes.c_ubyte] = (ctypes.c_ubyte * 0)()
        self._mv = memoryview(self._view)

    def view(self, store: Any) -> ctypes.Array[ctypes.c_ubyte]:
        n = ffi.wasmtime_memory_data_size(store._context(), self._ref)
        if n != self._size:
            self._remap(store, n)
        return self._view

    def buffers(self, store: Any) -> tuple[ctypes.Array[ctypes.c_ubyte], memoryview]:
        """The view, and the same memory as a ``memoryview`` (for ``recv_into``/``send`` without a copy)."""
        n = ffi.wasmtime_memory_data_size(store._context(), self._ref)
        if n != self._size:
            self._remap(store, n)
        return self._view, self._mv

    def _remap(self, store: Any, n: int) -> None:
        addr = ctypes.addressof(self.memory.data_ptr(store).contents)
        self._view = (ctypes.c_ubyte * n).from_address(addr)
        self._mv = memoryview(self._view).cast("B")
        self._size = n

    def size(self, store: Any) -> int:
        return int(self.memory.data_len(store))


def check(view: ctypes.Array[ctypes.c_ubyte], ptr: int, n: int) -> None:
    if ptr < 0 or n < 0 or ptr + n > len(view):
        raise errno.WasiError(errno.FAULT)


def u32(view: ctypes.Array[ctypes.c_ubyte], ptr: int) -> int:
    check(view, ptr, 4)
    return int(_U32.unpack_from(view, ptr)[0])


def put_u32(view: ctypes.Array[ctypes.c_ubyte], ptr: int, value: int) -> None:
    check(view, ptr, 4)
    _U32.pack_into(view, ptr, value & 0xFFFFFFFF)


def put_u16(view: ctypes.Array[ctypes.c_ubyte], ptr: int, value: int) -> None:
    check(view, ptr, 2)
    _U16.pack_into(view, ptr, value & 0xFFFF)


def read(view: ctypes.Array[ctypes.c_ubyte], ptr: int, n: int) -> bytes:
    check(view, ptr, n)
    return bytes(view[ptr : ptr + n])


def write(view: ctypes.Array[ctypes.c_ubyte], ptr: int, data: bytes) -> None:
    check(view, ptr, len(data))
    ctypes.memmove(ctypes.addressof(view) + ptr, data, len(data))


def iovecs(view: ctypes.Array[ctypes.c_ubyte], ptr: int, count: int) -> list[tuple[int, int]]:
    check(view, ptr, 8 * count)
    if count == 1:  # the usual case: one buffer
        base, length = _IOVEC.unpack_from(view, ptr)
        if base + length > len(view):
            raise errno.WasiError(errno.FAULT)
        return [(base, length)]
    out = []
    for i in range(count):
        base, length = _IOVEC.unpack_from(view, ptr + 8 * i)
        check(view, base, length)
        out.append((base, length))
    return out


def gather(view: ctypes.Array[ctypes.c_ubyte], vecs: list[tuple[int, int]]) -> bytes:
    if len(vecs) == 1:
        base, length = vecs[0]
        return bytes(view[base : base + length])
    return b"".join(bytes(view[b : b + n]) for b, n in vecs)


def scatter(view: ctypes.Array[ctypes.c_ubyte], vecs: list[tuple[int, int]], data: bytes) -> None:
    off = 0
    start = ctypes.addressof(view)
    for base, length in vecs:
        chunk = data[off : off + length]
        if not chunk:
            break
        ctypes.memmove(start + base, chunk, len(chunk))
        off += len(chunk)
