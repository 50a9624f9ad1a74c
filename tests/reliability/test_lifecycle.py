"""Lifecycle (the reliability matrix): many start/stop cycles, a pull killed with SIGKILL, eight
xdist workers pulling one image at once, Ctrl-C in the middle of a test. Measured: fds, threads,
RSS, scratch dirs, leases, listening ports, registry requests."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from pytest_wasmcontainers.container import ContainerSettings
from pytest_wasmcontainers.images.build import push, write_oci_layout
from pytest_wasmcontainers.session import SessionConfig, WasmSession
from tests.reliability.matrix import Row, record
from tests.reliability.test_guests import MIB, answers, bad_guest, fds, refused, rss
from tests.support.registry import Registry, registry, registry_factory  # noqa: F401  (fixtures)

SECTION = "Lifecycle"
ROOT = Path(__file__).resolve().parents[2]
BIG = 96 * MIB
"""The layer the killed pull downloads: incompressible, uncompressed, so the download takes a while."""


def push_image(reg: Registry, workdir: Path, repo: str, big: int = 0) -> str:
    layout = workdir / repo.replace("/", "-")
    extra = {"big.bin": os.urandom(big)} if big else None
    write_oci_layout(
        layout,
        bad_guest(),
        module_name="bad.wasm",
        cmd=["serve"],
        exposed_ports=[8080],
        extra_files=extra,
        compression="none",
    )
    ref = f"{reg.host}/{repo}:1"
    push(layout, ref)
    return ref


@pytest.fixture(scope="module")
def image(registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> str:  # noqa: F811
    return push_image(registry, tmp_path_factory.mktemp("layouts"), "reliability/serve")


def subprocess_env(cache: Path) -> dict[str, str]:
    env = dict(os.environ, WASMCONTAINERS_CACHE_DIR=str(cache), PYTHONPATH=str(ROOT))
    env.pop("PYTEST_XDIST_WORKER", None)
    env.pop("PYTEST_CURRENT_TEST", None)
    return env


@pytest.mark.slow
def test_a_thousand_start_stop_cycles(image: str, tmp_path: Path) -> None:
    """One image started and stopped 1,000 times in one session: fds and threads come back, RSS
    levels off (measured at every 250 cycles; the growth of the second half is bounded).

    Every other cycle stops the container with its own ``stop()``, the rest through the session as
    the fixtures do: before 71fef36 the first path kept each container in the session (+15 KiB a
    cycle, +14.9 MiB over 1,000)."""
    session = WasmSession(SessionConfig(cache_dir=tmp_path / "cache", startup_timeout=30))
    try:
        for _ in range(20):  # warm: pull, compile, first-use mappings, allocator pools
            session.stop(session.start(ContainerSettings(image)))
        base_fds, base_threads, base_rss = fds(), set(threading.enumerate()), rss()
        marks: dict[int, int] = {}
        survived = 0
        for i in range(1, 1001):
            c = session.start(ContainerSettings(image))
            port = c.host_port(8080)
            ok = answers(port) if i % 50 == 0 else True
            code = c.stop() if i % 2 else session.stop(c)  # both ways a user stops one
            survived += code == 137 and ok
            if i % 250 == 0:
                marks[i] = rss()
        assert not session.live
        extra_fds = len(fds() - base_fds)
        extra_threads = len(set(threading.enumerate()) - base_threads)
        dirs = list((tmp_path / "cache" / "containers").glob(f"c-{os.getpid()}-*"))
    finally:
        session.close()
    growth = {k: (v - base_rss) / MIB for k, v in marks.items()}
    late = (marks[1000] - marks[500]) / MIB
    shown = ", ".join(f"{k}: {v:+.1f}" for k, v in growth.items())
    print(f"RSS growth over the warm baseline (MiB) after cycles {shown}; 500 -> 1000: {late:+.1f} MiB")
    leaks = [f"{extra_fds} fds"] * bool(extra_fds) + [f"{extra_threads} threads"] * bool(extra_threads)
    leaks += [f"{len(dirs)} scratch dirs"] * bool(dirs)
    lost = ", ".join(leaks) or f"nothing (RSS {shown} MiB)"
    what = "1,000 start/stop cycles of one image (half with container.stop(), half through the session)"
    record(Row(SECTION, what, 1000, survived if not leaks else 0, lost))
    assert not leaks, leaks
    assert survived == 1000
    assert late < 2.0, f"RSS still grows: {late:+.1f} MiB from cycle 500 to 1000 ({shown})"
    assert growth[1000] < 8.0, f"RSS grew {growth[1000]:.1f} MiB over 1,000 cycles"


def cache_is_consistent(cache: Path) -> list[str]:
    """Blobs that do not match their digest, and partial writes left outside tmp/."""
    import hashlib

    bad = []
    for blob in (cache / "blobs" / "sha256").glob("*"):
        h = hashlib.sha256()
        with open(blob, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        if h.hexdigest() != blob.name:
            bad.append(f"blob {blob.name[:12]} does not match its digest")
    return bad


PULL = "from pytest_wasmcontainers.images.pull import pull; import sys; print(pull(sys.argv[1]))"


@pytest.mark.slow
def test_kill_9_in_the_middle_of_a_pull(registry: Registry, tmp_path: Path) -> None:  # noqa: F811
    """A process pulling a big image is killed with SIGKILL mid-download; the next one finds a
    consistent cache, pulls, and the image runs."""
    ref = push_image(registry, tmp_path, "reliability/big", big=BIG)
    tried = survived = 0
    leftovers: list[int] = []
    for round_ in range(3):
        cache = tmp_path / f"cache{round_}"
        env = subprocess_env(cache)
        proc = subprocess.Popen([sys.executable, "-c", PULL, ref], env=env, cwd=ROOT)
        killed_at = 0
        end = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < end:
            partial = (
                sum(p.stat().st_size for p in (cache / "tmp").glob("*") if p.is_file())
                if (cache / "tmp").is_dir()
                else 0
            )
            if partial > (round_ + 1) * BIG // 5:  # at 20, 40, 60 % of the big layer
                proc.send_signal(signal.SIGKILL)
                killed_at = partial
                break
            time.sleep(0.005)
        proc.wait(30)
        tried += 1
        if not killed_at:
            continue  # it finished before we could kill it: not a case
        bad = cache_is_consistent(cache)
        again = subprocess.run(
            [sys.executable, "-c", PULL, ref], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
        )
        session = WasmSession(SessionConfig(cache_dir=cache, pull_policy="never", startup_timeout=30))
        try:
            c = session.start(ContainerSettings(ref))
            runs = answers(c.host_port(8080))
            c.stop()
        finally:
            session.close()
        stale = sum(p.stat().st_size for p in (cache / "tmp").rglob("*") if p.is_file())
        leftovers.append(stale)
        print(
            f"round {round_}: killed with {killed_at / MIB:.0f} MiB in tmp/; cache problems {bad}; "
            f"tmp/ after the next pull: {stale / MIB:.0f} MiB"
        )
        survived += again.returncode == 0 and not bad and not cache_is_consistent(cache) and runs
    # the next session's cache drops the killed process's partial download (its pid is gone)
    most = max(leftovers, default=0)
    lost = "nothing" if not most else f"{most / MIB:.0f} MiB left in tmp/"
    record(Row(SECTION, "kill -9 of a process in the middle of a pull (96 MiB layer)", tried, survived, lost))
    assert survived == tried
    assert not most, f"{most} bytes of the killed pull are still in tmp/"


XDIST_TEST = """
import requests

