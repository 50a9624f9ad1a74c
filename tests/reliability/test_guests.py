"""Guest misbehaviour (the reliability matrix): guests that trap, hoard sockets, flood their log,
hit their memory limit or busy-poll, each beside a healthy neighbour that must keep answering.

A case survives when the host process lives on, the neighbour still serves, the guest ends with an
exit code the runtime chose (a trap, an errno it acted on, a stop) and nothing is left behind:
fds, threads, scratch dirs and host ports are measured before and after.
"""

from __future__ import annotations

import functools
import hashlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pytest_wasmcontainers.runtime import RunSpec, Runtime, WasmProcess
from tests.reliability.matrix import Row, record
from tests.support.toolchains import BUILD_CACHE, build_c

GUESTS = Path(__file__).resolve().parent / "guests"
C_HEADERS = Path(__file__).resolve().parent.parent / "guests" / "c"
MIB = 1 << 20
SECTION = "Guest misbehaviour"


@functools.cache
def bad_guest() -> Path:
    header = (C_HEADERS / "wasmedge_sock.h").read_bytes()
    digest = hashlib.sha256(header).hexdigest()[:12]  # the header is part of the build's identity
    return build_c(GUESTS / "badguest.c", flags=("-O2", f"-I{C_HEADERS}", f"-DSOCK_H={digest}"))


def spec(*argv: str, **kw: object) -> RunSpec:
    return RunSpec(bad_guest(), ["bad", *argv], **kw)  # type: ignore[arg-type]


def fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def scratch_dirs(rt: Runtime) -> list[str]:
    """This process's container scratch dirs (``c-<pid>-...``) still on disk."""
    root = rt.scratch_root
    mine = f"c-{os.getpid()}-"
    return sorted(d.name for d in root.iterdir() if d.name.startswith(mine)) if root.is_dir() else []


def answers(port: int, timeout: float = 10.0) -> bool:
    """Whether a ``serve`` guest on ``port`` still says ok."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            data = b""
            while len(data) < 3 and (chunk := s.recv(16)):
                data += chunk
            return data == b"ok\n"
    except OSError:
        return False


def refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    except OSError:
        return False
    return False


class Baseline:
    """fds, threads and scratch dirs of this process now, to compare with after a case."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.fds, self.threads = fds(), set(threading.enumerate())
        self.dirs = set(scratch_dirs(rt))  # the neighbour's

    def leaks(self, timeout: float = 5.0) -> str:
        """What is left that was not there before ("" when nothing); waits a bit for threads."""
        end = time.monotonic() + timeout
        while True:
            extra_fds = len(fds() - self.fds)
            extra_threads = [t.name for t in set(threading.enumerate()) - self.threads]
            dirs = sorted(set(scratch_dirs(self.rt)) - self.dirs)
            if not (extra_fds or extra_threads or dirs) or time.monotonic() > end:
                break
            time.sleep(0.05)
        parts = [f"{extra_fds} fds"] * bool(extra_fds) + [f"threads {extra_threads}"] * bool(extra_threads)
        return ", ".join(parts + [f"scratch dirs {dirs}"] * bool(dirs))


@pytest.fixture(scope="module")
def rt() -> Iterator[Runtime]:
    runtime = Runtime(BUILD_CACHE / "runtime")
    # wasmtime makes an epoll and an eventfd at the first output of any guest, once per process
    warm = runtime.start(spec("sockets", "1"))
    warm.wait_for_port(9000, 60)
    while "opened" not in warm.stdout():
        time.sleep(0.01)
    warm.stop()
    yield runtime
    runtime.close()


@pytest.fixture
def neighbour(rt: Runtime) -> Iterator[tuple[WasmProcess, int]]:
    """A healthy container beside the misbehaving one; warm-up of the module happens here too."""
    proc = rt.start(spec("serve"))
    port = proc.wait_for_port(8080, 60)
    assert answers(port)
    yield proc, port
    proc.stop()


def finish(
    rt: Runtime, base: Baseline, neighbour: tuple[WasmProcess, int], what: str, tried: int, survived: int
) -> None:
    """Check the neighbour and the leaks, record the row, then assert what it says."""
    proc, port = neighbour
    alive = proc.running and answers(port)
    leaks = base.leaks()
    lost = (
        "; ".join([x for x in (leaks, "" if alive else "the neighbour stopped answering") if x]) or "nothing"
    )
    record(Row(SECTION, what, tried, survived if alive and not leaks else 0, lost))
    assert alive, "the neighbour container stopped answering"
    assert not leaks, leaks
    assert survived == tried, f"{tried - survived} of {tried} cases failed ({what})"


