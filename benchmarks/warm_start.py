"""Figure 1, warm start: image and compiled module cached; start to first HTTP response."""

from __future__ import annotations

from pathlib import Path

from . import docker_baseline, ours
from .stats import Figure, Series, Target


def measure(repeats: int, ref: str | None, registry: str, cache_dir: Path, why_not: str | None) -> Figure:
    mine = Series("wasm_container_factory (WasmSession.start)")
    if why_not:
        mine.unavailable = why_not
    else:
        session = ours.new_session(cache_dir, registry)
        try:
            for _ in range(2):  # pull, compile and warm every cache; not counted
                with ours.one_container(session, ref):  # type: ignore[arg-type]
                    pass
            for _ in range(repeats):
                started = ours.start_and_probe(session, ref)  # type: ignore[arg-type]
                mine.samples.append(started.seconds * 1000)
                session.stop(started.container)
        except Exception as e:  # a broken runtime is a result to report, not a crash of the suite
            mine.unavailable = f"failed: {type(e).__name__}: {e}"
        finally:
            session.close()
    base, _ = docker_baseline.measure(repeats)
    return Figure(
        key="warm_start",
        title="Warm start to first HTTP response",
        unit="ms",
        better="lower",
        ours=mine,
        baseline=base,
        target=Target(
            "median < 10 ms and >= 50x faster than Docker",
            lambda m, b: m < 10 and b is not None and b / m >= 50,
            needs_baseline=True,
        ),
    )
