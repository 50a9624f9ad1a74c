"""The package as people install it: an sdist and a wheel built with ``python -m build``, ``twine
check``, the sdist building the same wheel, and the wheel alone (a fresh venv, no source tree on
``sys.path``) running an outside project with ``pytest --wasm-image REF`` against a real registry."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CLEAN_ENV = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTEST_ADDOPTS")}


def _run(cmd: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, cwd=cwd, env=CLEAN_ENV, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{cmd} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)], cwd=out)
    return out


def _one(dist: Path, pattern: str) -> Path:
    found = sorted(dist.glob(pattern))
    assert len(found) == 1, found
    return found[0]


def _contents(wheel: Path) -> dict[str, str]:
    with zipfile.ZipFile(wheel) as z:
        return {n: hashlib.sha256(z.read(n)).hexdigest() for n in z.namelist()}


def test_twine_check_passes(dist: Path) -> None:
    proc = _run([sys.executable, "-m", "twine", "check", "--strict", *map(str, dist.iterdir())], cwd=dist)
    assert proc.stdout.count("PASSED") == 2


def test_the_wheel_holds_every_module_and_py_typed(dist: Path) -> None:
    names = set(_contents(_one(dist, "*.whl")))
    sources = {str(p.relative_to(ROOT)) for p in (ROOT / "pytest_wasmcontainers").rglob("*.py")}
    assert sources <= names, sorted(sources - names)
    assert "pytest_wasmcontainers/py.typed" in names
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    with zipfile.ZipFile(_one(dist, "*.whl")) as z:
        text = z.read(entry_points).decode()
    assert "[pytest11]" in text and "wasmcontainers = pytest_wasmcontainers.plugin" in text
    assert not any(n.startswith(("tests/", "example_project/", "benchmarks/")) for n in names)


def test_the_sdist_builds_the_same_wheel(dist: Path, tmp_path: Path) -> None:
    with tarfile.open(_one(dist, "*.tar.gz")) as tf:
        tf.extractall(tmp_path / "src", filter="data")
    (src,) = (tmp_path / "src").iterdir()
    again = tmp_path / "again"
    _run([sys.executable, "-m", "build", "--wheel", "--outdir", str(again), str(src)], cwd=tmp_path)
    assert _contents(_one(again, "*.whl")) == _contents(_one(dist, "*.whl"))


def test_the_wheel_alone_runs_an_outside_project(dist: Path, tmp_path: Path, webapp_image: str) -> None:
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path)
    python = venv / "bin" / "python"
    _run([str(python), "-m", "pip", "install", "-q", str(_one(dist, "*.whl"))], cwd=tmp_path)
    project = tmp_path / "outside"
    project.mkdir()
    (project / "test_outside.py").write_text(
        "import json, pathlib, pkgutil, importlib, requests\n"
        "import pytest_wasmcontainers\n"
        "\n"
        "def test_served(wasm_container):\n"
        "    assert requests.get(wasm_container.url(8080), timeout=30).text == 'hello image /\\n'\n"
        "\n"
        "def test_installed_package():\n"
        "    pkg = pathlib.Path(pytest_wasmcontainers.__file__).parent\n"
        "    mods = [m.name for m in pkgutil.walk_packages([str(pkg)], 'pytest_wasmcontainers.')]\n"
        "    for m in mods:\n"
        "        importlib.import_module(m)\n"
        "    pathlib.Path('where.json').write_text(json.dumps({'pkg': str(pkg), 'mods': mods,\n"
        "        'typed': (pkg / 'py.typed').is_file()}))\n"
    )
    proc = subprocess.run(
        [str(python), "-m", "pytest", "-p", "no:cacheprovider", "--wasm-image", webapp_image, "-q"],
        cwd=project,
        env=CLEAN_ENV,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "2 passed" in proc.stdout
    where = json.loads((project / "where.json").read_text())
    assert where["pkg"].startswith(str(venv)), where["pkg"]  # the wheel's copy, not the source tree
    assert where["typed"]
    sources = {
        ".".join(p.relative_to(ROOT).with_suffix("").parts)
        for p in (ROOT / "pytest_wasmcontainers").rglob("*.py")
        if p.name != "__init__.py" and p.name != "__main__.py"
    }
    assert sources <= set(where["mods"]), sorted(sources - set(where["mods"]))
