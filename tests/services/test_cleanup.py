"""Containers of killed sessions are removed by the next session; a live session's are never touched."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from filelock import FileLock

from pytest_wasmcontainers.services.cleanup import (
    LABEL_HOST,
    LABEL_MANAGED,
    LABEL_PID,
    LABEL_SESSION,
    remove_dead_sessions,
    sweep_lock_files,
)
from pytest_wasmcontainers.services.docker import DockerServices

HOLD_TEST = """
import pathlib, time

def test_hold(docker_container_factory):
    c = docker_container_factory({image!r}, command=["sleep"], ports=[])
    pathlib.Path({out!r}).write_text(c.name)
    time.sleep(300)
"""


def _start_holding_session(tmp_path: Path, image: str) -> tuple[subprocess.Popen[bytes], str]:
    """A pytest session in a subprocess that starts a container and then sits in its test."""
    out = tmp_path / "name.txt"
    (tmp_path / "test_hold.py").write_text(HOLD_TEST.format(image=image, out=str(out)))
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "test_hold.py"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 120
    while not out.exists() or not out.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(
                f"holding session did not start a container:\n{proc.communicate()[0].decode()}"
            )
        time.sleep(0.1)
    return proc, out.read_text()


def _exists(client, name: str) -> bool:
    return any(c.name == name for c in client.containers.list(all=True, ignore_removed=True))


def test_live_session_untouched_then_removed_after_kill_9(tmp_path, docker_services: DockerServices, testapp):
    client = docker_services.client
    proc, name = _start_holding_session(tmp_path, testapp)
    try:
        removed = remove_dead_sessions(client, docker_services.session)
        assert name not in removed
        assert _exists(client, name)
        assert client.containers.get(name).status == "running"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert _exists(client, name), "kill -9 gives the session no chance to clean up"
    remove_dead_sessions(client, docker_services.session)  # (a parallel session may get there first)
    assert _gone_soon(client, name)


def test_next_session_removes_what_a_killed_one_left(tmp_path, docker_services: DockerServices, testapp):
    client = docker_services.client
    (tmp_path / "first").mkdir()
    proc, name = _start_holding_session(tmp_path / "first", testapp)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert _exists(client, name)
    second = tmp_path / "second"
    second.mkdir()
    (second / "test_nothing.py").write_text("def test_nothing():\n    pass\n")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "test_nothing.py"],
        cwd=second,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert _gone_soon(client, name)


def _gone_soon(client, name: str, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while _exists(client, name):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.mark.parametrize("alive", [True, False])
def test_without_lock_file_only_dead_local_pids_count(docker_services: DockerServices, testapp, alive):
    client = docker_services.client
    labels = {
        LABEL_MANAGED: "1",
        LABEL_SESSION: f"nolock{os.getpid()}{int(alive)}",
        LABEL_PID: str(os.getpid() if alive else _dead_pid()),
        LABEL_HOST: socket.gethostname(),
    }
    c = client.containers.run(testapp, ["sleep"], labels=labels, detach=True)
    try:
        removed = remove_dead_sessions(client, docker_services.session)
        if alive:
            assert c.name not in removed
            assert _exists(client, c.name)
        else:  # (a parallel session may be the one removing it, still in progress)
            assert _gone_soon(client, c.name)
    finally:
        if alive:
            c.remove(force=True)


def test_other_hosts_sessions_are_left_alone(docker_services: DockerServices, testapp):
    client = docker_services.client
    labels = {
        LABEL_MANAGED: "1",
        LABEL_SESSION: f"otherhost{os.getpid()}",
        LABEL_PID: str(_dead_pid()),
        LABEL_HOST: "some-other-machine",
    }
    c = client.containers.run(testapp, ["sleep"], labels=labels, detach=True)
    try:
        assert c.name not in remove_dead_sessions(client, docker_services.session)
        assert _exists(client, c.name)
    finally:
        c.remove(force=True)


def test_sweep_deletes_only_old_free_lock_files(tmp_path):
    old_free, young_free, old_held = (tmp_path / f"{n}.lock" for n in ("oldfree", "youngfree", "oldheld"))
    for p in (old_free, young_free, old_held):
        p.write_text("")
    held = FileLock(str(old_held), thread_local=False)
    held.acquire(timeout=0)
    try:
        past = time.time() - 3600
        for p in (old_free, old_held):
            os.utime(p, (past, past))
        sweep_lock_files(tmp_path)
        assert not old_free.exists()
        assert young_free.exists() and old_held.exists()
    finally:
        held.release(force=True)
