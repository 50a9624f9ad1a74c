"""Exit codes, traps, stop() of blocked and spinning guests, limits, logs, bad modules."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from pytest_wasmcontainers.errors import (
    ContainerExitedError,
    UnsupportedImportsError,
    UnsupportedModuleError,
    WasmRuntimeError,
)
from pytest_wasmcontainers.runtime import RunSpec, Runtime

from .conftest import c_guest, http_request


def misbehave(*argv: str, **kw: object) -> RunSpec:
    return RunSpec(c_guest("misbehave"), ["misbehave", *argv], **kw)  # type: ignore[arg-type]


def test_exit_code(runtime: Runtime) -> None:
    proc = runtime.start(misbehave("exit", "7"))
    assert proc.wait(30) == 7
    assert proc.exit_code == 7 and proc.error is None and not proc.running
    assert proc.logs() == "misbehave: exit\n"


def test_trap_is_a_failure_with_its_message(runtime: Runtime) -> None:
    proc = runtime.start(misbehave("trap"))
    assert proc.wait(30) == 134
    assert proc.error is not None and "unreachable" in proc.error
    assert "[wasmcontainers]" in proc.logs() and "unreachable" in proc.logs()


def test_wait_for_port_reports_an_early_exit(runtime: Runtime) -> None:
    proc = runtime.start(misbehave("trap"))
    with pytest.raises(ContainerExitedError) as info:
        proc.wait_for_port(8080, timeout=30)
    assert info.value.exit_code == 134
    assert "misbehave: trap" in str(info.value) and "unreachable" in str(info.value)


def test_wait_for_port_times_out(runtime: Runtime) -> None:
    proc = runtime.start(misbehave("block"))
    try:
        proc.wait_for_port(9000, timeout=30)
        with pytest.raises(TimeoutError, match="did not listen on port 1234"):
            proc.wait_for_port(1234, timeout=0.2)
    finally:
        proc.stop()


def test_runaway_loop_is_stopped(runtime: Runtime) -> None:
    proc = runtime.start(misbehave("spin"))
    proc.wait(0.3)
    assert proc.running
    t0 = time.perf_counter()
    assert proc.stop(timeout=10) == 137
    print(f"stop of a spinning guest took {time.perf_counter() - t0:.3f}s")  # measured, not asserted
    assert not proc.running and proc.error is None


def test_stop_of_a_blocked_guest_spares_its_neighbour(runtime: Runtime) -> None:
    spinning = runtime.start(misbehave("spin"))
    blocked = runtime.start(misbehave("block"))
    try:
        blocked.wait_for_port(9000, timeout=30)
        assert blocked.stop(timeout=10) == 137
        assert spinning.running  # stopping one store never interrupts another on the engine
    finally:
        assert spinning.stop(timeout=10) == 137


def test_memory_limit(runtime: Runtime) -> None:
    proc = runtime.start(misbehave("memhog", memory_limit=32 << 20))
    assert proc.wait(60) == 137
    assert proc.oom_killed
    assert proc.error is not None and "memory limit reached" in proc.error
    assert "memory limit reached" in proc.logs() and "malloc failed" in proc.stderr()


def test_stdin(runtime: Runtime) -> None:
    proc = runtime.start(misbehave("stdin", stdin=b"from the test"))
    assert proc.wait(30) == 0
    assert "stdin: from the test" in proc.stdout()


def test_flooding_guest_keeps_a_bounded_log(runtime: Runtime) -> None:
    proc = runtime.start(misbehave("flood", log_limit=64 << 10))
    assert proc.wait(60) == 0
    text = proc.stdout()
    assert text.startswith("[... ") and "earlier bytes dropped" in text
    assert len(text) < 70 << 10
    assert text.rstrip().endswith("flood line 19999 ..............................................")


def test_unsupported_imports_are_named(runtime: Runtime) -> None:
    with pytest.raises(UnsupportedImportsError) as info:
        runtime.start(RunSpec(c_guest("unsupported"), ["x"]))
    assert "wasi_snapshot_preview1.sock_frobnicate" in str(info.value)
    assert "env.magic_number" in str(info.value)
    assert "wasi_snapshot_preview1.sock_accept with signature (i32, i32, i32, i32) -> (i32)" in str(
        info.value
    )


def test_bad_binaries_are_refused_clearly(runtime: Runtime, tmp_path: Path) -> None:
    comp = tmp_path / "app.wasm"
    comp.write_bytes(b"\0asm\x0d\x00\x01\x00")  # an empty component: valid, but nothing to run
    with pytest.raises(UnsupportedImportsError, match=r"exports neither wasi:cli/run@0\.2\.x \(a command\)"):
        runtime.start(RunSpec(comp, ["app"]))
    broken = tmp_path / "broken.wasm"
    broken.write_bytes(b"\0asm\x0d\x00\x01\x00\x07")
    with pytest.raises(WasmRuntimeError, match=r"broken\.wasm: invalid WebAssembly component"):
        runtime.start(RunSpec(broken, ["app"]))
    future = tmp_path / "future.wasm"
    future.write_bytes(b"\0asm\x02\x00\x00\x00")
    with pytest.raises(UnsupportedModuleError, match="unknown WebAssembly binary version 02000000"):
        runtime.start(RunSpec(future, ["app"]))
    junk = tmp_path / "junk.wasm"
    junk.write_bytes(b"#!/bin/sh\n")
    with pytest.raises(WasmRuntimeError, match="not a WebAssembly binary"):
        runtime.start(RunSpec(junk, ["junk"]))


def test_compiled_module_cache(tmp_path: Path) -> None:
    spec = misbehave("exit", "0")
    with Runtime(tmp_path) as first:
        p1 = first.start(spec)
        p2 = first.start(spec)
        p1.wait(30), p2.wait(30)
        assert p1.timings["module_cache"] == "compiled"
        assert p2.timings["module_cache"] == "memory"
    assert list((tmp_path / "compiled").glob("*.cwasm"))
    with Runtime(tmp_path) as second:  # the next session
        p3 = second.start(spec)
        p3.wait(30)
        assert p3.timings["module_cache"] == "disk"


def _fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def test_nothing_is_left_after_stop(runtime: Runtime) -> None:
    specs = [
        RunSpec(c_guest("http_server"), ["s"], env={"PORT": "8080"}),
        RunSpec(c_guest("event_server"), ["e"], env={"PORT": "7000"}),
        misbehave("spin"),
    ]
    # first use of a module maps its compiled code and memory image once (the runtime's cache,
    # released by close()): warm up, then measure per-container resources
    for spec in specs:
        runtime.start(spec).stop()
    threads, fds = set(threading.enumerate()), _fds()

    procs = [runtime.start(spec) for spec in specs]
    ports = [procs[0].wait_for_port(8080, 30), procs[1].wait_for_port(7000, 30)]
    assert http_request(ports[0], "GET", "/hello")[0] == 200
    assert len(set(threading.enumerate()) - threads) >= 3
    assert _fds() != fds
    for p in procs:
        assert p.stop() == 137

    assert set(threading.enumerate()) == threads
    assert _fds() == fds
    assert not any(p.scratch_dir.exists() for p in procs)
    for port in ports:  # host ports released
        with pytest.raises(ConnectionRefusedError):
            http_request(port, "GET", "/hello")
