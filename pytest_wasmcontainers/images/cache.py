"""The per-user image cache: verified blobs by digest, unpacked images by manifest digest.

Layout under ``root``::

    blobs/sha256/<hex>     every blob and manifest, verified against its digest before it lands
    images/<hex>/          an unpacked image (image.json, rootfs/, module.wasm), keyed by manifest digest
    refs/<hash>.json       registry reference -> digests, so a cached tag needs no registry request
    locks/, tmp/           cross-process locks; partial writes (same filesystem, so renames are atomic)

The runtime keeps ``compiled/`` and ``containers/`` here too (same filesystem, for hardlinks).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import platformdirs
from filelock import FileLock

from ..errors import DigestMismatchError, ImageError

CACHE_ENV = "WASMCONTAINERS_CACHE_DIR"
LOCK_TIMEOUT = 1800.0


def default_cache_root() -> Path:
    return Path(os.environ.get(CACHE_ENV) or platformdirs.user_cache_dir("pytest-wasmcontainers"))


def split_digest(digest: str) -> tuple[str, str]:
    alg, _, hexpart = digest.partition(":")
    if alg not in ("sha256", "sha512") or not hexpart or not all(c in "0123456789abcdef" for c in hexpart):
        raise ImageError(f"unsupported or malformed digest {digest!r} (expected sha256:<hex>)")
    return alg, hexpart


def digest_file(path: Path, alg: str = "sha256") -> str:
    h = hashlib.new(alg)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return f"{alg}:{h.hexdigest()}"


def digest_bytes(data: bytes, alg: str = "sha256") -> str:
    return f"{alg}:{hashlib.new(alg, data).hexdigest()}"


class ImageCache:
    def __init__(self, root: Path | str | None = None) -> None:
        self.root = (Path(root) if root is not None else default_cache_root()).absolute()
        try:
            for sub in ("blobs", "images", "refs", "locks", "tmp"):
                (self.root / sub).mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise ImageError(
                f"cannot use {self.root} as the image cache ({err}); point {CACHE_ENV} (or the "
                "plugin's cache directory option) at a writable directory"
            ) from err

        self._sweep_tmp()

    def _sweep_tmp(self, max_age: float = 86400.0) -> None:
        """Drop partial writes a crashed process left behind (live ones are far younger than a day)."""
        cutoff = time.time() - max_age
        for entry in (self.root / "tmp").iterdir():
            try:
                if entry.lstat().st_mtime < cutoff:
                    shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
            except OSError:
                pass

    def __repr__(self) -> str:
        return f"ImageCache({str(self.root)!r})"

    # --- locks and temp names -------------------------------------------------------------------
    def lock(self, name: str) -> FileLock:
        return FileLock(str(self.root / "locks" / f"{name}.lock"), timeout=LOCK_TIMEOUT)

    def tmp_path(self, hint: str) -> Path:
        return self.root / "tmp" / f"{hint}.{os.getpid()}.{uuid.uuid4().hex[:8]}"

    # --- blobs ----------------------------------------------------------------------------------
    def blob_path(self, digest: str) -> Path:
        alg, hexpart = split_digest(digest)
        return self.root / "blobs" / alg / hexpart

    def has_blob(self, digest: str) -> bool:
        return self.blob_path(digest).is_file()

    def put_blob(
        self,
        digest: str,
        chunks: Callable[[], Iterable[bytes]],
        *,
        size: int | None = None,
        source: str = "",
        on_bytes: Callable[[int], None] | None = None,
    ) -> tuple[Path, int]:
        """Store a blob unless present; return (path, bytes fetched). Content is verified first."""
        path = self.blob_path(digest)
        if path.is_file():
            return path, 0
        alg, hexpart = split_digest(digest)
        with self.lock(f"blob-{hexpart[:32]}"):
            if path.is_file():
                return path, 0
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.tmp_path(hexpart[:16])
            h = hashlib.new(alg)
            n = 0
            try:
                with open(tmp, "wb") as f:
                    for chunk in chunks():
                        n += len(chunk)
                        if size is not None and n > size:
                            raise DigestMismatchError(
                                f"blob {digest}{source} is larger than the {size} bytes its descriptor "
                                "declares: the registry or layout is corrupt or was tampered with"
                            )
                        h.update(chunk)
                        f.write(chunk)
                        if on_bytes:
                            on_bytes(n)
                actual = f"{alg}:{h.hexdigest()}"
                if actual != digest:
                    raise DigestMismatchError(
                        f"blob {digest}{source} failed verification: its content hashes to {actual} "
                        f"({n} bytes). The stored copy is corrupt or was tampered with; re-push the image."
                    )
                if size is not None and n != size:
                    raise DigestMismatchError(f"blob {digest}{source} has {n} bytes, descriptor says {size}")
                os.replace(tmp, path)
            finally:
                tmp.unlink(missing_ok=True)
        return path, n

    def put_bytes(self, digest: str, data: bytes, source: str = "") -> Path:
        return self.put_blob(digest, lambda: [data], size=len(data), source=source)[0]

    # --- unpacked images ------------------------------------------------------------------------
    def image_dir(self, manifest_digest: str) -> Path:
        alg, hexpart = split_digest(manifest_digest)
        return self.root / "images" / (hexpart if alg == "sha256" else f"{alg}-{hexpart}")

    def publish_dir(self, tmp: Path, final: Path) -> None:
        """Atomically move a fully written directory into place (a racing twin is dropped)."""
        try:
            os.rename(tmp, final)
        except OSError:
            if not (final / "image.json").is_file():
                raise
            shutil.rmtree(tmp, ignore_errors=True)

    # --- reference index ------------------------------------------------------------------------
    def _ref_file(self, reference: str) -> Path:
        return self.root / "refs" / (hashlib.sha256(reference.encode()).hexdigest()[:40] + ".json")

    def read_ref(self, reference: str) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads(self._ref_file(reference).read_text())
        except (OSError, ValueError):
            return None
        return data if data.get("reference") == reference else None

    def write_ref(self, reference: str, record: dict[str, Any]) -> None:
        tmp = self.tmp_path("ref")
        tmp.write_text(json.dumps({**record, "reference": reference}, indent=1))
        os.replace(tmp, self._ref_file(reference))
