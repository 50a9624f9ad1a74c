"""Turn a verified manifest + config + layer blobs into an unpacked image a runtime can start."""

from __future__ import annotations

import json
import os
import posixpath
import shutil
from pathlib import Path
from typing import Any

from ..errors import ImageError, NotWasmError
from .cache import digest_file
from .image import WasmImage
from .mediatypes import WASM_CONFIG, WASM_LAYERS, is_tar_layer, module_kind
from .unpack import apply_layer, resolve

RECORD = "image.json"


def _platform(config: dict[str, Any], fallback: str) -> str:
    if config.get("os") and config.get("architecture"):
        return f"{config['os']}/{config['architecture']}"
    return fallback


def _titled_path(layer: dict[str, Any]) -> str:
    """Guest path for a Wasm layer: its file name annotation (set by oras and wkg), or a fixed one."""
    title = str((layer.get("annotations") or {}).get("org.opencontainers.image.title", ""))
    return "/" + (posixpath.basename(title) if title.endswith(".wasm") else "module.wasm")


def _link_or_copy(src: Path, dest: Path) -> None:
    try:
        os.link(src, dest)
    except OSError:
        shutil.copyfile(src, dest)


def _find_module(rootfs: Path, argv0: str | None, working_dir: str, image: str) -> str:
    """The module's absolute guest path: argv[0] against WorkingDir, then against /."""
    if argv0:
        tries = [argv0] if argv0.startswith("/") else [posixpath.join(working_dir, argv0), "/" + argv0]
        for guest in tries:
            if resolve(rootfs, guest).is_file():
                return posixpath.normpath(guest)
        raise NotWasmError(
            f"image {image}: the entrypoint {argv0!r} is not a file in the image's filesystem "
            f"(looked for {', '.join(tries)})"
        )
    names = ("/" + str(p.relative_to(rootfs)) for p in rootfs.rglob("*.wasm"))
    found = sorted(n for n in names if resolve(rootfs, n).is_file())
    if len(found) == 1:
        return found[0]
    raise NotWasmError(
        f"image {image} has no Entrypoint or Cmd naming its Wasm module, and "
        + (f"several .wasm files ({', '.join(found)})" if found else "no .wasm file")
        + ' in its filesystem. Set ENTRYPOINT ["/app.wasm"] in the Dockerfile.'
    )


def _check_config(inner: Any, label: str) -> None:
    """The config fields we use, checked for the types the image spec gives them."""

    def bad(field: str, want: str) -> ImageError:
        shown = json.dumps(inner.get(field))[:80]
        return ImageError(
            f"image {label}: config field {field} is {shown}, but must be {want}; rebuild the image"
        )

    if not isinstance(inner, dict):
        raise ImageError(f"image {label}: the config's 'config' is {json.dumps(inner)[:80]}, not an object")
    for field in ("Entrypoint", "Cmd", "Env"):
        value = inner.get(field)
        if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise bad(field, "a list of strings")
    if not isinstance(inner.get("WorkingDir") or "", str):
        raise bad("WorkingDir", "a string")
    ports = inner.get("ExposedPorts")
    if ports is not None and not (
        isinstance(ports, dict) and all(str(p).split("/")[0].isdigit() for p in ports)
    ):
        raise bad("ExposedPorts", 'an object keyed by "PORT/PROTO"')
    labels = inner.get("Labels")
    if labels is not None and not isinstance(labels, dict):
        raise bad("Labels", "an object")


