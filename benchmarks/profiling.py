"""``python -m benchmarks.profiling cold|warm|throughput|suite``: where a figure's time goes, under cProfile.

- ``cold``: 5 cold starts, each with a new session and an empty cache directory.
- ``warm``: 20 warm starts through ``WasmSession.start`` (start, readiness, first response, stop).
- ``throughput``: the guest's thread while wrk drives one keep-alive connection for 3 s (cProfile
  follows one thread, so ``WasmProcess._run`` is wrapped to profile the guest's own thread).
- ``suite``: a pytest run of 100 tests with a fresh container each, profiled as a whole.

Profiling slows Python down several times; read the shares and call counts, not the absolute times.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import guests, image, load, ours, suite
from .registry import local_registry


def _warm(ref: str, registry: str, cache: Path, prof: cProfile.Profile) -> None:
    session = ours.new_session(cache, registry)
    try:
        with ours.one_container(session, ref):
            pass
        prof.enable()
        for _ in range(20):
            with ours.one_container(session, ref):
                pass
        prof.disable()
    finally:
        session.close()


def _cold(ref: str, registry: str, cache: Path, prof: cProfile.Profile) -> None:
    for i in range(5):
        session = ours.new_session(cache / str(i), registry)
        try:
            prof.enable()
            with ours.one_container(session, ref):
                pass
            prof.disable()
        finally:
            session.close()


def _throughput(ref: str, registry: str, cache: Path, prof: cProfile.Profile) -> None:
    from pytest_wasmcontainers.runtime import process

    original: Callable[[Any], None] = process.WasmProcess._run

    def run(self: Any) -> None:
        prof.enable()
        try:
            original(self)
        finally:
            prof.disable()

    process.WasmProcess._run = run  # type: ignore[method-assign]
    session = ours.new_session(cache, registry)
    try:
        with ours.one_container(session, ref) as started:
            result = load.run(f"http://127.0.0.1:{started.port}/", 1, 3)
            print(f"{result.requests} requests (profiled: {result.requests_per_second:.0f} req/s)")
    finally:
        session.close()
        process.WasmProcess._run = original  # type: ignore[method-assign,assignment]


def _suite(ref: str, registry: str, cache: Path, out: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-suite-prof-") as tmp:
        project = Path(tmp)
        (project / "pytest.ini").write_text("[pytest]\n")
        (project / "test_with.py").write_text(suite.WITH.format(count=100))
        args = [f"--wasm-image={ref}", f"--wasm-insecure-registry={registry}", f"--wasm-cache-dir={cache}"]
        base = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_with.py", *args]
        subprocess.run(base, cwd=project, capture_output=True)  # warm the cache
        prof = [sys.executable, "-m", "cProfile", "-o", str(out), *base[1:]]
        subprocess.run(prof, cwd=project, check=True, capture_output=True)


def main() -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.profiling", description=__doc__)
    p.add_argument("what", choices=("cold", "warm", "throughput", "suite"))
    p.add_argument("--lines", type=int, default=30)
    p.add_argument("--sort", default="tottime", help="pstats sort key (tottime, cumulative, ncalls)")
    args = p.parse_args()
    with local_registry() as registry, tempfile.TemporaryDirectory(prefix="bench-prof-") as tmp:
        ref = image.push(guests.wasmedge_form(), registry)
        out = Path(tmp) / "profile.out"
        if args.what == "suite":
            _suite(ref, registry, Path(tmp) / "cache", out)
            stats = pstats.Stats(str(out))
        else:
            prof = cProfile.Profile()
            run = {"cold": _cold, "warm": _warm, "throughput": _throughput}[args.what]
            run(ref, registry, Path(tmp) / "cache", prof)
            stats = pstats.Stats(prof)
        stats.sort_stats(args.sort).print_stats(args.lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
