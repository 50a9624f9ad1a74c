"""``wasmcontainers inspect``: what an image is, and whether this runtime can run its module."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ..images.image import WasmImage
from ..images.mediatypes import DOCKER_MANIFEST, WASM_CONFIG, WASM_LAYERS
from ..images.pull import local_source
from ..session import PULL_POLICIES, SessionConfig, WasmSession


def register(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    from . import registry_options

    p = sub.add_parser(
        "inspect",
        parents=[*parents, registry_options()],
        help="show an image's config and module, and whether it can run here",
        description="Pull an image (if needed) and show its config, its module's kind and imports, and "
        "a verdict. Exits 1 when the module cannot run on this runtime.",
    )
    p.add_argument("reference", metavar="REF")
    p.add_argument("--pull", dest="policy", choices=PULL_POLICIES, default="missing")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=inspect)


def inspect(args: argparse.Namespace) -> int:
    config = SessionConfig(
        cache_dir=args.cache_dir, insecure_registries=tuple(args.insecure), pull_policy=args.policy
    )
    session = WasmSession(config)
    try:
        image = session.pull(args.reference)
        report = describe(session, image)
    finally:
        session.close()
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(render(report))
    return 0 if report["verdict"] == "supported" else 1


def describe(session: WasmSession, image: WasmImage) -> dict[str, Any]:
    runtime = session.runtime
    facts = runtime.inspect(image.module_file)
    compiled, _ = runtime.modules.load(image.module_file)
    if facts["kind"] == "component":
        imports = sorted(compiled.type.imports(runtime.engine))
    else:
        imports = [f"{imp.module}.{imp.name}" for imp in compiled.imports]
    return {
        "reference": image.reference,
        "digest": image.digest,
        "index_digest": image.index_digest,
        "platform": image.platform,
        "format": _format(session, image),
        "entrypoint": list(image.entrypoint),
        "cmd": list(image.cmd),
        "env": [f"{k}={v}" for k, v in image.env],
        "workdir": image.working_dir,
        "exposed_ports": list(image.exposed_ports),
        "module": image.module_path,
        "module_kind": facts["kind"],
        "world": facts["world"],
        "export": facts["export"],
        "imports": imports,
        "missing": facts["missing"],
        "verdict": "supported" if facts["why"] is None else f"unsupported: {facts['why']}",
    }


def _format(session: WasmSession, image: WasmImage) -> str:
    if isinstance(local_source(image.reference), Path):
        return "a plain .wasm file (no image config)"
    try:
        manifest = json.loads(session.image_cache.blob_path(image.digest).read_bytes())
    except (OSError, ValueError):
        return "unknown (manifest not in the cache)"
    schema = "Docker schema 2" if manifest.get("mediaType") == DOCKER_MANIFEST else "OCI"
    layers = [d.get("mediaType", "") for d in manifest.get("layers") or []]
    if (manifest.get("config") or {}).get("mediaType") == WASM_CONFIG:
        kind = "Wasm OCI artifact: the module is the program, no filesystem"
    elif any(mt in WASM_LAYERS for mt in layers):
        kind = "image with a Wasm layer (runwasi): the layer is the program, tar layers its filesystem"
    else:
        kind = "Docker+Wasm image: the module is a file in its filesystem"
    return f"{schema} manifest, {kind}"


def render(r: dict[str, Any]) -> str:
    kind = "component (WASI 0.2)" if r["module_kind"] == "component" else "core module (WASI preview 1)"
    export = f", export {r['export']}" if r["export"] else ""
    lines = [
        ("reference", r["reference"]),
        ("digest", r["digest"] + (f" (from index {r['index_digest']})" if r["index_digest"] else "")),
        ("platform", r["platform"]),
        ("format", r["format"]),
        ("entrypoint", json.dumps(r["entrypoint"])),
        ("cmd", json.dumps(r["cmd"])),
        ("env", " ".join(r["env"]) or "-"),
        ("workdir", r["workdir"]),
        ("ports", " ".join(f"{p}/tcp" for p in r["exposed_ports"]) or "-"),
        ("module", f"{r['module']}: {kind}, world {r['world']}{export}"),
        ("imports", str(len(r["imports"]))),
    ]
    out = [f"{k + ':':<12}{v}" for k, v in lines]
    missing = r["missing"]
    for name in r["imports"]:
        # a missing entry is the import's name, or it with the wrong signature or function added
        gaps = [
            m[len(name) :].strip(" #") for m in missing if m == name or m.startswith((name + " ", name + "#"))
        ]
        detail = ", ".join(g for g in gaps if g)
        mark = ("   <- not provided" + (f": {detail}" if detail else "")) if gaps else ""
        out.append(f"  {name}{mark}")
    out.append(f"{'verdict:':<12}{r['verdict']}")
    return "\n".join(out)
