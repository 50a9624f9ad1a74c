"""Media types of the formats we read and write, and the Wasm binary header check."""

from __future__ import annotations

from ..errors import NotWasmError
from .image import ModuleKind

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_SCHEMA1 = (
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
)

# CNCF TAG-Runtime Wasm OCI artifact (https://tag-runtime.cncf.io/wgs/wasm/deliverables/wasm-oci-artifact/)
WASM_CONFIG = "application/vnd.wasm.config.v0+json"
WASM_LAYER = "application/wasm"
# runwasi: Wasm layers carried inside an ordinary image manifest
COMPONENT_LAYER = "application/vnd.bytecodealliance.wasm.component.layer.v0+wasm"
WASM_LAYERS = (WASM_LAYER, COMPONENT_LAYER, "application/vnd.wasm.content.layer.v1+wasm")

INDEXES = (OCI_INDEX, DOCKER_LIST)
MANIFESTS = (OCI_MANIFEST, DOCKER_MANIFEST)
ACCEPT = ", ".join((*MANIFESTS, *INDEXES))

WASM_OS = ("wasi", "wasip1", "wasip2")
WASM_ARCH = ("wasm", "wasm32")

WASM_MAGIC = b"\0asm"


def is_tar_layer(media_type: str) -> bool:
    return ".tar" in media_type or media_type.endswith("diff.tar.gzip") or media_type == ""


def module_kind(
    head: bytes, where: str, hint: str = "Check that the image's Entrypoint names the .wasm file."
) -> ModuleKind:
    """Tell a core module from a component by the 8-byte header (magic, version, layer)."""
    if len(head) < 8 or head[:4] != WASM_MAGIC:
        shown = head[:8].hex(" ") or "empty"
        raise NotWasmError(
            f"{where} is not a WebAssembly binary (first bytes: {shown}; a Wasm binary starts with "
            f"00 61 73 6d). {hint}"
        )
    version = int.from_bytes(head[4:6], "little")
    layer = int.from_bytes(head[6:8], "little")
    if layer == 0 and version == 1:
        return "module"
    if layer == 1:
        return "component"
    raise NotWasmError(f"{where}: unknown WebAssembly binary version {version} (layer {layer})")
