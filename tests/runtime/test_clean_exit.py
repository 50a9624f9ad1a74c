"""The interpreter exits quietly after running guests: no wasmtime thread panics on stderr."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import c_guest

SCRIPT = """
import sys, urllib.request
from pathlib import Path
from pytest_wasmcontainers.runtime import Runtime, RunSpec
rt = Runtime(Path(sys.argv[2]))
procs = [rt.start(RunSpec(Path(sys.argv[1]), ["s"], env={"PORT": "8080"})) for _ in range(2)]
for p in procs:
    port = p.wait_for_port(8080, 30)
    assert urllib.request.urlopen(f"http://127.0.0.1:{port}/hello", timeout=10).read()
procs[0].stop()
print("done")
# exits with one container still running and the runtime open: the atexit hook must clean up
"""

RUNS = 30


@pytest.mark.slow
def test_thirty_runs_exit_without_a_word_on_stderr(tmp_path: Path) -> None:
    module = c_guest("http_server")
    root = Path(__file__).resolve().parents[2]
    dirty = []
    for batch in range(RUNS // 3):
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", SCRIPT, str(module), str(tmp_path / "cache")],
                cwd=root,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            for _ in range(3)
        ]
        for i, p in enumerate(procs):
            out, err = p.communicate(timeout=120)
            assert p.returncode == 0 and out == b"done\n", err.decode()
            if err:
                dirty.append((batch * 3 + i, err.decode(errors="replace")))
    assert not dirty, f"{len(dirty)}/{RUNS} runs wrote to stderr, e.g.:\n{dirty[0][1]}"
