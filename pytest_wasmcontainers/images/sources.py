"""Where manifests and blobs come from: a registry, an OCI layout (directory or tar), a docker save tar.

Every source hands out raw bytes; the cache verifies them against their digests.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, Protocol, cast

from ..errors import DigestMismatchError, ImageError, ImageNotFoundError
from .cache import digest_bytes, split_digest
from .mediatypes import OCI_CONFIG, OCI_LAYER_TAR, OCI_MANIFEST
from .reference import Reference
from .registry import RegistryClient

CHUNK = 1 << 20
REF_NAME = "org.opencontainers.image.ref.name"
CONTAINERD_NAME = "io.containerd.image.name"


class Source(Protocol):
    label: str

    def top(self) -> tuple[str, bytes]:
        """The manifest or index the reference names: (digest, bytes)."""
        ...

    def manifest(self, digest: str) -> bytes: ...

    def chunks(self, digest: str) -> Iterator[bytes]: ...


def _read_chunks(f: IO[bytes]) -> Iterator[bytes]:
    with f:
        while chunk := f.read(CHUNK):
            yield chunk


class RegistrySource:
    def __init__(self, client: RegistryClient) -> None:
        self.client = client
        self.ref: Reference = client.ref
        self.label = str(client.ref)

    def top(self) -> tuple[str, bytes]:
        body, _media_type, header = self.client.get_manifest(self.ref.manifest_ref)
        alg = split_digest(self.ref.digest)[0] if self.ref.digest else "sha256"
        actual = digest_bytes(body, alg)
        expected = self.ref.digest or (header if header and header.startswith(f"{alg}:") else None)
        if expected and actual != expected:
            raise DigestMismatchError(
                f"manifest of {self.label} hashes to {actual}, but {expected} was expected: "
                "the registry's copy is corrupt or was tampered with"
            )
        return actual, body

    def manifest(self, digest: str) -> bytes:
        return self.client.get_manifest(digest)[0]

    def chunks(self, digest: str) -> Iterator[bytes]:
        return self.client.blob_chunks(digest)


class LayoutSource:
    """An OCI image layout: a directory (``oci:``) or a tar of one (``oci-archive:``)."""

    def __init__(self, label: str, opener: Callable[[str], IO[bytes]], tag: str | None) -> None:
        self.label = label
        self._open = opener
        self.tag = tag

    @classmethod
    def from_dir(cls, path: Path, tag: str | None) -> LayoutSource:
        if not (path / "index.json").is_file():
            raise ImageNotFoundError(f"{path} is not an OCI image layout (it has no index.json)")

        def opener(rel: str) -> IO[bytes]:
            try:
                return open(path / rel, "rb")
            except OSError as err:
                raise ImageError(f"OCI layout {path} is missing {rel}") from err

        return cls(f"oci:{path}", opener, tag)

    @classmethod
    def from_archive(cls, path: Path, tag: str | None) -> LayoutSource:
        members = _tar_members(path)
        if "index.json" not in members:
            raise ImageNotFoundError(f"{path} is not an OCI layout archive (it has no index.json)")
        return cls(f"oci-archive:{path}", _tar_opener(path, members), tag)

    def _read(self, rel: str) -> bytes:
        with self._open(rel) as f:
            return f.read()

    def top(self) -> tuple[str, bytes]:
        try:
            index = json.loads(self._read("index.json"))
            entries: list[dict[str, Any]] = index.get("manifests") or []
            if not isinstance(entries, list) or not all(
                isinstance(e, dict) and isinstance(e.get("digest"), str) for e in entries
            ):
                raise ValueError("'manifests' must be a list of descriptors with digests")
        except (ValueError, AttributeError) as err:
            raise ImageError(f"{self.label}: index.json is not valid JSON of an OCI layout: {err}") from err
        names = [(e.get("annotations") or {}).get(REF_NAME, "") for e in entries]
        if self.tag is not None:
            chosen = [
                e
                for e, n in zip(entries, names, strict=True)
                if n == self.tag
                or (e.get("annotations") or {}).get(CONTAINERD_NAME, "").endswith(f":{self.tag}")
            ]
        else:
            chosen = entries if len(entries) == 1 else []
        if not chosen:
            tags = ", ".join(n or "(untagged)" for n in names) or "none"
            want = f"tag {self.tag!r}" if self.tag is not None else "a single image (give :TAG to choose one)"
            raise ImageNotFoundError(f"{self.label}: no entry for {want}; the layout has: {tags}")
        digest = chosen[0]["digest"]
        return digest, self.manifest(digest)

    def _rel(self, digest: str) -> str:
        alg, hexpart = split_digest(digest)
        return f"blobs/{alg}/{hexpart}"

    def manifest(self, digest: str) -> bytes:
        return self._read(self._rel(digest))

    def chunks(self, digest: str) -> Iterator[bytes]:
        return _read_chunks(self._open(self._rel(digest)))


class DockerArchiveSource:
    """A ``docker save`` tarball: manifest.json names a config and layer tars, but no manifest digest.

    We synthesize an OCI manifest for it (its digest becomes the image's digest).
    """

    def __init__(self, path: Path, tag: str | None) -> None:
        self.label = f"docker-archive:{path}"
        members = _tar_members(path)
        if "manifest.json" not in members:
            raise ImageNotFoundError(f"{path} is not a `docker save` archive (it has no manifest.json)")
        self._open = _tar_opener(path, members)
        try:
            with self._open("manifest.json") as f:
                entries: list[dict[str, Any]] = json.load(f)
            if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
                raise ValueError("expected a list of objects")
        except ValueError as err:
            raise ImageError(f"{self.label}: manifest.json is not valid `docker save` JSON: {err}") from err
        if tag is not None:
            entries = [
                e for e in entries if any(t == tag or t.endswith(f":{tag}") for t in e.get("RepoTags") or [])
            ]
        if len(entries) != 1:
            have = [
                t for e in json.load(self._open("manifest.json")) for t in e.get("RepoTags") or ["(untagged)"]
            ]
            raise ImageNotFoundError(f"{self.label}: choose one image with :TAG; it has {', '.join(have)}")
        self._paths: dict[str, str] = {}
        config = self._describe(entries[0]["Config"], OCI_CONFIG)
        layers = [self._describe(p, OCI_LAYER_TAR) for p in entries[0]["Layers"]]
        doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": layers}
        self._manifest = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()

    def _describe(self, rel: str, media_type: str) -> dict[str, Any]:
        h = hashlib.sha256()
        size = 0
        for chunk in _read_chunks(self._open(rel)):
            h.update(chunk)
            size += len(chunk)
        digest = f"sha256:{h.hexdigest()}"
        if rel.startswith("blobs/sha256/") and rel.rsplit("/", 1)[1] != h.hexdigest():
            raise DigestMismatchError(f"{self.label}: {rel} hashes to {digest}; the archive is corrupt")
        self._paths[digest] = rel
        return {"mediaType": media_type, "digest": digest, "size": size}

    def top(self) -> tuple[str, bytes]:
        return digest_bytes(self._manifest), self._manifest

    def manifest(self, digest: str) -> bytes:
        raise ImageError(f"{self.label}: no manifest {digest}")

    def chunks(self, digest: str) -> Iterator[bytes]:
        return _read_chunks(self._open(self._paths[digest]))


def _norm(name: str) -> str:
    return "/".join(p for p in name.split("/") if p not in ("", "."))


def _tar_members(path: Path) -> dict[str, tarfile.TarInfo]:
    try:
        with tarfile.open(path) as tf:
            return {_norm(m.name): m for m in tf.getmembers() if m.isfile()}
    except (OSError, tarfile.TarError) as err:
        raise ImageError(f"cannot read archive {path}: {err}") from err


def _tar_opener(path: Path, members: dict[str, tarfile.TarInfo]) -> Callable[[str], IO[bytes]]:
    def opener(rel: str) -> IO[bytes]:
        if rel not in members:
            raise ImageError(f"archive {path} is missing {rel}")
        tf = tarfile.open(path)  # noqa: SIM115  (closed by _Closing)
        f = tf.extractfile(members[rel])
        assert f is not None
        return cast(IO[bytes], _Closing(f, tf))

    return opener


class _Closing:
    """A member stream that closes its archive too."""

    def __init__(self, f: IO[bytes], tf: tarfile.TarFile) -> None:
        self._f, self._tf = f, tf

    def read(self, n: int = -1) -> bytes:
        return self._f.read(n)

    def __enter__(self) -> _Closing:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._f.close()
        self._tf.close()
