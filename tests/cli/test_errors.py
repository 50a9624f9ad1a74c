"""User errors are one ``error:`` line and a hint, exit status 1, no traceback (unless --traceback)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import cli
from tests.support.registry import Registry


@pytest.mark.parametrize("name", ["pull", "run", "inspect"])
def test_unreachable_registry(cache: Path, name: str) -> None:
    out = cli(cache, name, "127.0.0.1:1/x:1")
    assert out.returncode == 1
    assert out.stdout == ""
    error, hint = out.stderr.splitlines()
    assert error.startswith("error: cannot reach registry 127.0.0.1:1 at http://127.0.0.1:1")
    assert hint.startswith("hint: start the registry or fix")


def test_traceback_shows_the_chain(cache: Path) -> None:
    out = cli(cache, "pull", "--traceback", "127.0.0.1:1/x:1")
    assert out.returncode == 1
    assert "Traceback (most recent call last)" in out.stderr
    assert "requests.exceptions.ConnectionError" in out.stderr
    assert "The above exception was the direct cause of the following exception" in out.stderr
    assert "pytest_wasmcontainers.errors.RegistryError" in out.stderr
    assert out.stderr.splitlines()[-2].startswith("error: cannot reach registry")


def test_bad_reference(cache: Path) -> None:
    out = cli(cache, "pull", "Not/A/Valid:Ref:")
    assert out.returncode == 1
    error, hint = out.stderr.splitlines()
    assert error.startswith("error: invalid image reference") and hint.startswith("hint: a reference looks")


def test_image_not_found(registry: Registry, cache: Path) -> None:
    out = cli(cache, "run", f"{registry.host}/cli/nope:1")
    assert out.returncode == 1
    error, hint = out.stderr.splitlines()
    assert error.startswith(f"error: registry {registry.host} has no manifest 1 in repository cli/nope")
    assert (
        hint
        == "hint: check the name and tag (push the image first); `wasmcontainers images` lists what is cached"
    )


def test_unsupported_imports(unsupported_module: Path, cache: Path) -> None:
    out = cli(cache, "run", str(unsupported_module))
    assert out.returncode == 1
    error, hint = out.stderr.splitlines()
    assert "imports functions this runtime does not provide: env.magic_number" in error
    assert hint.startswith("hint: `wasmcontainers inspect REF`")
    assert list((cache / "containers").glob("*")) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-p", "http"], "error: port 'http' is not a number"),
        (["-p", "8080:x"], "error: -p 8080:x: the host port 'x' is not a number"),
        (["-v", "nowhere"], "error: -v 'nowhere': give HOST:GUEST or HOST:GUEST:ro"),
        (["-v", "/does/not/exist:/data"], "error: volume host path /does/not/exist does not exist"),
        (["-m", "lots"], "error: memory_limit 'lots' is not understood"),
    ],
)
def test_bad_run_options(webapp_module: Path, cache: Path, args: list[str], message: str) -> None:
    out = cli(cache, "run", str(webapp_module), *args)
    assert out.returncode == 1
    error, hint = out.stderr.splitlines()
    assert error.startswith(message) and hint == "hint: see `wasmcontainers run --help`"


def test_only_run_takes_arguments_after_dashes(cache: Path) -> None:
    out = cli(cache, "pull", "x.wasm", "--", "y")
    assert out.returncode == 2
    assert "only `run` takes arguments after --, not `pull`" in out.stderr


def test_the_command_loads_neither_pytest_nor_the_plugin() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import pytest_wasmcontainers.__main__, pytest_wasmcontainers.images.__main__\n"
        "from pytest_wasmcontainers.cli import build_parser, cache_cmds, images_cmds, inspect, run, store\n"
        "import pytest_wasmcontainers.runtime\n"
        "build_parser()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pytest', '_pytest', 'pluggy')"
        " or m == 'pytest_wasmcontainers.plugin'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "[]\n"
