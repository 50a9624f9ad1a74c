"""Figure 1, warm start: image and compiled module cached; start to first HTTP response.

Measured twice on our side: through ``WasmSession.start`` (what ``wasm_container_factory`` calls:
settings, readiness wait, container handle) and through the runtime alone (``Runtime.start`` plus
``WasmProcess.wait_for_port``), so a gap between the two points at the layer above the runtime."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from . import docker_baseline, ours
from .image import PORT
from .probe import wait_first_response
from .stats import Figure, Series, Target


def _factory(session: Any, ref: str, repeats: int, series: Series) -> None:
    parts: dict[str, list[float]] = {"runtime start": [], "readiness wait": [], "rest": []}
    for _ in range(repeats):
        started = ours.start_and_probe(session, ref)
        stats = started.container.stats
        total = started.seconds * 1000
        series.samples.append(total)
        parts["runtime start"].append(stats.start_seconds * 1000)
        parts["readiness wait"].append(stats.ready_seconds * 1000)
        parts["rest"].append(max(total - (stats.start_seconds + stats.ready_seconds) * 1000, 0.0))
        t0 = time.perf_counter()
        session.stop(started.container)
        series.extra.setdefault("stop afterwards (ms)", []).append((time.perf_counter() - t0) * 1000)
    series.breakdown = parts
    series.notes.append("'rest' is settings, the container handle and the first request")


def _runtime(session: Any, ref: str, repeats: int, series: Series) -> None:
    from pytest_wasmcontainers.container import run_spec

    spec = run_spec(session.pull(ref), ours.settings(ref), "bench-runtime")
    parts: dict[str, list[float]] = {"Runtime.start": [], "wait_for_port": [], "first response": []}
    for _ in range(repeats):
        t0 = time.perf_counter()
        process = session.runtime.start(spec)
        t1 = time.perf_counter()
        port = process.wait_for_port(PORT, 30)
        t2 = time.perf_counter()
        wait_first_response("127.0.0.1", port, timeout=30)
        t3 = time.perf_counter()
        process.stop()
        series.samples.append((t3 - t0) * 1000)
        for name, a, b in (("Runtime.start", t0, t1), ("wait_for_port", t1, t2), ("first response", t2, t3)):
            parts[name].append((b - a) * 1000)
    series.breakdown = parts


def measure(
    repeats: int, ref: str | None, registry: str, cache_dir: Path, why_not: str | None
) -> list[Figure]:
    factory = Series("wasm_container_factory (WasmSession.start)")
    runtime = Series("Runtime.start + wait_for_port")
    if why_not:
        factory.unavailable = runtime.unavailable = why_not
    else:
        session = ours.new_session(cache_dir, registry)
        try:
            for _ in range(2):  # pull, compile and warm every cache; not counted
                with ours.one_container(session, ref):  # type: ignore[arg-type]
                    pass
            for series, run in ((factory, _factory), (runtime, _runtime)):
                try:
                    run(session, ref, repeats, series)  # type: ignore[arg-type]
                except Exception as e:  # a broken runtime is a result to report, not a crash
                    series.samples.clear()
                    series.unavailable = f"failed: {type(e).__name__}: {e}"
        finally:
            session.close()
    base, _ = docker_baseline.measure(repeats)
    target = Target(
        "median <= 2.5 ms and >= 150x faster than Docker",
        lambda m, b: m <= 2.5 and b is not None and b / m >= 150,
        needs_baseline=True,
    )
    return [
        Figure("warm_start", "Warm start to first HTTP response", "ms", "lower", factory, base, target),
        Figure(
            "warm_start_runtime",
            "Warm start, the runtime alone (no readiness polling)",
            "ms",
            "lower",
            runtime,
            base,
            notes=["for diagnosis: the same start without the container layer's readiness loop"],
        ),
    ]
