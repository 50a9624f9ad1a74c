"""Reading and writing guest linear memory from host functions.

A view is a ctypes array over the memory, made once per host call (the memory can grow, and move,
between calls) and then used with ``struct`` for every field: much cheaper than a call per field.
"""

from __future__ import annotations

import ctypes
import struct
from typing import Any

import wasmtime

from . import errno

_U32 = struct.Struct("<I")
_U16 = struct.Struct("<H")
_IOVEC = struct.Struct("<II")


class GuestMemory:
    def __init__(self, memory: wasmtime.Memory) -> None:
        self.memory = memory

    def view(self, store: Any) -> ctypes.Array[ctypes.c_ubyte]:
        n = self.memory.data_len(store)
        addr = ctypes.addressof(self.memory.data_ptr(store).contents)
        return (ctypes.c_ubyte * n).from_address(addr)

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
