"""Each container gets a private writable view of a shared image root; mounts; cleanup."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_wasmcontainers.runtime import Mount, RunSpec, Runtime

from .conftest import c_guest, http_request


@pytest.fixture
def image_root(runtime: Runtime) -> Iterator[Path]:
    # beside the runtime's scratch dirs, as the image cache is: same filesystem -> hardlinks
    root = runtime.cache_dir / f"test-root-{uuid.uuid4().hex}"
    (root / "etc").mkdir(parents=True)
    (root / "shared.txt").write_text("original\n")
    (root / "etc" / "config").write_text("cfg\n")
    (root / "link").symlink_to("/etc/config")
    yield root
    shutil.rmtree(root)


def server(runtime: Runtime, root: Path, port: int, mounts: tuple[Mount, ...] = ()) -> tuple[object, int]:
    spec = RunSpec(c_guest("http_server"), ["s"], env={"PORT": str(port)}, rootfs=root, mounts=mounts)
    proc = runtime.start(spec)
    return proc, proc.wait_for_port(port, 30)


def test_writes_are_private_to_each_container(runtime: Runtime, image_root: Path) -> None:
    a = runtime.start(RunSpec(c_guest("http_server"), ["s"], env={"PORT": "80"}, rootfs=image_root))
    b = runtime.start(RunSpec(c_guest("http_server"), ["s"], env={"PORT": "80"}, rootfs=image_root))
    try:
        assert a.timings["rootfs"] == "hardlink"
        pa, pb = a.wait_for_port(80, 30), b.wait_for_port(80, 30)
        assert http_request(pa, "GET", "/read/shared.txt") == (200, b"original\n")
        assert (a.scratch_dir / "root" / "shared.txt").stat().st_nlink >= 2  # reading copies nothing
        assert http_request(pa, "POST", "/write/shared.txt", b"changed by a\n") == (200, b"ok\n")
        assert http_request(pa, "GET", "/read/shared.txt") == (200, b"changed by a\n")
        assert http_request(pb, "GET", "/read/shared.txt") == (200, b"original\n")
        assert (image_root / "shared.txt").read_text() == "original\n"  # the image is untouched
        assert (a.scratch_dir / "root" / "shared.txt").stat().st_nlink == 1  # copied up on write
        assert http_request(pa, "POST", "/write/etc/new", b"new\n") == (200, b"ok\n")
        assert http_request(pa, "GET", "/read/etc/new") == (200, b"new\n")
        assert http_request(pb, "GET", "/read/etc/new")[0] == 404
        assert not (image_root / "etc" / "new").exists()
        # an absolute symlink inside the image resolves inside the guest's root
        assert http_request(pb, "GET", "/read/link") == (200, b"cfg\n")
        assert http_request(pb, "POST", "/write/link", b"via link\n") == (200, b"ok\n")
        assert http_request(pb, "GET", "/read/etc/config") == (200, b"via link\n")
        assert (image_root / "etc" / "config").read_text() == "cfg\n"
    finally:
        a.stop()
        b.stop()
    assert not a.scratch_dir.exists() and not b.scratch_dir.exists()


def test_mounts_read_only_and_writable(runtime: Runtime, image_root: Path, tmp_path: Path) -> None:
    ro, rw = tmp_path / "ro", tmp_path / "rw"
    ro.mkdir()
    rw.mkdir()
    (ro / "given.txt").write_text("from the host\n")
    mounts = (Mount(ro, "/ro", read_only=True), Mount(rw, "/rw"))
    spec = RunSpec(c_guest("http_server"), ["s"], env={"PORT": "80"}, rootfs=image_root, mounts=mounts)
    proc = runtime.start(spec)
    try:
        port = proc.wait_for_port(80, 30)
        assert http_request(port, "GET", "/read/ro/given.txt") == (200, b"from the host\n")
        assert http_request(port, "POST", "/write/ro/x", b"no")[0] == 404
        assert http_request(port, "POST", "/write/rw/out.txt", b"yes\n") == (200, b"ok\n")
    finally:
        proc.stop()
    assert not (ro / "x").exists()
    assert (rw / "out.txt").read_text() == "yes\n"  # volumes outlive the container


def test_scratch_dirs_of_dead_sessions_are_removed(tmp_path: Path) -> None:
    import subprocess

    child = subprocess.Popen(["true"])  # its pid has certainly exited (and is not reused this fast)
    child.wait()
    orphan = tmp_path / "containers" / f"c-{child.pid}-abc"
    alive = tmp_path / "containers" / f"c-{os.getpid()}-def"
    orphan.mkdir(parents=True)
    alive.mkdir()
    with Runtime(tmp_path):
        pass
    assert not orphan.exists() and alive.exists()
