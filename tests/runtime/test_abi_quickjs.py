"""The event loop of WasmEdge's QuickJS runtime (tests/guests/c/qjs_loop.c): timers on the
REALTIME clock with ABSTIME, async file reads/writes as FD_READ/FD_WRITE subscriptions on regular
files, all in one poll_oneoff with a listening socket."""

from __future__ import annotations

from pathlib import Path

from pytest_wasmcontainers.runtime import Mount, RunSpec, Runtime

from .conftest import c_guest, http_request, wait_for_output


def test_async_fs_and_timers_complete_beside_a_listener(runtime: Runtime, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "hello.txt").write_text("hello from a file")
    (data / "b.js").write_text("")
    proc = runtime.start(
        RunSpec(c_guest("qjs_loop"), ["qjs"], env={"PORT": "8080"}, mounts=[Mount(data, "/data")])
    )
    try:
        port = proc.wait_for_port(8080, timeout=30)
        out = wait_for_output(proc, "fs done", timeout=20)
        assert "readdir: b.js hello.txt" in out  # (out.txt may be there already)
        assert "stat: 17" in out
        assert "readFile: hello from a file" in out
        assert "writeFile: 7" in out
        assert "timer" in out
        assert "stale fd error=8" in out  # BADF for that subscription alone, not for the whole poll
        assert (data / "out.txt").read_text() == "written"
        for _ in range(3):  # each request reads the file through the async path again
            assert http_request(port, "GET", "/") == (200, b"hello from a file")
        assert "FAIL" not in proc.logs()
    finally:
        proc.stop()


def test_async_fs_without_sockets(runtime: Runtime, tmp_path: Path) -> None:
    """Only files and timers (no socket subscription): the poll goes to wasmtime's WASI."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "hello.txt").write_text("x" * 100)
    proc = runtime.start(
        RunSpec(c_guest("qjs_loop"), ["qjs"], env={"NO_SERVER": "1"}, mounts=[Mount(data, "/data")])
    )
    try:
        out = wait_for_output(proc, "fs done", timeout=20)
        assert "readFile: " + "x" * 100 in out
        assert "stale fd error=8" in out
        assert not proc.ports
    finally:
        proc.stop()
