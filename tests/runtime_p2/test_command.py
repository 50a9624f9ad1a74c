"""Command components (``wasi:cli/run``) through the runtime's public API: the p1 contract."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pytest_wasmcontainers.errors import UnsupportedImportsError
from pytest_wasmcontainers.runtime import RunSpec, Runtime
from tests.support.components import retarget

from .conftest import c_command, py_command


def run(runtime: Runtime, spec: RunSpec, timeout: float = 60) -> tuple[int | None, str, str]:
    proc = runtime.start(spec)
    code = proc.wait(timeout)
    return code, proc.stdout(), proc.stderr()


def test_args_env_stdin_and_both_streams(runtime: Runtime) -> None:
    code, out, err = run(
        runtime,
        RunSpec(c_command(), ["p2_cli", "echo", "two words"], env={"FOO": "bar"}, stdin=b"from stdin"),
    )
    assert code == 0, err
    assert "arg[0]=p2_cli\narg[1]=echo\narg[2]=two words\n" in out
    assert "FOO=bar\n" in out
    assert "stdin=from stdin\n" in out
    assert err == "echo done\n"


def test_exit_codes_are_wasmtimes(runtime: Runtime) -> None:
    assert run(runtime, RunSpec(c_command(), ["p2_cli", "exit", "0"]))[0] == 0
    # the preview-1 adapter turns any non-zero proc_exit into wasi:cli/exit's error: 1 (wasmtime: 1)
    assert run(runtime, RunSpec(c_command(), ["p2_cli", "exit", "3"]))[0] == 1


def test_a_trap_is_134_with_its_reason(runtime: Runtime) -> None:
    proc = runtime.start(RunSpec(c_command(), ["p2_cli", "trap"]))
    assert proc.wait(30) == 134
    assert proc.error is not None and "unreachable" in proc.error
    assert "unreachable" in proc.stderr()


@pytest.mark.parametrize("what", ["sleep", "spin"])
def test_stop_ends_a_blocked_or_spinning_command(runtime: Runtime, what: str) -> None:
    proc = runtime.start(RunSpec(c_command(), ["p2_cli", what, "60000"]))
    deadline = time.monotonic() + 30
    while what + "ing" not in proc.stdout() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert proc.running
    assert proc.stop(timeout=10) == 137
    assert not proc.running
    assert "woke" not in proc.stdout()


def test_memory_limit(runtime: Runtime) -> None:
    code, _, err = run(runtime, RunSpec(c_command(), ["p2_cli", "memhog"], memory_limit=32 << 20))
    assert code not in (0, None)
    assert "malloc failed after" in err


@pytest.mark.parametrize("version", ["0.2.0", "0.2.3", "0.2.6"])
def test_every_0_2_version_is_served(runtime: Runtime, version: str) -> None:
    code, out, err = run(runtime, RunSpec(c_command(version), ["p2_cli", "echo"], env={"FOO": version}))
    assert code == 0, err
    assert f"FOO={version}\n" in out


def test_another_abi_version_is_refused_by_name(runtime: Runtime) -> None:
    with pytest.raises(UnsupportedImportsError) as info:
        runtime.start(RunSpec(retarget(c_command(), "0.3.0"), ["p2_cli"]))
    assert "wasi:cli/environment@0.3.0" in str(info.value)


def test_working_dir_and_image_root(runtime: Runtime, tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "app").mkdir(parents=True)
    (root / "app" / "data.txt").write_text("from the image")
    code, out, err = run(
        runtime, RunSpec(c_command(), ["p2_cli", "cwdfile", "/app/data.txt"], rootfs=root, working_dir="/app")
    )
    assert code == 0, out + err
    assert "PWD=/app\n" in out  # the working dir, as p1 guests get it (wasi:cli initial-cwd too)
    assert "read=from the image" in out


@pytest.mark.slow
def test_componentize_py_command(runtime: Runtime, tmp_path: Path) -> None:
    code, out, err = run(
        runtime, RunSpec(py_command(), ["app", "echo", "x"], env={"FOO": "py"}, stdin=b"abc"), timeout=120
    )
    assert code == 0, err
    assert "argv=app|echo|x\n" in out
    assert "FOO=py\n" in out
    assert "stdin=abc\n" in out
    assert "to stderr" in err


@pytest.mark.slow
def test_componentize_py_files_in_root_and_volume(runtime: Runtime, tmp_path: Path) -> None:
    from pytest_wasmcontainers.runtime import Mount

    root = tmp_path / "root"
    root.mkdir()
    (root / "keep.txt").write_text("image file")
    vol = tmp_path / "vol"
    vol.mkdir()
    for where, extra in (("/", {}), ("/data", {"mounts": [Mount(vol, "/data")]})):
        spec = RunSpec(py_command(), ["app", "files", where], rootfs=root, **extra)  # type: ignore[arg-type]
        code, out, err = run(runtime, spec, timeout=120)
        assert code == 0, err
        assert "content=first;second;" in out
        assert "out.txt" in out
    assert (vol / "out.txt").read_text() == "first\nsecond\n"
    assert not (root / "out.txt").exists()  # the image root stays as it was: the view is private


@pytest.mark.slow
def test_componentize_py_exit_code(runtime: Runtime) -> None:
    assert run(runtime, RunSpec(py_command(), ["app", "exit", "0"]), timeout=120)[0] == 0
    # exit-with-code is @unstable in WASI 0.2: libc reports a non-zero status as exit(error), 1
    assert run(runtime, RunSpec(py_command(), ["app", "exit", "7"]), timeout=120)[0] == 1
    # an exception out of run() aborts the Python runtime: a trap, 134, as under wasmtime
    proc = runtime.start(RunSpec(py_command(), ["app", "fail"]))
    assert proc.wait(120) == 134
    assert "the command failed" in proc.stderr() and proc.error is not None


def test_inspect_names_the_world(runtime: Runtime) -> None:
    from tests.support.toolchains import build_c

    from .conftest import GUESTS

    cmd = runtime.inspect(c_command())
    assert cmd["kind"] == "component" and cmd["world"] == "command" and cmd["why"] is None
    assert cmd["export"] == "wasi:cli/run@0.2.12"
    other = runtime.inspect(retarget(c_command(), "0.3.0"))
    assert other["world"] == "unsupported" and "wasi:cli/environment@0.3.0" in other["missing"]
    assert "nothing to run" in other["why"]
    p1 = runtime.inspect(build_c(GUESTS / "c" / "p2_cli.c"))
    assert p1 == {"kind": "module", "world": "command", "export": "_start", "missing": [], "why": None}


@pytest.mark.slow
def test_inspect_a_proxy(runtime: Runtime) -> None:
    from .conftest import proxy_guest

    got = runtime.inspect(proxy_guest())
    assert got["world"] == "proxy" and got["export"] == "wasi:http/incoming-handler@0.2.12"