def build_image(
    *,
    workdir: Path,
    manifest: dict[str, Any],
    config: dict[str, Any],
    blobs: dict[str, Path],
    manifest_digest: str,
    platform_hint: str,
    label: str,
) -> None:
    """Write ``workdir`` (rootfs/, module file, image.json); the caller renames it into the cache."""
    layers = manifest.get("layers") or []
    cfg_type = (manifest.get("config") or {}).get("mediaType", "")
    inner: dict[str, Any] = config.get("config") or {}
    _check_config(inner, label)
    entrypoint = tuple(inner.get("Entrypoint") or ())
    cmd = tuple(inner.get("Cmd") or ())
    working_dir = inner.get("WorkingDir") or "/"
    env = []
    for item in inner.get("Env") or ():
        k, _, v = str(item).partition("=")
        env.append((k, v))
    ports = sorted(
        {
            int(p.split("/")[0])
            for p in (inner.get("ExposedPorts") or {})
            if p.endswith("/tcp") or "/" not in p
        }
    )
    labels = {str(k): str(v) for k, v in (inner.get("Labels") or {}).items()}
    wasm_layers = [d for d in layers if d.get("mediaType") in WASM_LAYERS]
    rootfs: Path | None = workdir / "rootfs"
    module_file: Path
    if cfg_type == WASM_CONFIG:
        # CNCF Wasm artifact: no filesystem, the one application/wasm layer is the program.
        if not wasm_layers:
            raise ImageError(
                f"image {label}: Wasm artifact (config {WASM_CONFIG}) without an application/wasm layer"
            )
        rootfs = None
        module_path = _titled_path(wasm_layers[0])
        module_file = workdir / "module.wasm"
        _link_or_copy(blobs[wasm_layers[0]["digest"]], module_file)
    else:
        assert rootfs is not None
        rootfs.mkdir()
        for i, desc in enumerate(layers):
            mt = desc.get("mediaType", "")
            if mt in WASM_LAYERS:
                continue
            if not is_tar_layer(mt):
                if wasm_layers:
                    continue  # artifact-style (e.g. `oras push`): other files ride along; ignore them
                raise ImageError(
                    f"image {label}: layer {i} has media type {mt!r}, which is neither a tar layer nor Wasm"
                )
            apply_layer(rootfs, blobs[desc["digest"]], f"{i} ({desc['digest'][:19]}) of {label}")
        argv0 = (entrypoint + cmd)[0] if (entrypoint + cmd) else None
        if wasm_layers:
            # runwasi: the first Wasm layer is the program; argv still comes from the config.
            module_file = workdir / "module.wasm"
            _link_or_copy(blobs[wasm_layers[0]["digest"]], module_file)
            module_path = (
                posixpath.normpath(posixpath.join(working_dir, argv0))
                if argv0
                else _titled_path(wasm_layers[0])
            )
        else:
            module_path = _find_module(rootfs, argv0, working_dir, label)
            module_file = resolve(rootfs, module_path)
    with open(module_file, "rb") as f:
        kind = module_kind(f.read(8), f"the module {module_path} of image {label}")
    record = {
        "digest": manifest_digest,
        "platform": _platform(config, platform_hint)
        or ("wasip2/wasm" if kind == "component" else "wasip1/wasm"),
        "module_file": str(module_file.relative_to(workdir)),
        "module_path": module_path,
        "module_kind": kind,
        "module_digest": digest_file(module_file),
        "entrypoint": list(entrypoint),
        "cmd": list(cmd),
        "env": env,
        "working_dir": working_dir,
        "exposed_ports": ports,
        "labels": labels,
        "rootfs": "rootfs" if rootfs is not None else None,
        "module_fixed": rootfs is None or bool(wasm_layers),
    }
    (workdir / RECORD).write_text(json.dumps(record, indent=1))


def load_image(image_dir: Path, reference: str, index_digest: str | None = None) -> WasmImage | None:
    try:
        rec = json.loads((image_dir / RECORD).read_text())
    except (OSError, ValueError):
        return None
    return WasmImage(
        reference=reference,
        digest=rec["digest"],
        platform=rec["platform"],
        module_file=image_dir / rec["module_file"],
        module_path=rec["module_path"],
        module_kind=rec["module_kind"],
        module_digest=rec["module_digest"],
        entrypoint=tuple(rec["entrypoint"]),
        cmd=tuple(rec["cmd"]),
        env=tuple((k, v) for k, v in rec["env"]),
        working_dir=rec["working_dir"],
        exposed_ports=tuple(rec["exposed_ports"]),
        labels=dict(rec["labels"]),
        rootfs=image_dir / rec["rootfs"] if rec["rootfs"] else None,
        module_fixed=rec.get("module_fixed", not rec["rootfs"]),
        index_digest=index_digest,
    )
