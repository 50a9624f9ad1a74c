"""Load generation with wrk (C, epoll, keep-alive): fast enough not to be the bottleneck on this
machine, and it runs in its own process so it never competes for the benchmark's GIL."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass

_UNITS = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6}


def wrk_path() -> str | None:
    return shutil.which("wrk")


def wrk_version() -> str | None:
    exe = wrk_path()
    if not exe:
        return None
    out = subprocess.run([exe, "-v"], capture_output=True, text=True)  # exits 1 after printing it
    first = (out.stdout or out.stderr).strip().split(" [", 1)[0]  # "wrk debian/4.1.0-3+b2 [epoll] ..."
    return first or None


@dataclass
class WrkRun:
    requests_per_second: float
    requests: int


def requests_per_second(url: str, connections: int, seconds: float, threads: int = 1) -> float:
    return run(url, connections, seconds, threads).requests_per_second


def run(url: str, connections: int, seconds: float, threads: int = 1) -> WrkRun:
    """Run wrk once; fails loudly on socket errors or non-2xx replies."""
    exe = wrk_path()
    if not exe:
        raise RuntimeError("wrk is not installed (apt-get install wrk)")
    cmd = [exe, f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "5s", url]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30)
    text = out.stdout + out.stderr
    if out.returncode != 0:
        raise RuntimeError(f"wrk failed ({out.returncode}): {text}")
    for bad in ("Socket errors", "Non-2xx"):
        if bad in text:
            raise RuntimeError(f"wrk saw errors against {url}:\n{text}")
    m = re.search(r"Requests/sec:\s+([\d.]+)([kKM]?)", text)
    n = re.search(r"(\d+) requests in", text)
    if not m or not n:
        raise RuntimeError(f"cannot read wrk output:\n{text}")
    return WrkRun(float(m.group(1)) * _UNITS[m.group(2)], int(n.group(1)))
