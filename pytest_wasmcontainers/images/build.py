"""Package a Wasm module as an image (OCI image layout) and push a layout to a registry.

``write_oci_layout`` writes what ``docker buildx build --platform wasi/wasm -o type=oci`` writes for
a ``FROM scratch`` image: ``oci-layout``, ``index.json`` and ``blobs/sha256/*``. ``push`` uploads a
layout (directory or tar) with all its blobs, manifests and indexes.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from ..errors import ImageError
from .auth import Credentials
from .cache import digest_bytes
from .mediatypes import (
    COMPONENT_LAYER,
    DOCKER_CONFIG,
    DOCKER_LAYER_GZIP,
    DOCKER_LIST,
    DOCKER_MANIFEST,
    INDEXES,
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER_GZIP,
    OCI_LAYER_TAR,
    OCI_LAYER_ZSTD,
    OCI_MANIFEST,
    WASM_CONFIG,
    WASM_LAYER,
    module_kind,
)
from .reference import parse_reference
from .registry import RegistryClient
from .sources import REF_NAME, LayoutSource

Kind = Literal["docker-wasm", "wasm-artifact", "component-layer"]
Compression = Literal["gzip", "zstd", "none"]
EPOCH = "1970-01-01T00:00:00Z"


def tar_bytes(files: Mapping[str, bytes], *, mode: int = 0o755) -> bytes:
    """A reproducible tar of ``{guest path: content}``, parent directories included."""
    dirs: set[str] = set()
    for name in files:
        parts = name.strip("/").split("/")[:-1]
        dirs.update("/".join(parts[: i + 1]) for i in range(len(parts)))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for d in sorted(dirs):
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tf.addfile(info)
        for name in sorted(files):
            info = tarfile.TarInfo(name.strip("/"))
            info.size, info.mode = len(files[name]), mode
            tf.addfile(info, io.BytesIO(files[name]))
    return buf.getvalue()


def _compress(data: bytes, how: Compression) -> bytes:
    if how == "gzip":
        return gzip.compress(data, mtime=0)
    if how == "zstd":
        import zstandard

        return bytes(zstandard.ZstdCompressor().compress(data))
    return data


class _Layout:
    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        (root / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))

    def blob(self, data: bytes, media_type: str, **extra: Any) -> dict[str, Any]:
        digest = digest_bytes(data)
        path = self.root / "blobs" / "sha256" / digest.split(":")[1]
        if not path.exists():
            path.write_bytes(data)
        return {"mediaType": media_type, "digest": digest, "size": len(data), **extra}

    def json_blob(self, doc: dict[str, Any], media_type: str, **extra: Any) -> dict[str, Any]:
        return self.blob(json.dumps(doc, indent=2, sort_keys=True).encode(), media_type, **extra)

    def tag(self, desc: dict[str, Any], tag: str) -> None:
        index_file = self.root / "index.json"
        index = json.loads(index_file.read_text()) if index_file.exists() else {}
        keep = [m for m in index.get("manifests", []) if (m.get("annotations") or {}).get(REF_NAME) != tag]
        entry = {**desc, "annotations": {**(desc.get("annotations") or {}), REF_NAME: tag}}
        doc = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [*keep, entry]}
        index_file.write_text(json.dumps(doc, indent=2))


def _image_config(os_: str, arch: str, inner: dict[str, Any], diff_ids: list[str]) -> dict[str, Any]:
    return {
        "architecture": arch,
        "os": os_,
        "created": EPOCH,
        "config": inner,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": EPOCH, "created_by": "pytest-wasmcontainers write_oci_layout"}],
    }


def write_oci_layout(
    directory: Path | str,
    module: bytes | Path | str,
    *,
    tag: str = "latest",
    entrypoint: Sequence[str] | None = None,
    cmd: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    working_dir: str = "",
    exposed_ports: Sequence[int] = (),
    labels: Mapping[str, str] | None = None,
    extra_files: Mapping[str, bytes] | None = None,
    extra_layers: Sequence[bytes] = (),
    module_name: str = "app.wasm",
    kind: Kind = "docker-wasm",
    docker_schema2: bool = False,
    index_with: Sequence[str] = (),
    attestation: bool = False,
    platform: str = "wasi/wasm",
    compression: Compression = "gzip",
) -> str:
    """Write (or add a tag to) an OCI image layout holding ``module``; return the tagged digest.

    ``kind``: ``docker-wasm`` (the module in a tar layer at ``/<module_name>``, as Docker+Wasm
    images are), ``wasm-artifact`` (CNCF Wasm OCI artifact: ``application/vnd.wasm.config.v0+json``
    config, one ``application/wasm`` layer) or ``component-layer`` (runwasi's
    ``application/vnd.bytecodealliance.wasm.component.layer.v0+wasm`` layer).
    ``extra_files``: ``{guest path: bytes}`` added to the first tar layer; ``extra_layers``: more
    uncompressed tar layers applied on top, in order (they may hold whiteouts).
    ``index_with``: other platforms (``linux/amd64``) to put beside the Wasm one in an image index
    (a Docker manifest list when ``docker_schema2``); ``attestation`` adds a buildx-style
    attestation manifest to that index.
    """
    data = Path(module).read_bytes() if isinstance(module, (str, Path)) else module
    mod_kind = module_kind(data[:8], f"module {module_name}", "Give a compiled .wasm file.")
    layout = _Layout(Path(directory))
    os_, arch = platform.split("/", 1)
    manifest_type = DOCKER_MANIFEST if docker_schema2 else OCI_MANIFEST
    config_type = DOCKER_CONFIG if docker_schema2 else OCI_CONFIG
    if docker_schema2:
        compression = "gzip"
    layer_type = {
        "gzip": DOCKER_LAYER_GZIP if docker_schema2 else OCI_LAYER_GZIP,
        "zstd": OCI_LAYER_ZSTD,
        "none": OCI_LAYER_TAR,
    }[compression]

    def tar_layer(raw: bytes) -> tuple[dict[str, Any], str]:
        return layout.blob(_compress(raw, compression), layer_type), digest_bytes(raw)

    inner: dict[str, Any] = {}
    guest_module = "/" + module_name.strip("/")
    inner["Entrypoint"] = list(entrypoint) if entrypoint is not None else [guest_module]
    if cmd:
        inner["Cmd"] = list(cmd)
    if env:
        inner["Env"] = [f"{k}={v}" for k, v in env.items()]
    if working_dir:
        inner["WorkingDir"] = working_dir
    if exposed_ports:
        inner["ExposedPorts"] = {f"{p}/tcp": {} for p in exposed_ports}
    if labels:
        inner["Labels"] = dict(labels)

    layers: list[dict[str, Any]] = []
    diff_ids: list[str] = []
    if kind == "wasm-artifact":
        wasm = layout.blob(data, WASM_LAYER, annotations={"org.opencontainers.image.title": module_name})
        wasm_os = "wasip2" if mod_kind == "component" else "wasip1"
        cfg: dict[str, Any] = {
            "created": EPOCH,
            "architecture": "wasm",
            "os": wasm_os,
            "layerDigests": [wasm["digest"]],
        }
        if mod_kind == "component":
            cfg["component"] = {"exports": [], "imports": [], "target": None}
        config = layout.json_blob(cfg, WASM_CONFIG)
        layers = [wasm]
    else:
        files = dict(extra_files or {})
        if kind == "docker-wasm":
            files[guest_module] = data
        else:
            layers.append(layout.blob(data, COMPONENT_LAYER))
        if files:
            desc, diff = tar_layer(tar_bytes(files))
            layers.append(desc)
            diff_ids.append(diff)
        for raw in extra_layers:
            desc, diff = tar_layer(raw)
            layers.append(desc)
            diff_ids.append(diff)
        config = layout.json_blob(_image_config(os_, arch, inner, diff_ids), config_type)
    manifest = layout.json_blob(
        {"schemaVersion": 2, "mediaType": manifest_type, "config": config, "layers": layers}, manifest_type
    )
    if not index_with and not attestation:
        layout.tag(manifest, tag)
        return str(manifest["digest"])

    entries = [{**manifest, "platform": {"os": os_, "architecture": arch}}]
    for other in index_with:
        o_os, o_arch = other.split("/", 1)
        raw = tar_bytes({"etc/os-release": f"ID=placeholder-{o_os}-{o_arch}\n".encode()})
        desc, diff = tar_layer(raw)
        o_cfg = layout.json_blob(_image_config(o_os, o_arch, {"Cmd": ["/bin/sh"]}, [diff]), config_type)
        o_man = layout.json_blob(
            {"schemaVersion": 2, "mediaType": manifest_type, "config": o_cfg, "layers": [desc]}, manifest_type
        )
        entries.insert(0, {**o_man, "platform": {"os": o_os, "architecture": o_arch}})
    if attestation:
        statement = layout.blob(
            b'{"_type":"https://in-toto.io/Statement/v0.1"}', "application/vnd.in-toto+json"
        )
        a_cfg = layout.json_blob(_image_config("unknown", "unknown", {}, []), OCI_CONFIG)
        a_man = layout.json_blob(
            {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": a_cfg, "layers": [statement]},
            OCI_MANIFEST,
        )
        entries.append(
            {
                **a_man,
                "platform": {"os": "unknown", "architecture": "unknown"},
                "annotations": {
                    "vnd.docker.reference.digest": manifest["digest"],
                    "vnd.docker.reference.type": "attestation-manifest",
                },
            }
        )
    index_type = DOCKER_LIST if docker_schema2 else OCI_INDEX
    index = layout.json_blob({"schemaVersion": 2, "mediaType": index_type, "manifests": entries}, index_type)
    layout.tag(index, tag)
    return str(index["digest"])


def push(
    layout: Path | str,
    reference: str,
    *,
    tag: str | None = None,
    insecure: Sequence[str] = (),
    credentials: Credentials | None = None,
) -> str:
    """Upload an OCI layout (directory, or ``.tar`` of one) to ``reference``; return the pushed digest.

    ``tag`` picks the layout's entry (by ``org.opencontainers.image.ref.name``) when it has several.
    """
    path = Path(layout)
    source = LayoutSource.from_dir(path, tag) if path.is_dir() else LayoutSource.from_archive(path, tag)
    ref = parse_reference(reference, insecure)
    client = RegistryClient(ref, credentials)
    top_digest, top_body = source.top()

    def upload_manifest(digest: str, body: bytes, ref_name: str) -> None:
        doc = json.loads(body)
        media_type = doc.get("mediaType") or (OCI_INDEX if "manifests" in doc else OCI_MANIFEST)
        if media_type in INDEXES:
            for child in doc.get("manifests") or []:
                upload_manifest(child["digest"], source.manifest(child["digest"]), child["digest"])
        else:
            for desc in [doc["config"], *(doc.get("layers") or [])]:
                client.put_blob(desc["digest"], b"".join(source.chunks(desc["digest"])))
        if digest_bytes(body) != digest:
            raise ImageError(f"{source.label}: manifest {digest} does not match its digest")
        client.put_manifest(ref_name, body, media_type)

    upload_manifest(top_digest, top_body, ref.digest or ref.tag or "latest")
    if ref.digest and ref.digest != top_digest:
        raise ImageError(f"pushed {top_digest}, but the reference asks for {ref.digest}")
    return top_digest


__all__ = ["push", "tar_bytes", "write_oci_layout"]
