"""The order service's Go unit tests (MySQL protocol pieces, DNS over TCP, JSON), compiled for
wasip1 (``go test -c``, cached like the service) and run on wasmtime: on the target the service
ships for, without building Go's standard library a second time for the host."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import build_image
import pytest
import wasmtime
from filelock import FileLock

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


def run_wasi(module_file: Path, argv: list[str], tmp_path: Path) -> tuple[int, str]:
    engine = wasmtime.Engine()
    module = compiled(engine, module_file)
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    # The main package links the WasmEdge socket imports; unit tests never call them.
    for imp in module.imports:
        if imp.name.startswith("sock_") and isinstance(imp.type, wasmtime.FuncType):
            linker.allow_shadowing = True
            linker.define_func(imp.module, imp.name, imp.type, _unreachable(imp.name))
    store = wasmtime.Store(engine)
    wasi = wasmtime.WasiConfig()
    wasi.argv = argv
    out = tmp_path / "stdout"
    wasi.stdout_file = str(out)
    wasi.stderr_file = str(out)
    store.set_wasi(wasi)
    instance = linker.instantiate(store, module)
    start = instance.exports(store)["_start"]
    assert isinstance(start, wasmtime.Func)
    try:
        start(store)
        code = 0
    except wasmtime.ExitTrap as e:
        code = e.code
    return code, out.read_text(errors="replace")


def compiled(engine: wasmtime.Engine, module_file: Path) -> wasmtime.Module:
    """Compile once: a Go test binary takes Cranelift seconds; the compiled form sits beside it."""
    cwasm = module_file.with_suffix(".cwasm")
    with FileLock(str(cwasm) + ".lock"):
        if cwasm.exists():
            try:
                return wasmtime.Module.deserialize_file(engine, str(cwasm))
            except wasmtime.WasmtimeError:
                cwasm.unlink()  # made by another wasmtime version: compile again
        module = wasmtime.Module.from_file(engine, str(module_file))
        tmp = cwasm.with_suffix(".tmp")
        tmp.write_bytes(module.serialize())
        tmp.rename(cwasm)
        return module


def _unreachable(name: str) -> Callable[..., int]:
    def call(*args: int) -> int:
        raise RuntimeError(f"unit test called {name}")

    return call


@pytest.mark.parametrize("package", PACKAGES)
def test_go_unit_tests_pass(package: str, tmp_path: Path) -> None:
    code, output = run_wasi(go_test_binary(package), ["test.wasm", "-test.v"], tmp_path)
    assert code == 0, output
    assert "--- FAIL" not in output
    assert output.count("--- PASS") >= 3, output
    assert output.rstrip().endswith("PASS"), output
