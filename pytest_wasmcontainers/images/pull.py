"""pull(): reference -> verified, cached, unpacked :class:`WasmImage`."""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..errors import ImageError, ImageNotFoundError, PlatformNotFoundError
from .assemble import build_image, load_image
from .cache import ImageCache, digest_file, split_digest
from .image import PullStats, WasmImage
from .mediatypes import DOCKER_SCHEMA1, INDEXES, MANIFESTS, WASM_ARCH, WASM_OS, module_kind
from .reference import parse_reference
from .registry import RegistryClient
from .sources import DockerArchiveSource, LayoutSource, RegistrySource, Source

POLICIES = ("missing", "always", "never")
ATTESTATION = "attestation-manifest"


@dataclass(frozen=True)
class PullProgress:
    """Bytes of one blob fetched so far (``total`` from its descriptor, None if unknown)."""

    reference: str
    digest: str
    done: int
    total: int | None


ProgressFn = Callable[[PullProgress], None]


@dataclass
class _Tally:
    bytes: int = 0
    blobs: int = 0


def _json(data: bytes, what: str) -> dict[str, Any]:
    try:
        doc = json.loads(data)
    except ValueError as err:
        raise ImageError(f"{what} is not valid JSON: {err}") from err
    if not isinstance(doc, dict):
        raise ImageError(f"{what} is not a JSON object")
    return doc


def descriptor(desc: Any, what: str) -> dict[str, Any]:
    """``desc`` checked as an OCI descriptor (digest, size, mediaType of the right types), so a
    malformed manifest is an error that names it rather than a KeyError deep in the pull."""
    if not isinstance(desc, dict):
        raise ImageError(f"{what}: a descriptor must be a JSON object, not {json.dumps(desc)[:80]}")
    digest, size, media_type = desc.get("digest"), desc.get("size"), desc.get("mediaType", "")
    if not isinstance(digest, str):
        raise ImageError(f"{what}: descriptor has no digest string ({json.dumps(desc)[:120]})")
    split_digest(digest)
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
        raise ImageError(f"{what}: descriptor {digest} has size {size!r}; a size is a byte count")
    if not isinstance(media_type, str):
        raise ImageError(f"{what}: descriptor {digest} has mediaType {media_type!r}, not a string")
    return desc


def _list(doc: dict[str, Any], key: str, what: str) -> list[Any]:
    items = doc.get(key) or []
    if not isinstance(items, list):
        raise ImageError(f"{what}: '{key}' must be a JSON list, not {type(items).__name__}")
    return items


def choose_platform(index: dict[str, Any], label: str) -> tuple[dict[str, Any], str]:
    """Pick the wasi/wasm entry of an image index or manifest list; attestations are skipped."""
    seen: list[str] = []
    unplatformed = []
    what = f"image index of {label}"
    if not isinstance(index.get("manifests"), list):
        raise ImageError(f"{what} (media type {index.get('mediaType')}) has no 'manifests' list")
    for entry in index["manifests"]:
        desc = descriptor(entry, what)
        annotations, plat = desc.get("annotations") or {}, desc.get("platform")
        if not isinstance(annotations, dict) or not isinstance(plat, (dict, type(None))):
            raise ImageError(f"{what}: entry {desc['digest']} has a malformed platform or annotations")
        if annotations.get("vnd.docker.reference.type") == ATTESTATION:
            seen.append("unknown/unknown (attestation)")
            continue
        if not plat:
            unplatformed.append(desc)
            continue
        os_, arch = plat.get("os", ""), plat.get("architecture", "")
        if os_ in WASM_OS and arch in WASM_ARCH:
            return desc, f"{os_}/{arch}"
        seen.append(f"{os_}/{arch}" + (f"/{plat['variant']}" if plat.get("variant") else ""))
    if len(unplatformed) == 1 and not seen:
        return unplatformed[0], ""
    raise PlatformNotFoundError(
        f"image {label} has no wasi/wasm entry; its index lists: {', '.join(seen) or 'nothing'}. "
        "Build the image with `docker buildx build --platform wasi/wasm` (os wasi/wasip1/wasip2, "
        "architecture wasm/wasm32)."
    )


