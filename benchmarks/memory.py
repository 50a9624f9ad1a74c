"""Resident memory, and how much of it is guests' linear memory.

wasmtime reserves each linear memory as one large virtual region (4 GiB plus guard pages) and makes
its first ``size`` bytes read-write, which splits the region: one or more ``rw-p`` mappings (anonymous,
or copy-on-write views of a precompiled module's data) directly followed by a ``---p`` remainder of
1 GiB or more. The RSS of the mappings in the ``size`` bytes before each such remainder is the
resident part of the linear memories: only touched pages, which is what "beyond the guest's own
linear memory" should subtract."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import wasmtime

BIG = 1 << 30
PAGE = 65536


def rss_bytes(pid: int | str = "self") -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def pss_bytes(pid: int | str) -> int:
    """Proportional set size: pages shared between processes (the wasmtime binary) split among
    them, so summing it over 100 processes does not count the shared text 100 times."""
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no Pss for process {pid}")


@dataclass
class _Vma:
    start: int
    end: int
    perms: str
    anonymous: bool
    rss: int = 0


def _vmas(pid: int | str) -> list[_Vma]:
    out: list[_Vma] = []
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            parts = line.split()
            if not parts:
                continue
            if "-" in parts[0] and not parts[0].endswith(":"):
                start, end = (int(x, 16) for x in parts[0].split("-"))
                out.append(_Vma(start, end, parts[1], anonymous=len(parts) < 6))
            elif parts[0] == "Rss:" and out:
                out[-1].rss = int(parts[1]) * 1024
    return out


def linear_memory_bytes(module: Path) -> int:
    """The declared initial size of the module's memory (the benchmark guest never grows it)."""
    m = wasmtime.Module(wasmtime.Engine(), module.read_bytes())
    for item in [*m.exports, *m.imports]:
        kind = getattr(item, "type", None)
        if isinstance(kind, wasmtime.MemoryType):
            return int(kind.limits.min) * PAGE
    return 0


def linear_memory_rss(size: int, pid: int | str = "self") -> int:
    """Resident bytes of every linear memory of ``size`` bytes in the process."""
    vmas = _vmas(pid)
    total = 0
    for rest in vmas:
        if rest.anonymous and rest.perms == "---p" and rest.end - rest.start >= BIG:
            base = rest.start - size
            total += sum(v.rss for v in vmas if v.start >= base and v.end <= rest.start and "w" in v.perms)
    return total
