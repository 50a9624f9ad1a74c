"""Build WASI 0.2 component test guests from source, cached like toolchains.py's.

- ``build_py(app_dir, world)``: componentize-py (PyPI) over tests/guests/wit (WASI 0.2.12 WIT).
- ``adapt(core_module)``: a wasip1 core module made a command component with the preview-1
  adapter that jco ships (npm ``@bytecodealliance/jco``, whose wasm-tools also does ``retarget``), as
  ``wasm-tools component new --adapt`` does for wasi-sdk, TinyGo and Rust's wasm32-wasip1 output.
- ``build_js(app_dir)``: componentize-js (npm) for a JavaScript proxy, the second toolchain.
- ``npm_tool(package)``: an npm package installed once into the build cache (jco, componentize-js).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from .services import unavailable
from .toolchains import _cached, _digest, _run

GUESTS = Path(__file__).resolve().parent.parent / "guests"
WIT = GUESTS / "wit"
JCO = "@bytecodealliance/jco@1.35.0"
COMPONENTIZE_JS = "@bytecodealliance/componentize-js@0.23.0"


def _tool(name: str) -> str:
    found = shutil.which(name) or str(Path(sys.executable).parent / name)
    if not Path(found).exists():
        raise RuntimeError(f"{name} is not installed: pip install -e '.[test]'")
    return found


def _version(cmd: list[str]) -> str:
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()


def _wit_files() -> list[Path]:
    return sorted(WIT.rglob("*.wit"))


def build_py(app_dir: Path, world: str, module: str = "app") -> Path:
    """componentize-py ``app_dir/<module>.py`` for ``world`` (a world of tests/guests/wit)."""
    tool = _tool("componentize-py")
    srcs = sorted(p for p in app_dir.rglob("*.py") if "__pycache__" not in p.parts)
    key = "cpy-" + _digest(srcs + _wit_files(), _version([tool, "--version"]), world)

    def build(out: Path) -> None:
        _run(
            [
                tool,
                "-q",
                "-d",
                str(WIT),
                "-w",
                world,
                "componentize",
                module,
                "-p",
                str(app_dir),
                "-o",
                str(out),
            ]
        )

    return _cached(key, app_dir.name + ".wasm", build)


def npm_tool(package: str) -> Path:
    """``node_modules`` of ``package`` (name@version), installed once into the build cache."""
    npm = shutil.which("npm")
    if npm is None:
        unavailable("npm is not installed: the preview-1 adapter comes from jco (apt install nodejs npm)")
    key = "npm-" + _digest([], package)

    def install(out: Path) -> None:
        out.mkdir()
        _run([npm, "install", "--no-audit", "--no-fund", "--prefix", str(out), package])

    return _cached(key, "pkg", install) / "node_modules"


_COMPONENTIZE_JS_SCRIPT = """
import { componentize } from '@bytecodealliance/componentize-js';
import { writeFile } from 'node:fs/promises';
const [source, wit, world, out] = process.argv.slice(2);
const { component } = await componentize({ sourcePath: source, witPath: wit, worldName: world });
await writeFile(out, component);
"""


def build_js(app_dir: Path, world: str = "proxy", wasi: str = "0.2.10") -> Path:
    """componentize-js ``app_dir/app.js`` for ``world``. StarlingMonkey exports
    incoming-handler@0.2.10, so the WIT is renamed to that version (its runtime imports 0.2.12)."""
    node = shutil.which("node")
    if node is None:
        unavailable("node is not installed: the componentize-js guests need Node.js 18+")
    modules = npm_tool(COMPONENTIZE_JS)
    key = "cjs-" + _digest([app_dir / "app.js", *_wit_files()], COMPONENTIZE_JS, world, wasi)

    def build(out: Path) -> None:
        work = out.parent
        wit = work / "wit"
        shutil.copytree(WIT, wit)
        for f in wit.rglob("*.wit"):
            f.write_text(f.read_text().replace("@0.2.12", f"@{wasi}"))
        (work / "node_modules").symlink_to(modules)  # ESM resolves packages next to the script
        script = work / "build.mjs"
        script.write_text(_COMPONENTIZE_JS_SCRIPT)
        _run([node, str(script), str(app_dir / "app.js"), str(wit), world, str(out)], cwd=work)
        (work / "node_modules").unlink()

    return _cached(key, app_dir.name + ".wasm", build)


def _jco(args: list[str], cwd: Path) -> None:
    """jco (its bundled wasm-tools and preview-1 adapter); paths must be relative to ``cwd``."""
    _run([str(npm_tool(JCO) / ".bin" / "jco"), *args], cwd=cwd)


def adapt(core_module: Path) -> Path:
    """A wasip1 core module wrapped into a command component with the preview-1 adapter, as
    ``wasm-tools component new --adapt`` does (jco's ``new --wasi-command``)."""
    key = "adapt-" + _digest([core_module], JCO)

    def build(out: Path) -> None:
        shutil.copyfile(core_module, out.parent / "core.wasm")
        _jco(["new", "core.wasm", "--wasi-command", "-o", out.name], out.parent)
        (out.parent / "core.wasm").unlink()

    return _cached(key, core_module.stem + ".component.wasm", build)


def retarget(component: Path, version: str) -> Path:
    """The same component with its WASI imports renamed to ``@version`` (0.2.0, 0.2.3, ...), as
    older toolchains name them: printed to text, renamed, parsed back."""
    key = "retarget-" + _digest([component], JCO, version)

    def build(out: Path) -> None:
        work = out.parent
        shutil.copyfile(component, work / "in.wasm")
        _jco(["print", "in.wasm", "-o", "in.wat"], work)
        text = (work / "in.wat").read_text()
        (work / "in.wat").write_text(text.replace("@0.2.12", f"@{version}"))
        _jco(["parse", "in.wat", "-o", out.name], work)
        for f in ("in.wasm", "in.wat"):
            (work / f).unlink()

    return _cached(key, f"{component.stem}-{version}.wasm", build)