def _fetch(
    source: Source,
    cache: ImageCache,
    desc: dict[str, Any],
    label: str,
    progress: ProgressFn | None,
    tally: _Tally,
) -> Path:
    digest = desc["digest"]
    size = desc.get("size")

    def on_bytes(n: int) -> None:
        if progress:
            progress(PullProgress(label, digest, n, size))

    path, n = cache.put_blob(
        digest, lambda: source.chunks(digest), size=size, source=f" from {source.label}", on_bytes=on_bytes
    )
    if n:
        tally.bytes += n
        tally.blobs += 1
    return path


def _manifest(source: Source, cache: ImageCache, digest: str, tally: _Tally) -> bytes:
    if not cache.has_blob(digest):
        data = source.manifest(digest)
        cache.put_bytes(digest, data, source=f" from {source.label}")
        tally.bytes += len(data)
        tally.blobs += 1
    return cache.blob_path(digest).read_bytes()


def materialize(
    source: Source,
    cache: ImageCache,
    label: str,
    progress: ProgressFn | None = None,
    tally: _Tally | None = None,
) -> WasmImage:
    """Resolve the source's manifest (through indexes), fetch and verify blobs, unpack once."""
    tally = tally or _Tally()
    digest, body = source.top()
    if not cache.has_blob(digest):
        _json(body, f"manifest {digest} of {label}")  # junk (an HTML page) is not worth caching
        cache.put_bytes(digest, body, source=f" from {source.label}")
        tally.bytes += len(body)
        tally.blobs += 1
    doc = _json(cache.blob_path(digest).read_bytes(), f"manifest {digest} of {label}")
    index_digest: str | None = None
    hint = ""
    for _ in range(4):
        if not (doc.get("mediaType") in INDEXES or ("manifests" in doc and "layers" not in doc)):
            break
        desc, hint = choose_platform(doc, label)
        index_digest, digest = digest, desc["digest"]
        doc = _json(_manifest(source, cache, digest, tally), f"manifest {digest} of {label}")
    else:
        raise ImageError(f"image {label}: image indexes nested too deep")
    if doc.get("mediaType") in DOCKER_SCHEMA1 or doc.get("schemaVersion") == 1:
        raise ImageError(f"image {label} uses Docker schema 1 manifests, which are obsolete; re-push it")
    what = f"image {label}: manifest {digest}"
    if doc.get("mediaType") not in (None, *MANIFESTS):
        raise ImageError(
            f"{what} has media type {doc['mediaType']!r}, which is not an image manifest "
            f"({' or '.join(MANIFESTS)}); this reference names something other than an image"
        )
    if "config" not in doc:
        raise ImageError(f"{what} has no config")
    config_desc = descriptor(doc["config"], f"{what} (config)")
    layers = [descriptor(d, f"{what} (layers)") for d in _list(doc, "layers", what)]
    image_dir = cache.image_dir(digest)
    if found := load_image(image_dir, label, index_digest):
        return found
    config_path = _fetch(source, cache, config_desc, label, progress, tally)
    config = _json(config_path.read_bytes(), f"config of {label}")
    blobs = {d["digest"]: _fetch(source, cache, d, label, progress, tally) for d in layers}
    with cache.lock(f"image-{digest.split(':')[1][:32]}"):
        if not (image_dir / "image.json").is_file():
            work = cache.tmp_path("image")
            work.mkdir()
            try:
                build_image(
                    workdir=work,
                    manifest=doc,
                    config=config,
                    blobs=blobs,
                    manifest_digest=digest,
                    platform_hint=hint,
                    label=label,
                )
                cache.publish_dir(work, image_dir)
            finally:
                shutil.rmtree(work, ignore_errors=True)
    image = load_image(image_dir, label, index_digest)
    assert image is not None
    return image


class CacheSource:
    """The cache itself as a source: for digest references, which need no registry once cached."""

    def __init__(self, cache: ImageCache, digest: str) -> None:
        self.cache, self.digest, self.label = cache, digest, "the cache"

    def top(self) -> tuple[str, bytes]:
        return self.digest, self.cache.blob_path(self.digest).read_bytes()

    def manifest(self, digest: str) -> bytes:
        return b"".join(self.chunks(digest))

    def chunks(self, digest: str) -> Iterator[bytes]:
        if not self.cache.has_blob(digest):
            raise ImageNotFoundError(f"blob {digest} is not in the cache")
        yield self.cache.blob_path(digest).read_bytes()


