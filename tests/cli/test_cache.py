"""``wasmcontainers pull``, ``images`` and ``prune`` against a real registry and a fresh cache."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pytest_wasmcontainers.images.cache import ImageCache
from tests.cli.conftest import LIMIT, cli, command
from tests.plugin.conftest import push_webapp
from tests.support.registry import Registry


@pytest.fixture(scope="session")
def echo_image(registry: Registry, webapp_module: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Another image of the same module (its layer is shared with ``webapp_image``)."""
    return push_webapp(registry, webapp_module, tmp_path_factory.mktemp("layouts"), "cli/echo", cmd=["echo"])


def _pull(cache: Path, ref: str) -> str:
    out = cli(cache, "pull", ref)
    assert out.returncode == 0, out.stderr
    m = re.fullmatch(rf"{re.escape(ref)} (sha256:[0-9a-f]{{64}}) \((.*)\)\n", out.stdout)
    assert m, out.stdout
    return m.group(1)


def _listed(cache: Path) -> dict[str, str]:
    """``images`` as reference -> the rest of its row."""
    out = cli(cache, "images")
    assert out.returncode == 0, out.stderr
    header, *rows = out.stdout.splitlines()
    assert header.split() == ["REFERENCE", "DIGEST", "SIZE", "LAST", "USED", "IN", "USE"]
    return {row.split()[0]: row for row in rows}


def test_pull_then_images_lists_it(webapp_image: str, cache: Path) -> None:
    first = cli(cache, "pull", webapp_image)
    assert first.returncode == 0, first.stderr
    assert re.search(r"\(downloaded \d+ blobs, [\d.]+ \w+ in [\d.]+ s\)\n$", first.stdout), first.stdout
    assert first.stderr == ""  # not a terminal: no progress line
    digest = _pull(cache, webapp_image)
    assert cli(cache, "pull", webapp_image).stdout.endswith("(cached)\n")
    as_json = json.loads(cli(cache, "pull", "--json", webapp_image).stdout)
    assert as_json["digest"] == digest and as_json["exposed_ports"] == [8080]

    row = _listed(cache)[webapp_image]
    assert digest[:19] in row and "ago" in row
    rows = json.loads(cli(cache, "images", "--json").stdout)
    assert [(r["references"], r["digest"], r["in_use_by"]) for r in rows] == [([webapp_image], digest, [])]
    assert rows[0]["size"] > 0


def test_prune_removes_what_was_last_used_before_the_cutoff(
    webapp_image: str, echo_image: str, cache: Path
) -> None:
    old, recent = _pull(cache, echo_image), _pull(cache, webapp_image)
    assert cli(cache, "run", echo_image).returncode == 0  # compiles the module into the cache
    assert list((cache / "compiled").glob("*.cwasm"))
    images = ImageCache(cache)
    images.mark_used(old, at=time.time() - 10 * 86400)

    out = cli(cache, "prune", "--older-than", "5")
    assert out.returncode == 0, out.stderr
    assert f"removed {echo_image} {old[:19]}" in out.stdout
    assert "1 images removed" in out.stdout
    assert list(_listed(cache)) == [webapp_image]
    assert not images.image_dir(old).exists() and images.image_dir(recent).is_dir()
    assert not images.has_blob(old)
    # the layer both images share stays: the recent one still needs it
    assert cli(cache, "run", webapp_image, "--pull", "never", "--", "echo").returncode == 0

    out = cli(cache, "prune")
    assert out.returncode == 0, out.stderr
    assert f"removed {webapp_image}" in out.stdout
    assert _listed(cache) == {}
    assert list((cache / "blobs").rglob("*")) == [cache / "blobs" / "sha256"]
    assert list((cache / "compiled").glob("*.cwasm")) == []


HOLDER = """
import sys
from pathlib import Path
from pytest_wasmcontainers.session import SessionConfig, WasmSession
session = WasmSession(SessionConfig(cache_dir=Path(sys.argv[1])))
session.pull(sys.argv[2])
print("holding", flush=True)
sys.stdin.read()
session.close()
"""


def test_prune_keeps_what_a_live_session_uses(webapp_image: str, echo_image: str, cache: Path) -> None:
    _pull(cache, echo_image)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(cache), webapp_image],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "holding\n"
        assert f"pid {holder.pid}" in _listed(cache)[webapp_image]

        out = cli(cache, "prune")
        assert out.returncode == 0, out.stderr
        assert f"removed {echo_image}" in out.stdout
        assert re.search(rf"kept {re.escape(webapp_image)} \S+: in use \(pid {holder.pid}\)", out.stdout)
        assert list(_listed(cache)) == [webapp_image]
        # what the live session pulled still runs, from the cache alone
        assert cli(cache, "run", webapp_image, "--pull", "never", "--", "echo").returncode == 0
    finally:
        holder.send_signal(signal.SIGKILL)  # no clean close: its lease dies with it
        holder.wait(LIMIT)

    out = cli(cache, "prune")
    assert out.returncode == 0, out.stderr
    assert f"removed {webapp_image}" in out.stdout
    assert _listed(cache) == {}
    assert list((cache / "leases").glob("*")) == []


def test_pull_shows_progress_on_a_terminal(webapp_image: str, cache: Path) -> None:
    import os
    import pty

    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(command(cache, "pull", webapp_image), stdout=subprocess.PIPE, stderr=slave)
        os.close(slave)
        seen = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the terminal's last writer has gone
                break
            if not chunk:
                break
            seen += chunk
        assert proc.wait(LIMIT) == 0
    finally:
        os.close(master)
    assert re.search(rf"\r\x1b\[Kpulling {re.escape(webapp_image)}: \d+ blobs, ".encode(), seen), seen
    assert seen.endswith(b"\r\x1b[K")  # the line is cleared; stdout has the result
    assert proc.stdout is not None and b"(downloaded " in proc.stdout.read()
