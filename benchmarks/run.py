"""``python -m benchmarks [--quick] [--only NAME,...]``: run every figure, write
``benchmarks/results/<date>-<host>.json`` and ``latest.md``, print the Markdown table.

Exits 1 when a measurement failed outright (a bug, not a missing tool); with
``WASMCONTAINERS_REQUIRE_SERVICES=1`` (CI) an unavailable baseline is a failure too.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import (
    cli_baseline,
    cold_start,
    docker_baseline,
    guests,
    image,
    machine,
    ours,
    proxy,
    report,
    scale,
    suite,
    throughput,
    warm_start,
)
from .registry import local_registry
from .stats import Figure, Series

RESULTS = Path(__file__).resolve().parent / "results"
NAMES = ("warm", "cold", "throughput", "scale", "suite", "proxy")


@dataclass
class Plan:
    warm: int
    cold: int
    tp_runs: int
    tp_seconds: float
    scale_count: int
    scale_runs: int
    suite_count: int
    suite_runs: int


FULL = Plan(
    warm=30, cold=10, tp_runs=5, tp_seconds=3, scale_count=100, scale_runs=3, suite_count=200, suite_runs=3
)
QUICK = Plan(
    warm=5, cold=3, tp_runs=2, tp_seconds=1, scale_count=100, scale_runs=1, suite_count=50, suite_runs=1
)


def _guarded(name: str, fn: Callable[[], list[Figure]]) -> list[Figure]:
    """A crash in one figure is reported as that figure failing; the others still run."""
    t0 = time.perf_counter()
    print(f"== {name}", file=sys.stderr, flush=True)
    try:
        figs = fn()
    except Exception as e:
        why = f"failed: {type(e).__name__}: {e}"
        figs = [Figure(name, name, "", "lower", Series(name, unavailable=why))]
    print(f"   ({time.perf_counter() - t0:.1f} s)", file=sys.stderr, flush=True)
    return figs


def _problems(figures: list[Figure]) -> list[str]:
    strict = os.environ.get("WASMCONTAINERS_REQUIRE_SERVICES", "").lower() in ("1", "true", "yes")
    out = []
    for f in figures:
        for s in (f.ours, f.baseline):
            if s is None or s.ok:
                continue
            why = s.unavailable or "no samples"
            if strict or why.startswith("failed") or "cannot be imported" in why:
                out.append(f"{f.key} / {s.label}: {why}")
    return out


def _revision() -> dict[str, object]:
    """The commit measured, and whether the work tree differed from it."""
    repo = RESULTS.parent.parent

    def git(*args: str) -> str:
        out = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True)
        return out.stdout.strip() if out.returncode == 0 else ""

    changed = git(
        "status", "--porcelain", "--untracked-files=no", "--", "pytest_wasmcontainers", "benchmarks"
    )
    return {"commit": git("rev-parse", "HEAD") or None, "uncommitted_changes": bool(changed)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    p.add_argument("--quick", action="store_true", help="few repeats (the CI smoke, about a minute)")
    p.add_argument("--only", default=",".join(NAMES), help=f"comma-separated subset of {', '.join(NAMES)}")
    p.add_argument("--results", type=Path, default=RESULTS, help="where to write the result files")
    args = p.parse_args(argv)
    only = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = sorted(set(only) - set(NAMES))
    if unknown:
        p.error(f"unknown figure(s) {', '.join(unknown)}; choose from {', '.join(NAMES)}")
    plan = QUICK if args.quick else FULL
    started = dt.datetime.now(dt.timezone.utc)
    docker_baseline.docker_env()  # start the private dockerd first, if that is how Docker is reached
    info = machine.describe(cli_baseline.wasmtime_cli())
    guests.wasmedge_form(), guests.preopened_form()  # build (or find cached) before any timing
    why_not = ours.unavailable_reason()
    figures: list[Figure] = []
    with local_registry() as registry, tempfile.TemporaryDirectory(prefix="bench-cache-") as tmp:
        ref = image.push(guests.wasmedge_form(), registry)
        cache = Path(tmp)  # one image/module cache for the warm figures, new for every run of the suite
        steps: dict[str, Callable[[], list[Figure]]] = {
            "warm": lambda: warm_start.measure(plan.warm, ref, registry, cache, why_not),
            "cold": lambda: [cold_start.measure(plan.cold, ref, registry, why_not)],
            "throughput": lambda: throughput.measure(
                plan.tp_runs, plan.tp_seconds, ref, registry, cache, why_not
            ),
            "scale": lambda: scale.measure(plan.scale_count, plan.scale_runs, ref, registry, cache, why_not),
            "suite": lambda: [
                suite.measure(plan.suite_count, plan.suite_runs, ref, registry, cache, why_not)
            ],
            "proxy": lambda: proxy.measure(
                plan.warm, plan.tp_runs, plan.tp_seconds, guests.runtime_cache(), why_not
            ),
        }
        for name in NAMES:
            if name in only:
                figures += _guarded(name, steps[name])
    info["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    mode = "quick" if args.quick else "full"
    when = started.strftime("%Y-%m-%d %H:%M UTC")
    revision = _revision()
    commit = str(revision["commit"] or "")[:10] + ("+changes" if revision["uncommitted_changes"] else "")
    md = report.markdown(figures, info, mode, when, commit)
    stem = f"{started:%Y-%m-%d}-{platform.node() or 'host'}" + ("-quick" if args.quick else "")
    meta = {"started": started.isoformat(), "mode": mode, "plan": plan.__dict__, "only": only, **revision}
    path = report.write(args.results, stem, figures, info, meta, md)
    (args.results / ("latest-quick.md" if args.quick else "latest.md")).write_text(md)
    print(md)
    print(f"results: {path}", file=sys.stderr)
    problems = _problems(figures)
    for line in problems:
        print(f"PROBLEM: {line}", file=sys.stderr)
    return 1 if problems else 0
