"""``wasmcontainers run``: serve in the foreground, stream the log, stop on a signal, leave nothing behind."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.cli.conftest import LIMIT, TESTS, Running, cli
from tests.support.toolchains import build_c


@pytest.fixture
def running() -> Iterator[list[Running]]:
    started: list[Running] = []
    yield started
    for r in started:  # a failed test must not leave a server behind
        r.kill()


def _port_closed(url: str) -> bool:
    port = int(url.rsplit(":", 1)[1])
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


def _group_gone(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _leftovers(cache: Path) -> list[str]:
    """Scratch dirs of containers, and lease records of sessions, still in the cache."""
    found = [*(cache / "containers").glob("*"), *(cache / "leases").glob("*")]
    return sorted(str(p.relative_to(cache)) for p in found)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_run_serves_streams_and_stops_on_a_signal(
    webapp_image: str, cache: Path, running: list[Running], sig: signal.Signals
) -> None:
    run = Running(cache, webapp_image, "-p", "8080")
    running.append(run)
    url = run.url(8080)
    resp = requests.get(f"{url}/from-cli", timeout=LIMIT)
    assert resp.status_code == 200 and resp.text == "hello image /from-cli\n"
    run.expect(run.out, r"^webapp: GET /from-cli$")  # the request's log line, streamed while it runs
    assert run.proc.poll() is None

    run.send(sig)
    assert run.finish() == 137, run.stderr
    assert "stopped (exit code 137)" in run.stderr
    assert "Traceback" not in run.stderr
    assert run.stdout.startswith("webapp: listening on 8080\n")
    assert _port_closed(url)
    assert _leftovers(cache) == []
    assert _group_gone(run.proc.pid)


def test_a_second_signal_while_stopping_still_ends_it(
    webapp_image: str, cache: Path, running: list[Running]
) -> None:
    run = Running(cache, webapp_image, "-p", "8080")
    running.append(run)
    url = run.url(8080)
    run.send(signal.SIGINT)
    run.send(signal.SIGINT)
    assert run.finish() == 137, run.stderr
    assert "Traceback" not in run.stderr
    assert _port_closed(url)
    assert _group_gone(run.proc.pid)


def test_a_guest_that_exits_ends_the_run_with_its_code(
    webapp_image: str, cache: Path, running: list[Running]
) -> None:
    run = Running(cache, webapp_image, "-p", "8080", "-e", "GREETING=cli")
    running.append(run)
    assert requests.get(f"{run.url(8080)}/exit", timeout=LIMIT).text == "hello cli /exit\n"
    assert run.finish() == 0, run.stderr
    assert run.stdout.endswith("webapp: GET /exit\nwebapp: bye\n")
    assert _leftovers(cache) == []


def test_command_after_dashes_runs_to_completion(webapp_image: str, cache: Path) -> None:
    # The image exposes 8080, but a command that never listens must not fail a readiness wait.
    out = cli(cache, "run", webapp_image, "-e", "GREETING=cli", "--", "echo", "7", "b")
    assert out.returncode == 7, out.stderr
    assert out.stdout == "arg 0: /webapp.wasm\narg 1: echo\narg 2: 7\narg 3: b\nGREETING=cli\n"
    assert out.stderr == ""
    assert _leftovers(cache) == []


@pytest.mark.parametrize("mode", ["rw", "ro"])
def test_a_volume_is_mounted_as_the_workdir(cache: Path, tmp_path: Path, mode: str) -> None:
    # workdir.c reads data.txt, lists and writes out.txt in its working directory, then reads
    # /etc/motd, which a plain .wasm file (no image filesystem) does not have: it exits 1 there.
    guest = build_c(TESTS / "guests" / "c" / "workdir.c")
    data = tmp_path / "data"
    data.mkdir()
    (data / "data.txt").write_text("from the host\n")
    out = cli(cache, "run", str(guest), "-v", f"{data}:/data:{mode}", "-w", "/data")
    assert out.returncode == 1, out.stderr
    assert out.stdout.startswith("read: from the host\nstat: 14\ndir: data.txt\n")
    if mode == "rw":
        assert "wrote\nFAIL read /etc/motd\n" in out.stdout
        assert (data / "out.txt").read_text() == "written\n"
    else:
        assert out.stdout.endswith("FAIL write out.txt\n")
        assert not (data / "out.txt").exists()


def test_installed_as_a_console_script() -> None:
    script = Path(sys.executable).parent / "wasmcontainers"
    out = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=LIMIT)
    assert out.returncode == 0, out.stderr
    for name in ("run", "pull", "images", "prune", "inspect", "build", "push"):
        assert f"    {name} " in out.stdout