def test_pull_and_start(wasm_container_factory, worker_id):
    c = wasm_container_factory("{ref}")
    assert c.host_port(8080)
"""


@pytest.mark.slow
def test_eight_xdist_workers_pull_one_image(registry: Registry, tmp_path: Path) -> None:  # noqa: F811
    """``-n 8`` against one registry image and a fresh cache: every test passes, one download."""
    ref = push_image(registry, tmp_path, "reliability/xdist")
    (tmp_path / "proj").mkdir()
    tests = "\n".join(
        XDIST_TEST.replace("{ref}", ref).replace("test_pull_and_start", f"test_pull_and_start_{i}")
        for i in range(16)
    )
    (tmp_path / "proj" / "test_many.py").write_text(tests)
    cache = tmp_path / "cache"
    before = registry.requests_matching(r"GET /v2/reliability/xdist/blobs/")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "8", "-p", "no:cacheprovider", "-q", "test_many.py"],
        cwd=tmp_path / "proj",
        env=subprocess_env(cache),
        capture_output=True,
        text=True,
        timeout=300,
    )
    blob_gets = registry.requests_matching(r"GET /v2/reliability/xdist/blobs/") - before
    passed = int(m.group(1)) if (m := re.search(r"(\d+) passed", done.stdout)) else 0
    print(f"-n 8: {passed} passed, {blob_gets} blob downloads (config + layer)")
    once = blob_gets == 2  # the config and the one layer, each fetched once
    record(
        Row(
            SECTION,
            "8 xdist workers pull and start one image (16 tests, fresh cache)",
            16,
            passed if once else 0,
            "nothing" if once else f"{blob_gets} blob downloads",
        )
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert passed == 16 and once, (passed, blob_gets)


SIGINT_TEST = """
import json, os, time

def test_interrupted(wasm_container_factory):
    c = wasm_container_factory("{ref}")
    port = c.host_port(8080)
    with open("state.json.tmp", "w") as f:
        json.dump({"port": port, "pid": os.getpid()}, f)
    os.replace("state.json.tmp", "state.json")
    time.sleep(120)
"""


@pytest.mark.slow
def test_ctrl_c_during_a_test(image: str, tmp_path: Path) -> None:
    """SIGINT while a test holds a running container: the process ends, and no scratch dir, lease,
    listening port or process is left."""
    import json

    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "test_sigint.py").write_text(textwrap.dedent(SIGINT_TEST.replace("{ref}", image)))
    cache = tmp_path / "cache"
    tried = survived = 0
    for round_ in range(3):
        (proj / "state.json").unlink(missing_ok=True)
        proc = subprocess.Popen(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "test_sigint.py"],
            cwd=proj,
            env=subprocess_env(cache),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        end = time.monotonic() + 60
        while not (proj / "state.json").exists() and proc.poll() is None and time.monotonic() < end:
            time.sleep(0.02)
        state = json.loads((proj / "state.json").read_text())
        assert answers(state["port"])
        scratch_during = list((cache / "containers").glob(f"c-{proc.pid}-*"))
        leases_during = list((cache / "leases").glob(f"{proc.pid}-*"))
        proc.send_signal(signal.SIGINT)
        try:
            out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        tried += 1
        left = list((cache / "containers").glob(f"c-{proc.pid}-*")) + list(
            (cache / "leases").glob(f"{proc.pid}-*")
        )
        gone = not Path(f"/proc/{proc.pid}").exists()
        ok = gone and not left and refused(state["port"]) and proc.returncode == 2
        print(
            f"round {round_}: exit {proc.returncode}, during: {len(scratch_during)} scratch dirs, "
            f"{len(leases_during)} leases; left after: {[p.name for p in left]}"
        )
        if not ok:
            print(out.decode(errors="replace")[-2000:])
        survived += ok
    record(Row(SECTION, "Ctrl-C (SIGINT) during a test of a pytest subprocess", tried, survived))
    assert survived == tried
