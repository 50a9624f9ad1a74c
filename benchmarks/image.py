"""Put the benchmark guest into a local registry as a wasi/wasm32 OCI image, with plain oras-py.

The image is what Docker+Wasm builds from ``FROM scratch; COPY app.wasm /; ENTRYPOINT ["/app.wasm"]``:
an OCI image config (os ``wasi``, architecture ``wasm32``, Entrypoint, ExposedPorts) and one gzip tar
layer holding ``/app.wasm``.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import tempfile
from pathlib import Path

import oras.client

MANIFEST_MEDIA = "application/vnd.oci.image.manifest.v1+json"
CONFIG_MEDIA = "application/vnd.oci.image.config.v1+json"
LAYER_MEDIA = "application/vnd.oci.image.layer.v1.tar+gzip"
MODULE_PATH = "/app.wasm"
PORT = 8080


def _layer(module: Path, dest: Path) -> None:
    data = module.read_bytes()
    with tarfile.open(dest, "w:gz") as tar:
        info = tarfile.TarInfo(MODULE_PATH.lstrip("/"))
        info.size = len(data)
        info.mode = 0o755
        tar.addfile(info, io.BytesIO(data))


def _config() -> dict[str, object]:
    return {
        "architecture": "wasm32",
        "os": "wasi",
        "config": {
            "Entrypoint": [MODULE_PATH],
            "Env": [f"PORT={PORT}"],
            "ExposedPorts": {f"{PORT}/tcp": {}},
            "WorkingDir": "/",
        },
        "rootfs": {"type": "layers", "diff_ids": []},
    }


def push(module: Path, registry: str, repository: str = "bench/http-ok", tag: str = "1") -> str:
    """Push and return the reference ``registry/repository:tag``. Blobs and manifest go up through
    oras-py's calls one by one (its ``push`` would add file-name annotations no Docker image has)."""
    ref = f"{registry}/{repository}:{tag}"
    client = oras.client.OrasClient(hostname=registry, insecure=True)
    container = client.get_container(ref)
    with tempfile.TemporaryDirectory(prefix="bench-image-") as tmp:
        layer_file = Path(tmp) / "layer.tar.gz"
        _layer(module, layer_file)
        config_file = Path(tmp) / "config.json"
        config_file.write_text(json.dumps(_config()))
        layer = {"mediaType": LAYER_MEDIA, "size": layer_file.stat().st_size, "digest": _digest(layer_file)}
        config = {
            "mediaType": CONFIG_MEDIA,
            "size": config_file.stat().st_size,
            "digest": _digest(config_file),
        }
        for blob, desc in ((layer_file, layer), (config_file, config)):
            client.upload_blob(str(blob), container, desc).raise_for_status()
        manifest = {"schemaVersion": 2, "mediaType": MANIFEST_MEDIA, "config": config, "layers": [layer]}
        client.upload_manifest(manifest, container).raise_for_status()
    return ref


def _digest(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