def _wasm_file(path: Path, cache: ImageCache, reference: str, tally: _Tally) -> WasmImage:
    if not path.is_file():
        raise ImageNotFoundError(f"no such Wasm file: {path}")
    with open(path, "rb") as f:
        kind = module_kind(f.read(8), str(path), "")
    digest = digest_file(path)
    blob, n = cache.put_blob(digest, lambda: [path.read_bytes()], source=f" from {path}")
    tally.bytes += n
    tally.blobs += 1 if n else 0
    return WasmImage(
        reference=reference,
        digest=digest,
        platform="wasip2/wasm" if kind == "component" else "wasip1/wasm",
        module_file=blob,
        module_path="/" + path.name,
        module_kind=kind,
        module_digest=digest,
        module_fixed=True,
    )


def _split_tag(rest: str) -> tuple[Path, str | None]:
    """``PATH[:TAG]``: the whole string if it exists, else the last ``:`` splits off a tag."""
    if Path(rest).exists() or ":" not in rest:
        return Path(rest), None
    path, tag = rest.rsplit(":", 1)
    return Path(path), tag


def local_source(reference: str) -> Source | Path | None:
    """The source a non-registry reference names (or a Path for a plain .wasm file)."""
    for prefix in ("oci:", "oci-archive:", "docker-archive:"):
        if reference.startswith(prefix):
            path, tag = _split_tag(reference[len(prefix) :])
            if not path.exists():
                raise ImageNotFoundError(f"{reference}: {path} does not exist")
            if prefix == "oci:":
                return LayoutSource.from_dir(path, tag)
            if prefix == "oci-archive:":
                return LayoutSource.from_archive(path, tag)
            return DockerArchiveSource(path, tag)
    if reference.endswith(".wasm") and ":" not in reference.rsplit("/", 1)[-1]:
        return Path(reference)
    return None


def pull(
    reference: str,
    *,
    policy: str = "missing",
    cache: ImageCache | None = None,
    insecure: Sequence[str] = (),
    progress: ProgressFn | None = None,
) -> WasmImage:
    """Get ``reference`` into the cache (verified, unpacked) and describe it.

    ``reference``: a registry reference (``ghcr.io/org/app:1``), ``oci:DIR[:TAG]``,
    ``oci-archive:TAR[:TAG]``, ``docker-archive:TAR[:TAG]``, or a path to a ``.wasm`` file.
    ``policy``: ``missing`` (use the cache when it has the reference), ``always`` (ask the registry
    what the tag points to now; blobs still come from the cache), ``never`` (cache only).
    """
    if policy not in POLICIES:
        raise ImageError(f"unknown pull policy {policy!r}: use one of {', '.join(POLICIES)}")
    cache = cache or ImageCache()
    started = time.monotonic()
    tally = _Tally()
    local = local_source(reference)
    if isinstance(local, Path):
        image = _wasm_file(local, cache, reference, tally)
    elif local is not None:
        image = materialize(local, cache, reference, progress, tally)
    else:
        image = _pull_registry(reference, policy, cache, insecure, progress, tally)
    stats = PullStats(tally.blobs == 0, time.monotonic() - started, tally.bytes, tally.blobs)
    return replace(image, pull_stats=stats)


def _pull_registry(
    reference: str,
    policy: str,
    cache: ImageCache,
    insecure: Sequence[str],
    progress: ProgressFn | None,
    tally: _Tally,
) -> WasmImage:
    ref = parse_reference(reference, insecure)
    key = str(ref)

    def cached() -> WasmImage | None:
        rec = cache.read_ref(key)
        if rec is not None:
            return load_image(cache.image_dir(rec["digest"]), reference, rec.get("index_digest"))
        if ref.digest and cache.has_blob(ref.digest):
            # Content addressed: a digest pulled under any other name is this image too.
            try:
                return materialize(CacheSource(cache, ref.digest), cache, reference)
            except ImageNotFoundError:
                return None
        return None

    if policy != "always" and (hit := cached()):
        return hit
    if policy == "never":
        raise ImageNotFoundError(
            f"{reference} is not in the image cache ({cache.root}) and the pull policy is 'never'. "
            "Pull it once with policy 'missing' (needs the registry), or point the cache at a "
            "directory that has it (WASMCONTAINERS_CACHE_DIR)."
        )
    # One process per reference talks to the registry; the others wait and then find it cached.
    with cache.lock("ref-" + hashlib.sha256(key.encode()).hexdigest()[:32]):
        if policy != "always" and (hit := cached()):
            return hit
        image = materialize(RegistrySource(RegistryClient(ref)), cache, reference, progress, tally)
        cache.write_ref(key, {"digest": image.digest, "index_digest": image.index_digest})
    return image
