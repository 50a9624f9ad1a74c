"""Start, trap, stop, spin, flood and memory-hog many guests from several threads at once.

Run as ``python -m tests.runtime.stress MISBEHAVE.wasm CACHE_DIR [ROUNDS]`` (test_stress.py does,
in a subprocess, so a crash shows as a failed test with this process's stderr). Exits 0 and
prints ``ok`` when every guest ended as it should and no fd, thread or scratch dir is left.
"""

from __future__ import annotations

import gc
import os
import random
import sys
import threading
from pathlib import Path

from pytest_wasmcontainers.errors import WasmRuntimeError
from pytest_wasmcontainers.runtime import RunSpec, Runtime, WasmProcess

THREADS = 4
MIB = 1 << 20


def one(rt: Runtime, module: Path, kind: str, rng: random.Random) -> None:
    """One container of the given kind, checked."""
    if kind == "trap":
        proc = rt.start(RunSpec(module, ["m", "trap"]))
        assert proc.wait(60) == 134, (proc.exit_code, proc.error)
        assert proc.error and "unreachable" in proc.error, proc.error
    elif kind == "exit":
        proc = rt.start(RunSpec(module, ["m", "exit", "3"]))
        assert proc.wait(60) == 3, (proc.exit_code, proc.error)
    elif kind == "spin":
        proc = rt.start(RunSpec(module, ["m", "spin"]))
        assert proc.stop(30) == 137, (proc.exit_code, proc.error)
    elif kind == "block":
        proc = rt.start(RunSpec(module, ["m", "block"]))
        proc.wait_for_port(9000, 60)
        assert proc.stop(30) == 137, (proc.exit_code, proc.error)
    elif kind == "flood":  # stopped at a random moment, maybe after it ended by itself
        proc = rt.start(RunSpec(module, ["m", "flood"], log_limit=64 * 1024))
        proc.wait(rng.random() * 0.05)
        assert proc.stop(30) in (0, 137), (proc.exit_code, proc.error)
        assert len(proc.logs()) <= 64 * 1024 + 100
    elif kind == "memhog":
        proc = rt.start(RunSpec(module, ["m", "memhog"], memory_limit=32 * MIB))
        assert proc.wait(60) == 137, (proc.exit_code, proc.error)
        assert proc.oom_killed and proc.error and "memory limit" in proc.error, proc.error
    elif kind == "race":  # stop() racing the guest's own exit
        proc = rt.start(RunSpec(module, ["m", "exit", "0"]))
        assert proc.stop(30) in (0, 137), (proc.exit_code, proc.error)
    else:
        raise ValueError(kind)
    assert not proc.running and not proc.scratch_dir.exists()


KINDS = ["trap", "exit", "spin", "block", "flood", "memhog", "race"]


def worker(rt: Runtime, module: Path, seed: int, rounds: int, errors: list[str]) -> None:
    rng = random.Random(seed)
    for _ in range(rounds):
        kind = rng.choice(KINDS)
        try:
            one(rt, module, kind, rng)
        except BaseException as exc:  # reported by the main thread
            errors.append(f"{kind}: {type(exc).__name__}: {exc}")
        if rng.random() < 0.2:
            gc.collect()  # cycles (and any wasmtime object in them) freed on this thread


def keep_starting(rt: Runtime, module: Path, started: list[WasmProcess], errors: list[str]) -> None:
    for _ in range(200):
        try:
            started.append(rt.start(RunSpec(module, ["m", "spin"])))
        except WasmRuntimeError as exc:
            if "closed" not in str(exc):
                errors.append(f"start racing close(): {exc}")
            return
    errors.append("close() did not stop a thread that kept starting guests")


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def main() -> int:
    module, cache = Path(sys.argv[1]), Path(sys.argv[2])
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 25
    rt = Runtime(cache)
    one(rt, module, "exit", random.Random(0))  # compile and warm up before counting fds
    gc.collect()
    fds_before, threads_before = open_fds(), threading.active_count()
    errors: list[str] = []
    workers = [
        threading.Thread(target=worker, args=(rt, module, seed, rounds, errors)) for seed in range(THREADS)
    ]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    # Runtime.close() while guests run and another thread keeps starting more: every guest ends,
    # and a start that loses the race to close() fails with a clear error
    running = [rt.start(RunSpec(module, ["m", kind])) for kind in ("spin", "block", "flood", "spin")]
    starter = threading.Thread(target=keep_starting, args=(rt, module, running, errors))
    starter.start()
    running[0].wait(0.05)
    rt.close()
    starter.join()
    for proc in list(running):
        if proc.running or proc.exit_code not in (0, 137):
            errors.append(f"after close(): {proc!r} error={proc.error}")
    gc.collect()
    leaked_fds = open_fds() - fds_before
    if leaked_fds:
        errors.append(f"fds left open: {sorted(leaked_fds)}")
    if threading.active_count() > threads_before:
        errors.append(f"threads left: {[t.name for t in threading.enumerate()]}")
    left = [d.name for d in (cache / "containers").iterdir()] if (cache / "containers").is_dir() else []
    if left:
        errors.append(f"scratch dirs left: {left}")
    for e in errors:
        print(e, file=sys.stderr)
    print("ok" if not errors else f"{len(errors)} errors")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
