"""``python -m pytest_wasmcontainers.images build|push|pull``: package, upload and fetch Wasm images.

build app.wasm -o layout/ -t v1 [--entrypoint /app.wasm] [--env K=V] [--port 8080] [--kind ...]
push layout/ localhost:5000/app:v1
pull localhost:5000/app:v1        (prints the resolved image as JSON)
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from ..errors import WasmContainersError
from .build import push, write_oci_layout
from .cache import ImageCache
from .pull import POLICIES, pull


def _kv(items: Sequence[str], what: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"{what} must look like KEY=VALUE, got {item!r}")
        out[key] = value
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pytest_wasmcontainers.images")
    sub = parser.add_subparsers(dest="command", required=True)

    b = sub.add_parser("build", help="write an OCI image layout holding a .wasm module")
    b.add_argument("module", type=Path)
    b.add_argument("-o", "--output", type=Path, required=True, help="layout directory (created or added to)")
    b.add_argument("-t", "--tag", default="latest")
    b.add_argument("--name", default=None, help="file name of the module in the image (default: its own)")
    b.add_argument("--entrypoint", nargs="*", default=None)
    b.add_argument("--cmd", nargs="*", default=[])
    b.add_argument("--env", action="append", default=[], metavar="K=V")
    b.add_argument("--label", action="append", default=[], metavar="K=V")
    b.add_argument("--port", action="append", type=int, default=[], help="ExposedPorts (tcp)")
    b.add_argument("--workdir", default="")
    b.add_argument(
        "--kind", choices=["docker-wasm", "wasm-artifact", "component-layer"], default="docker-wasm"
    )
    b.add_argument("--docker-schema2", action="store_true")
    b.add_argument("--index-with", action="append", default=[], metavar="OS/ARCH")

    p = sub.add_parser("push", help="upload an OCI layout (directory or tar) to a registry")
    p.add_argument("layout", type=Path)
    p.add_argument("reference")
    p.add_argument("--tag", default=None, help="which tag of the layout to push, if it has several")
    p.add_argument("--insecure", action="append", default=[], metavar="HOST[:PORT]")

    g = sub.add_parser("pull", help="pull an image into the cache and print what a runtime gets")
    g.add_argument("reference")
    g.add_argument("--policy", choices=POLICIES, default="missing")
    g.add_argument("--cache-dir", type=Path, default=None)
    g.add_argument("--insecure", action="append", default=[], metavar="HOST[:PORT]")

    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            digest = write_oci_layout(
                args.output,
                args.module,
                tag=args.tag,
                module_name=args.name or args.module.name,
                entrypoint=args.entrypoint,
                cmd=args.cmd,
                env=_kv(args.env, "--env"),
                labels=_kv(args.label, "--label"),
                exposed_ports=args.port,
                working_dir=args.workdir,
                kind=args.kind,
                docker_schema2=args.docker_schema2,
                index_with=args.index_with,
            )
            print(digest)
        elif args.command == "push":
            print(push(args.layout, args.reference, tag=args.tag, insecure=args.insecure))
        else:
            image = pull(
                args.reference, policy=args.policy, cache=ImageCache(args.cache_dir), insecure=args.insecure
            )
            print(json.dumps(asdict(image), indent=2, default=str))
    except WasmContainersError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
