"""What a start reuses from earlier starts of the same module (digest, import verdict, forwarder
text), and that it reuses nothing stale: a module replaced at the same path runs as the new one."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from pytest_wasmcontainers.errors import UnsupportedImportsError
from pytest_wasmcontainers.runtime import RunSpec, Runtime

from .conftest import c_guest


def test_a_module_replaced_at_the_same_path_runs_as_the_new_one(runtime: Runtime, tmp_path: Path) -> None:
    app = tmp_path / "app.wasm"
    shutil.copyfile(c_guest("misbehave"), app)
    first = runtime.start(RunSpec(app, ["misbehave", "exit", "5"]))
    assert first.wait(30) == 5
    assert runtime.start(RunSpec(app, ["misbehave", "exit", "6"])).wait(30) == 6  # reused: same file

    shutil.copyfile(c_guest("unsupported"), app)
    os.utime(app, ns=(1, 1))  # a copy within the same clock tick must not pass for the old file either
    with pytest.raises(UnsupportedImportsError):
        runtime.start(RunSpec(app, ["x"]))


def test_the_import_verdict_names_each_start(runtime: Runtime) -> None:
    for name in ("first", "second"):
        with pytest.raises(UnsupportedImportsError) as info:
            runtime.start(RunSpec(c_guest("unsupported"), ["x"], name=name))
        assert str(info.value).startswith(f"{name} imports functions this runtime does not provide")
        assert "env.magic_number" in str(info.value)


def test_stops_are_prompt_and_final_without_a_ticking_epoch(runtime: Runtime) -> None:
    # Nothing advances the epoch but stop() itself: a spinning guest, a blocked one and a server
    # stopped in turn all end with 137, each while the others keep running.
    spin = RunSpec(c_guest("misbehave"), ["misbehave", "spin"])
    block = RunSpec(c_guest("misbehave"), ["misbehave", "block"])
    procs = [runtime.start(spin), runtime.start(block), runtime.start(spin)]
    procs[1].wait_for_port(9000, timeout=30)
    for i, proc in enumerate(procs):
        assert proc.stop(timeout=10) == 137
        assert not proc.running and proc.error is None
        assert all(p.running for p in procs[i + 1 :])
        assert not proc.scratch_dir.exists()
