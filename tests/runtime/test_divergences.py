"""Where wasmtime's WASI and WasmEdge's answer a p1 call differently, the guest gets WasmEdge's
answer (tests/guests/c/divergences.c; the table in docs/runtime.md names these tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_wasmcontainers.runtime import RunSpec, Runtime

from .conftest import c_guest


def run(runtime: Runtime, tmp_path: Path, **spec: object) -> dict[str, str]:
    root = tmp_path / "root"
    root.mkdir()
    proc = runtime.start(RunSpec(c_guest("divergences"), ["divergences"], rootfs=root, **spec))  # type: ignore[arg-type]
    assert proc.wait(60) == 0, proc.logs()
    lines = dict(line.split(": ", 1) for line in proc.stdout().splitlines() if ": " in line)
    assert proc.stdout().endswith("done\n")
    return lines


def test_sync_fdflags_are_accepted_and_reported(runtime: Runtime, tmp_path: Path) -> None:
    got = run(runtime, tmp_path)
    assert got["open SYNC"] == "0"  # wasmtime alone: 58 (NOTSUP)
    assert got["fdstat flags"] == "16"  # SYNC, as WasmEdge reports O_SYNC back
    assert got["open DSYNC|RSYNC"] == "0"
    assert got["set_flags SYNC|APPEND"] == "0"  # wasmtime alone: 28 (INVAL)
    assert got["fdstat flags after"] == "17"


def test_fd_allocate_grows_the_file(runtime: Runtime, tmp_path: Path) -> None:
    got = run(runtime, tmp_path)
    assert got["allocate"] == "0 size=4096"  # wasmtime alone: 58 (NOTSUP)


def test_an_absolute_symlink_points_into_the_guest_root(runtime: Runtime, tmp_path: Path) -> None:
    got = run(runtime, tmp_path)
    assert got["symlink absolute"] == "0"  # wasmtime alone: 63 (PERM)
    assert got["stat through link"] == "0 size=4096"


@pytest.mark.parametrize("tty", [False, True])
def test_stdout_is_a_terminal_only_with_tty(runtime: Runtime, tmp_path: Path, tty: bool) -> None:
    got = run(runtime, tmp_path, tty=tty)
    assert got["fd 1 isatty"] == got["fd 2 isatty"] == str(int(tty))


def test_clocks_as_kept_from_wasmtime(runtime: Runtime, tmp_path: Path) -> None:
    """The one divergence kept (docs/runtime.md says why): the CPU-time clocks answer BADF."""
    got = run(runtime, tmp_path)
    assert got["clock 0"] == got["clock 1"] == "0 0 res=1"
    assert got["clock 2"] == got["clock 3"] == "8 8 res=0"
    assert got["sched_yield"] == "0"


def test_errnos_that_already_match_linux(runtime: Runtime, tmp_path: Path) -> None:
    """Rows of the table where both runtimes give Linux's errno: kept so, and checked."""
    got = run(runtime, tmp_path)
    assert got["readlink of a file"] == "28"  # INVAL
    assert got["open file/"] == "54"  # NOTDIR
    assert got["mkdir existing"] == "20"  # EXIST
    assert got["rmdir a file"] == "54"  # NOTDIR
    assert got["unlink ."] == "31"  # ISDIR
    assert got["seek stdout"] == "70"  # SPIPE
