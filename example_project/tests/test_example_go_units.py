"""The order service's Go unit tests (MySQL protocol pieces, DNS over TCP, JSON), compiled for
wasip1 (``go test -c``, cached like the service) and run on the embedded runtime: on the target the service
ships for, without building Go's standard library a second time for the host."""

from __future__ import annotations

import subprocess
from pathlib import Path

import build_image
import pytest
from filelock import FileLock

from pytest_wasmcontainers.runtime import RunSpec, Runtime

PACKAGES = [".", "./mysql", "./dnstcp"]


def go_test_binary(package: str) -> Path:
    name = "main" if package == "." else package.rsplit("/", 1)[-1]
    out_dir = build_image.CACHE / f"orderservice-tests-{build_image.sources_digest(tests=True)}"
    out = out_dir / f"{name}.test.wasm"
    out_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(out) + ".lock"):
        if not out.exists():
            tmp = out.with_suffix(".tmp")
            proc = subprocess.run(
                ["go", "test", "-c", "-o", str(tmp), package],
                cwd=build_image.APP,
                env=build_image.go_env(),
                capture_output=True,
                text=True,
                timeout=600,
            )
            assert proc.returncode == 0, f"go test -c {package} failed:\n{proc.stdout}{proc.stderr}"
            tmp.rename(out)
    return out


def run_wasi(module_file: Path, argv: list[str]) -> tuple[int | None, str]:
    # On the project's own runtime: its compiled-module cache keeps the Go test binaries'
    # Cranelift seconds to the first run.
    with Runtime(build_image.CACHE / "runtime") as rt:
        proc = rt.start(RunSpec(module_file, argv, log_limit=8 << 20))
        code = proc.wait(timeout=300)
        return code, proc.logs()


@pytest.mark.parametrize("package", PACKAGES)
def test_go_unit_tests_pass(package: str) -> None:
    code, output = run_wasi(go_test_binary(package), ["test.wasm", "-test.v"])
    assert code == 0, output
    assert "--- FAIL" not in output
    assert output.count("--- PASS") >= 3, output
    assert output.rstrip().endswith("PASS"), output
