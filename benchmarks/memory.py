"""Resident memory and the guest's own linear memory, for the per-container figures."""

from __future__ import annotations

from pathlib import Path

import wasmtime

PAGE = 65536


def rss_bytes(pid: int | str = "self") -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def linear_memory_bytes(module: Path) -> int:
    """The initial size of the module's own memory (what it has before it grows; this guest does not
    grow it). Defined or imported, whichever it has."""
    m = wasmtime.Module(wasmtime.Engine(), module.read_bytes())
    for item in [*m.exports, *m.imports]:
        if isinstance(item.type, wasmtime.MemoryType):
            return int(item.type.limits.min) * PAGE
    return 0