@pytest.mark.slow
def test_trap_storm(rt: Runtime, neighbour: tuple[WasmProcess, int]) -> None:
    """1,000 starts of a guest that traps at once, from 4 threads."""
    rt.start(spec("trap")).wait(60)  # warm: its first run maps the module once
    base = Baseline(rt)

    def one(_: int) -> bool:
        proc = rt.start(spec("trap"))
        code = proc.wait(60)
        proc.join(10)
        return code == 134 and "unreachable" in (proc.error or "") and not proc.scratch_dir.exists()

    with ThreadPoolExecutor(4) as pool:
        survived = sum(pool.map(one, range(1000)))
    finish(rt, base, neighbour, "trap storm: 1,000 starts of a guest that traps", 1000, survived)


def test_ten_thousand_sockets(rt: Runtime, neighbour: tuple[WasmProcess, int]) -> None:
    """One guest opens 10,000 sockets: it gets errnos at its limit, and every socket is released."""
    base = Baseline(rt)
    proc = rt.start(spec("sockets", "10000"))
    port = proc.wait_for_port(9000, 60)
    end = time.monotonic() + 60
    while "opened" not in proc.stdout() and time.monotonic() < end:
        time.sleep(0.05)
    line = proc.stdout().strip().splitlines()[-1]
    opened, failed, err = (int(x) for x in line.split()[1::2])
    held = len(fds() - base.fds)
    with open(os.devnull) as f:  # the host can still open files
        host_ok = f.fileno() >= 0
    print(f"{line}; host fds held meanwhile: {held}")
    assert opened + failed == 10000 and host_ok
    assert proc.stop() == 137 and refused(port)
    limit = rt.socket_limit
    ok = opened == min(10000, limit - 1) and failed == 10000 - opened and (not failed or err == 33)
    finish(
        rt, base, neighbour, f"10,000 sockets opened by one guest (limit {limit}: MFILE beyond)", 1, int(ok)
    )


@pytest.mark.slow
def test_log_flood_of_one_gib(rt: Runtime, neighbour: tuple[WasmProcess, int]) -> None:
    """1 GiB to stdout: the log ring keeps its bound and the process's RSS stays flat."""
    base, before, peak = Baseline(rt), rss(), [0]
    proc = rt.start(spec("flood", "1024"))
    t0 = time.perf_counter()
    while proc.running:
        peak[0] = max(peak[0], rss())
        proc.wait(0.05)
    took = time.perf_counter() - t0
    growth = peak[0] - before
    kept = len(proc.logs().encode())
    print(f"1 GiB flood: {took:.1f}s, peak RSS growth {growth / MIB:.1f} MiB, log kept {kept} bytes")
    ok = proc.exit_code == 0 and kept <= (1 << 20) + 100 and growth < 64 * MIB
    finish(rt, base, neighbour, "log flood of 1 GiB (RSS growth < 64 MiB, log ring 1 MiB)", 1, int(ok))
    assert growth < 64 * MIB, f"RSS grew {growth / MIB:.1f} MiB during the flood"


def test_memory_up_to_the_limit(rt: Runtime, neighbour: tuple[WasmProcess, int]) -> None:
    """Guests that malloc until it fails, under limits of 24, 32 and 64 MiB (the guest's own minimum
    is about 16 MiB: zig's default stack)."""
    base = Baseline(rt)
    survived = 0
    limits = [24 * MIB, 32 * MIB, 64 * MIB] * 3
    for limit in limits:
        proc = rt.start(spec("memhog", memory_limit=limit))
        code = proc.wait(60)
        proc.join(10)
        error = proc.error or ""
        survived += (
            code == 137 and proc.oom_killed and "memory limit" in error and "malloc failed" in proc.logs()
        )
    finish(rt, base, neighbour, "memory up to the limit (24/32/64 MiB, verdict: memory limit)", 9, survived)


def test_poll_with_zero_timeout_forever(rt: Runtime, neighbour: tuple[WasmProcess, int]) -> None:
    """A guest busy in ``poll_oneoff(timeout=0)`` is stopped promptly, and its neighbour answers meanwhile."""
    base = Baseline(rt)
    survived, stops = 0, []
    for _ in range(10):
        proc = rt.start(spec("poll0"))
        end = time.monotonic() + 30
        while "polling" not in proc.stdout() and time.monotonic() < end:
            time.sleep(0.01)
        served = answers(neighbour[1])  # while the guest busy-polls
        t0 = time.perf_counter()
        code = proc.stop(10)
        stops.append(time.perf_counter() - t0)
        survived += code == 137 and served and stops[-1] < 1.0
    print(
        f"stop of a zero-timeout poller: median {sorted(stops)[5] * 1e3:.1f} ms, max {max(stops) * 1e3:.1f} ms"
    )
    finish(rt, base, neighbour, "poll_oneoff with timeout 0 forever (stopped in < 1 s)", 10, survived)
