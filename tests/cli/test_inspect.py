"""``wasmcontainers inspect``: an image's config, its module and the verdict of this runtime."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import cli


def test_inspect_a_p1_image(webapp_image: str, cache: Path) -> None:
    out = cli(cache, "inspect", webapp_image)
    assert out.returncode == 0, out.stderr
    fields = dict(line.split(":", 1) for line in out.stdout.splitlines() if not line.startswith(" "))
    fields = {k: v.strip() for k, v in fields.items()}
    assert fields["reference"] == webapp_image
    assert fields["platform"] == "wasi/wasm"
    assert fields["format"] == "OCI manifest, Docker+Wasm image: the module is a file in its filesystem"
    assert fields["entrypoint"] == '["/webapp.wasm"]' and fields["cmd"] == '["serve"]'
    assert fields["env"] == "GREETING=image" and fields["ports"] == "8080/tcp" and fields["workdir"] == "/"
    assert fields["module"] == "/webapp.wasm: core module (WASI preview 1), world command, export _start"
    assert fields["verdict"] == "supported"
    imports = [line.strip() for line in out.stdout.splitlines() if line.startswith("  ")]
    assert "wasi_snapshot_preview1.sock_open" in imports and "wasi_snapshot_preview1.fd_write" in imports
    assert int(fields["imports"]) == len(imports)

    report = json.loads(cli(cache, "inspect", "--json", webapp_image).stdout)
    assert report["module_kind"] == "module" and report["missing"] == []
    assert sorted(report["imports"]) == sorted(imports)


def test_inspect_names_the_imports_that_are_not_provided(unsupported_module: Path, cache: Path) -> None:
    out = cli(cache, "inspect", str(unsupported_module))
    assert out.returncode == 1, out.stderr
    lines = out.stdout.splitlines()
    assert "format:     a plain .wasm file (no image config)" in lines
    assert "  wasi_snapshot_preview1.proc_exit" in lines  # provided: no mark
    assert "  env.magic_number   <- not provided" in lines
    assert "  wasi_snapshot_preview1.sock_frobnicate   <- not provided" in lines
    assert (
        "  wasi_snapshot_preview1.sock_accept   <- not provided: with signature (i32, i32, i32, i32) -> (i32)"
        in lines
    )
    assert lines[-1] == (
        "verdict:    unsupported: imports functions this runtime does not provide: env.magic_number, "
        "wasi_snapshot_preview1.sock_frobnicate, "
        "wasi_snapshot_preview1.sock_accept with signature (i32, i32, i32, i32) -> (i32)"
    )
