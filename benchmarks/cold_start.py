"""Figure 2, cold start: empty cache, image in a local registry; pull, unpack, compile, start, first
response. Baseline: the same pull through plain oras-py, a plain tar unpack and a plain wasmtime
compile (a fresh Engine each time, as a new test session would have)."""

from __future__ import annotations

import tarfile
import tempfile
import time
from pathlib import Path

import oras.client
import wasmtime

from . import ours
from .stats import Figure, Series, Target


def _baseline(repeats: int, ref: str, registry: str) -> Series:
    series = Series("oras-py pull (it unpacks the layer) + wasmtime compile")
    parts: dict[str, list[float]] = {"pull+unpack": [], "compile": []}
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix="bench-oras-") as tmp:
            t0 = time.perf_counter()
            client = oras.client.OrasClient(hostname=registry, insecure=True)
            files = client.pull(target=ref, outdir=tmp)
            for f in map(Path, files):
                # oras-py unpacks tar+gzip layers itself (into the out dir); other layers stay blobs
                if f.is_file() and tarfile.is_tarfile(f):
                    with tarfile.open(f) as tar:
                        tar.extractall(tmp, filter="data")
            t1 = time.perf_counter()
            module = wasmtime.Module(wasmtime.Engine(), (Path(tmp) / "app.wasm").read_bytes())
            t2 = time.perf_counter()
            del module
        series.samples.append((t2 - t0) * 1000)
        for name, a, b in (("pull+unpack", t0, t1), ("compile", t1, t2)):
            parts[name].append((b - a) * 1000)
    series.breakdown = parts
    return series


def _ours(repeats: int, ref: str, registry: str) -> Series:
    series = Series("WasmSession with an empty cache dir")
    parts: dict[str, list[float]] = {
        "pull+unpack": [],
        "compile": [],
        "instantiate+run": [],
        "readiness wait": [],
        "rest": [],
    }
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix="bench-cold-") as tmp:
            session = ours.new_session(Path(tmp), registry)
            try:
                started = ours.start_and_probe(session, ref)
                stats = started.container.stats
                session.stop(started.container)
            finally:
                session.close()
        total = started.seconds * 1000
        series.samples.append(total)
        pull = stats.pull_seconds * 1000
        compile_ms = (stats.compile_seconds or 0.0) * 1000  # part of start_seconds
        start = stats.start_seconds * 1000
        ready = stats.ready_seconds * 1000
        parts["pull+unpack"].append(pull)
        parts["compile"].append(compile_ms)
        parts["instantiate+run"].append(max(start - compile_ms, 0.0))
        parts["readiness wait"].append(ready)
        parts["rest"].append(max(total - pull - start - ready, 0.0))
    series.breakdown = parts
    series.notes.append(
        "breakdown from the container's own ContainerStats; 'rest' (engine creation, first request) is the remainder"
    )
    return series


def measure(repeats: int, ref: str, registry: str, why_not: str | None) -> Figure:
    if why_not:
        mine = Series("WasmSession with an empty cache dir", unavailable=why_not)
    else:
        try:
            mine = _ours(repeats, ref, registry)
        except Exception as e:
            mine = Series(
                "WasmSession with an empty cache dir", unavailable=f"failed: {type(e).__name__}: {e}"
            )
    return Figure(
        key="cold_start",
        title="Cold start (empty cache, local registry) to first HTTP response",
        unit="ms",
        better="lower",
        ours=mine,
        baseline=_baseline(repeats, ref, registry),
        target=Target(
            "<= 1.2x the baseline", lambda m, b: b is not None and m <= 1.2 * b, needs_baseline=True
        ),
    )
