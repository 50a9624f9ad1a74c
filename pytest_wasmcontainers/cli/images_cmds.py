"""``build`` and ``push``: package a .wasm module as an OCI image layout and upload it. Shared by
``wasmcontainers`` and ``python -m pytest_wasmcontainers.images``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..images.build import push, write_oci_layout


def key_value(item: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"must look like KEY=VALUE, got {item!r}")
    return key, value


def register_build(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    b = sub.add_parser("build", parents=parents, help="write an OCI image layout holding a .wasm module")
    b.add_argument("module", type=Path)
    b.add_argument("-o", "--output", type=Path, required=True, help="layout directory (created or added to)")
    b.add_argument("-t", "--tag", default="latest")
    b.add_argument("--name", default=None, help="file name of the module in the image (default: its own)")
    b.add_argument("--entrypoint", nargs="*", default=None)
    b.add_argument("--cmd", nargs="*", default=[])
    b.add_argument("--env", action="append", type=key_value, default=[], metavar="K=V")
    b.add_argument("--label", action="append", type=key_value, default=[], metavar="K=V")
    b.add_argument("--port", action="append", type=int, default=[], help="ExposedPorts (tcp)")
    b.add_argument("--workdir", default="")
    b.add_argument(
        "--kind", choices=["docker-wasm", "wasm-artifact", "component-layer"], default="docker-wasm"
    )
    b.add_argument("--docker-schema2", action="store_true")
    b.add_argument("--index-with", action="append", default=[], metavar="OS/ARCH")
    b.set_defaults(func=build)


def register_push(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    from . import registry_options

    p = sub.add_parser(
        "push", parents=[*parents, registry_options()], help="upload an OCI layout (directory or tar)"
    )
    p.add_argument("layout", type=Path)
    p.add_argument("reference")
    p.add_argument("--tag", default=None, help="which tag of the layout to push, if it has several")
    p.set_defaults(func=push_layout)


def build(args: argparse.Namespace) -> int:
    digest = write_oci_layout(
        args.output,
        args.module,
        tag=args.tag,
        module_name=args.name or args.module.name,
        entrypoint=args.entrypoint,
        cmd=args.cmd,
        env=dict(args.env),
        labels=dict(args.label),
        exposed_ports=args.port,
        working_dir=args.workdir,
        kind=args.kind,
        docker_schema2=args.docker_schema2,
        index_with=args.index_with,
    )
    print(digest)
    return 0


def push_layout(args: argparse.Namespace) -> int:
    print(push(args.layout, args.reference, tag=args.tag, insecure=args.insecure))
    return 0
