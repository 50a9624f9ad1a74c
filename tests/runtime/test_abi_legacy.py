"""Imports of early ``wasmedge_wasi_socket`` releases (0.1-0.3) that later ones dropped."""

from __future__ import annotations

from pathlib import Path

import pytest
import wasmtime

from pytest_wasmcontainers.runtime import RunSpec, Runtime

# sock_open(inet4, stream) -> fd; sock_close(fd) must succeed; a second sock_close is EBADF (8).
# The exit code is 100 + the second close's errno, so a wrong answer shows up as a different code.
CLOSE_WITH_ERRNO = """
(module
  (import "wasi_snapshot_preview1" "sock_open" (func $open (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_close" (func $close (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (if (call $open (i32.const 1) (i32.const 2) (i32.const 8)) (then (call $exit (i32.const 1))))
    (if (call $close (i32.load (i32.const 8))) (then (call $exit (i32.const 2))))
    (call $exit (i32.add (i32.const 100) (call $close (i32.load (i32.const 8)))))))
"""


# The crate's own form: sock_close(fd) with no result; afterwards the fd is gone (fd_fdstat_get: EBADF).
CLOSE_NO_RESULT = """
(module
  (import "wasi_snapshot_preview1" "sock_open" (func $open (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_close" (func $close (param i32)))
  (import "wasi_snapshot_preview1" "fd_fdstat_get" (func $stat (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (if (call $open (i32.const 1) (i32.const 2) (i32.const 8)) (then (call $exit (i32.const 1))))
    (if (call $stat (i32.load (i32.const 8)) (i32.const 16)) (then (call $exit (i32.const 2))))
    (call $close (i32.load (i32.const 8)))
    (call $exit (i32.add (i32.const 100) (call $stat (i32.load (i32.const 8)) (i32.const 16))))))
"""


@pytest.mark.parametrize("wat", [CLOSE_NO_RESULT, CLOSE_WITH_ERRNO], ids=["no-result", "errno"])
def test_sock_close_of_crate_0_3_closes_a_socket(runtime: Runtime, tmp_path: Path, wat: str) -> None:
    module = tmp_path / "legacy.wasm"
    module.write_bytes(wasmtime.wat2wasm(wat))
    proc = runtime.start(RunSpec(module, ["legacy.wasm"]))
    assert proc.wait(10) == 108, (proc.exit_code, proc.logs(), proc.error)
