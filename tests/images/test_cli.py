"""The CLI end to end: build a layout, push it to the registry, pull it back."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.registry import Registry


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest_wasmcontainers.images", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_build_push_pull(tmp_path: Path, registry: Registry, module: bytes) -> None:
    wasm = tmp_path / "svc.wasm"
    wasm.write_bytes(module)
    built = _cli(
        "build",
        str(wasm),
        "-o",
        str(tmp_path / "layout"),
        "-t",
        "v1",
        "--env",
        "A=1",
        "--port",
        "8080",
        "--index-with",
        "linux/amd64",
    )
    assert built.returncode == 0, built.stderr
    ref = f"{registry.host}/cli/svc:v1"
    pushed = _cli("push", str(tmp_path / "layout"), ref)
    assert pushed.returncode == 0, pushed.stderr
    assert pushed.stdout.strip() == built.stdout.strip()
    pulled = _cli("pull", ref, "--cache-dir", str(tmp_path / "cache"))
    assert pulled.returncode == 0, pulled.stderr
    image = json.loads(pulled.stdout)
    assert image["module_path"] == "/svc.wasm" and image["exposed_ports"] == [8080]
    assert image["env"] == [["A", "1"]] and image["index_digest"] == built.stdout.strip()


def test_errors_are_one_line_not_tracebacks(tmp_path: Path) -> None:
    out = _cli("pull", "Not/A/Valid:Ref:", "--cache-dir", str(tmp_path / "c"))
    assert out.returncode == 1
    assert out.stderr.startswith("error: invalid image reference") and "Traceback" not in out.stderr
