"""The test process survives what guests and their users do, run in subprocesses so that a crash
shows as a failed test with the subprocess's stderr instead of killing the pytest worker."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .conftest import c_guest

ROOT = Path(__file__).resolve().parents[2]

# pytest's faulthandler plugin disables and re-enables faulthandler around every in-process
# pytester run (e.g. `pytester.runpytest("--help")`), which drops any signal handler installed
# since: with signal-based traps, the next guest trap killed the process with SIGILL.
TRAP_AFTER_FAULTHANDLER_TOGGLE = """
import faulthandler, sys
from pathlib import Path
from pytest_wasmcontainers.runtime import Runtime, RunSpec
faulthandler.enable()
rt = Runtime(Path(sys.argv[2]))
for i in range(3):
    proc = rt.start(RunSpec(Path(sys.argv[1]), ["m", "trap"]))
    print(proc.wait(60), flush=True)
    faulthandler.disable()
    faulthandler.enable()
rt.close()
"""

# The interpreter exits with guests spinning, blocked in accept, flooding their log, growing memory,
# and the runtime never closed: the atexit hook must end them all, quietly.
EXIT_WITH_GUESTS_RUNNING = """
import sys
from pathlib import Path
from pytest_wasmcontainers.runtime import Runtime, RunSpec
rt = Runtime(Path(sys.argv[2]))
procs = [rt.start(RunSpec(Path(sys.argv[1]), ["m", k])) for k in ("spin", "block", "flood", "memhog")]
procs[1].wait_for_port(9000, 60)
print("exiting")
"""

# With the cyclic gc off, every store and linker is gone as soon as its guest ended, however it
# ended: nothing of wasmtime's is left for a gc to free later, on some other thread.
STORES_FREED_AT_ONCE = """
import gc, sys
from pathlib import Path
import wasmtime
from pytest_wasmcontainers.runtime import Runtime, RunSpec
gc.disable()
rt = Runtime(Path(sys.argv[2]))
for kind in (["exit", "0"], ["trap"], ["spin"], ["block"], ["flood"], ["memhog"]):
    limit = 32 << 20 if kind == ["memhog"] else None
    proc = rt.start(RunSpec(Path(sys.argv[1]), ["m", *kind], memory_limit=limit))
    proc.wait(0.2)
    proc.stop(30)
    live = [o for o in gc.get_objects() if isinstance(o, (wasmtime.Store, wasmtime.Linker))]
    print(kind[0], proc.exit_code, len(live))
rt.close()
"""


def run_python(args: list[str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-X", "faulthandler", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_a_trap_after_faulthandler_was_reinstalled_does_not_kill_the_process(tmp_path: Path) -> None:
    module = c_guest("misbehave")
    result = run_python(["-c", TRAP_AFTER_FAULTHANDLER_TOGGLE, str(module), str(tmp_path / "cache")])
    assert result.returncode == 0, f"exit status {result.returncode}\n{result.stderr}"
    assert result.stdout.split() == ["134", "134", "134"], result.stdout + result.stderr


def test_many_guests_from_four_threads_leave_nothing_behind(tmp_path: Path) -> None:
    """Traps, exits, stop() of spinning, blocked and flooding guests, stop() racing the guest's own
    exit, memory hogs against their limit, then Runtime.close() with guests running (see stress.py)."""
    module = c_guest("misbehave")
    result = run_python(["-m", "tests.runtime.stress", str(module), str(tmp_path / "cache"), "25"])
    assert result.returncode == 0 and result.stdout.strip() == "ok", (
        f"exit status {result.returncode}\n{result.stdout}\n{result.stderr}"
    )


def test_the_interpreter_exits_quietly_with_guests_running(tmp_path: Path) -> None:
    module = c_guest("misbehave")
    for _ in range(3):
        result = run_python(["-c", EXIT_WITH_GUESTS_RUNNING, str(module), str(tmp_path / "cache")])
        assert result.returncode == 0 and result.stdout == "exiting\n", result.stderr
        assert result.stderr == ""
    assert not any((tmp_path / "cache" / "containers").iterdir()), "scratch dirs left behind"


def test_stores_are_freed_as_soon_as_their_guest_ends(tmp_path: Path) -> None:
    module = c_guest("misbehave")
    result = run_python(["-c", STORES_FREED_AT_ONCE, str(module), str(tmp_path / "cache")])
    assert result.returncode == 0, result.stderr
    lines = [line.split() for line in result.stdout.splitlines()]
    assert [(kind, live) for kind, _code, live in lines] == [
        (kind, "0") for kind in ("exit", "trap", "spin", "block", "flood", "memhog")
    ], result.stdout
