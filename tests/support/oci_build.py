"""Test-only helpers for images: tiny Wasm modules and hand-made (also hostile) layer tars."""

from __future__ import annotations

import io
import tarfile
from dataclasses import dataclass

import wasmtime

# A WASI command that does nothing: enough for the images layer, which never runs it.
NOOP_WAT = '(module (memory (export "memory") 1) (func (export "_start")))'


def noop_module(tag: str = "") -> bytes:
    """A valid core module; ``tag`` goes into a custom section so each test can have distinct bytes."""
    wasm = bytes(wasmtime.wat2wasm(NOOP_WAT))
    if not tag:
        return wasm
    name = b"test-tag"
    payload = bytes([len(name)]) + name + tag.encode()
    return wasm + b"\x00" + _leb(len(payload)) + payload


def _leb(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


# A component's header is enough for telling kinds apart: magic, version 0x0d, layer 1.
COMPONENT_HEADER = b"\x00asm\x0d\x00\x01\x00"


@dataclass
class Entry:
    name: str
    type: bytes = tarfile.REGTYPE
    data: bytes = b""
    linkname: str = ""
    mode: int = 0o644


def raw_tar(*entries: Entry) -> bytes:
    """A tar with exactly these entries, in this order (no sanitizing: tests make hostile ones)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for e in entries:
            info = tarfile.TarInfo(e.name)
            info.type, info.linkname, info.mode = e.type, e.linkname, e.mode
            if e.type == tarfile.REGTYPE:
                info.size = len(e.data)
                tf.addfile(info, io.BytesIO(e.data))
            else:
                tf.addfile(info)
    return buf.getvalue()
