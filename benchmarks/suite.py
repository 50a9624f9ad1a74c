"""Figure 5, suite overhead: a pytest run of N tests that each get a fresh function-scoped container
(and make one request to it), against the same N tests without containers. Each run is a real
``python -m pytest`` process in a throwaway project; the image and compiled module are cached first,
as on a developer's second run."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .stats import Figure, Series, Target

WITH = """
import urllib.request

import pytest


@pytest.mark.parametrize("i", range({count}))
def test_fresh_container(wasm_container_factory, i):
    container = wasm_container_factory(ports={{8080: None}})
    with urllib.request.urlopen(container.url(8080), timeout=10) as reply:
        assert reply.read() == b"ok"
"""

WITHOUT = """
import pytest


@pytest.mark.parametrize("i", range({count}))
def test_no_container(i):
    assert i >= 0
"""


REPO = Path(__file__).resolve().parent.parent
PER_TEST_MS = 3.0
"""What a fresh container may add to a test (the wall time with containers, less the same tests
without, over the count): start, readiness, the test's request and the stop, all included."""


def _run(project: Path, test_file: str, args: list[str]) -> float:
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test_file, *args]
    # the plugin from this checkout, whatever the interpreter has installed
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    t0 = time.perf_counter()
    out = subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - t0
    if out.returncode != 0:
        raise RuntimeError(f"pytest failed ({out.returncode}):\n{out.stdout[-3000:]}\n{out.stderr[-2000:]}")
    return seconds


def measure(
    count: int, repeats: int, ref: str | None, registry: str, cache_dir: Path, why_not: str | None
) -> Figure:
    few = max(count // 10, 1)
    mine = Series(f"{count} tests, a fresh container each")
    base = Series(f"the same {count} tests without containers")
    with tempfile.TemporaryDirectory(prefix="bench-suite-") as tmp:
        project = Path(tmp)
        (project / "pytest.ini").write_text("[pytest]\n")  # its own rootdir: no addopts from this repo
        (project / "test_with.py").write_text(WITH.format(count=count))
        (project / "test_with_few.py").write_text(WITH.format(count=few))
        (project / "test_without.py").write_text(WITHOUT.format(count=count))
        args = [
            f"--wasm-image={ref}",
            f"--wasm-insecure-registry={registry}",
            f"--wasm-cache-dir={cache_dir}",
        ]
        for _ in range(repeats):
            base.samples.append(_run(project, "test_without.py", []))
            if why_not:
                continue
            try:
                mine.samples.append(_run(project, "test_with.py", args))
                mine.extra.setdefault(f"{few} tests, a fresh container each (s)", []).append(
                    _run(project, "test_with_few.py", args)
                )
            except Exception as e:
                mine.unavailable = f"failed: {type(e).__name__}: {e}"
                break
    if why_not:
        mine.unavailable = why_not
    fig = Figure(
        key="suite",
        title=f"Suite: {count} tests with a fresh container each (wall time of the pytest run)",
        unit="s",
        better="lower",
        ours=mine,
        baseline=base,
        target=Target(
            f"<= {PER_TEST_MS:g} ms per test over the run without containers",
            lambda m, b: b is not None and (m - b) / count * 1000 <= PER_TEST_MS,
            needs_baseline=True,
        ),
    )
    if mine.ok and base.ok:
        fig.notes.append(f"overhead per test: {(mine.median - base.median) / count * 1000:.1f} ms")
        # The run with few tests splits that into a once-per-session part (importing wasmtime, the
        # engine, loading the module) and what each further test pays.
        small = statistics.median(mine.extra[f"{few} tests, a fresh container each (s)"])
        marginal = (mine.median - small) / (count - few)
        fig.notes.append(
            f"of which per further test: {marginal * 1000:.1f} ms; once per session: "
            f"{(mine.median - base.median - marginal * count) * 1000:.0f} ms "
            f"(from a run of {few} tests beside the {count})"
        )
    return fig
