"""The per-user image cache: verified blobs by digest, unpacked images by manifest digest.

Layout under ``root``::

    blobs/sha256/<hex>     every blob and manifest, verified against its digest before it lands
    images/<hex>/          an unpacked image (image.json, rootfs/, module.wasm), keyed by manifest digest
    refs/<hash>.json       registry reference -> digests, so a cached tag needs no registry request
    leases/<id>.json       the digests a live session uses, beside <id>.lock, which that session holds
    locks/, tmp/           cross-process locks; partial writes (same filesystem, so renames are atomic)

The runtime keeps ``compiled/`` and ``containers/`` here too (same filesystem, for hardlinks).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import platformdirs
from filelock import FileLock, Timeout

from ..errors import DigestMismatchError, ImageError

CACHE_ENV = "WASMCONTAINERS_CACHE_DIR"
LOCK_TIMEOUT = 1800.0
PRUNE_LOCK = "prune"
"""Held by ``wasmcontainers prune`` while it removes, and by a session while it claims an image."""


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
        """Drop partial writes a crashed process left behind: at once when the pid in the name is
        gone (a pull killed with kill -9 left up to the whole layer), else after a day."""
        cutoff = time.time() - max_age
        for entry in (self.root / "tmp").iterdir():
            try:
                if entry.lstat().st_mtime < cutoff or _writer_is_dead(entry.name):
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
                if size is not None and n < size:
                    raise DigestMismatchError(
                        f"blob {digest}{source} ended after {n} of the {size} bytes its descriptor "
                        "declares: the download was cut short or the stored copy is truncated. Pull again; "
                        "if it persists, re-push the image."
                    )
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

    def refs(self) -> Iterator[dict[str, Any]]:
        """Every reference record (``reference``, ``digest``, ``index_digest``)."""
        for path in sorted((self.root / "refs").glob("*.json")):
            try:
                data = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            if isinstance(data, dict) and data.get("reference") and data.get("digest"):
                yield data

    def remove_ref(self, reference: str) -> None:
        self._ref_file(reference).unlink(missing_ok=True)

    # --- use: when an image was last used, and by which live sessions ------------------------
    def image_digests(self) -> list[str]:
        """Manifest digests of every unpacked image."""
        out = []
        for d in sorted((self.root / "images").iterdir()):
            if (d / "image.json").is_file():
                alg, _, hexpart = d.name.rpartition("-")
                out.append(f"{alg or 'sha256'}:{hexpart}")
        return out

    def mark_used(self, manifest_digest: str, at: float | None = None) -> None:
        """Record a use now (or ``at``, seconds since the epoch): the mtime of the image's record."""
        # a plain .wasm file has no unpacked image; a pruned one is gone
        with contextlib.suppress(OSError, ImageError):
            os.utime(self.image_dir(manifest_digest) / "image.json", None if at is None else (at, at))

    def last_used(self, manifest_digest: str) -> float | None:
        try:
            return (self.image_dir(manifest_digest) / "image.json").stat().st_mtime
        except OSError:
            return None

    def lease(self) -> Lease:
        return Lease(self.root / "leases", self.tmp_path)

    def in_use(self, sweep: bool = True) -> dict[str, set[int]]:
        """Digest -> pids of the live sessions that use it. A lease whose lock can be taken belongs to
        a dead session (the OS drops a lock when its process dies, even on kill -9): ``sweep`` removes it."""
        out: dict[str, set[int]] = {}
        for record in sorted((self.root / "leases").glob("*.json")):
            lock = FileLock(str(record.with_suffix(".lock")), thread_local=False)
            try:
                lock.acquire(timeout=0)
            except Timeout:
                try:
                    data = json.loads(record.read_text())
                except (OSError, ValueError):
                    continue
                for digest in data.get("digests", []):
                    out.setdefault(digest, set()).add(int(data.get("pid", 0)))
                continue
            if sweep:
                record.unlink(missing_ok=True)
                record.with_suffix(".lock").unlink(missing_ok=True)
            lock.release(force=True)
        return out


class Lease:
    """A live session's claim on the images it uses; ``wasmcontainers prune`` leaves them alone.

    The lock is taken before the record is written and dropped after it is removed, so a record
    without a held lock always means its session is gone."""

    def __init__(self, directory: Path, tmp_path: Callable[[str], Path]) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        name = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self.path = directory / f"{name}.json"
        self._tmp_path = tmp_path
        self._lock = FileLock(str(directory / f"{name}.lock"), thread_local=False)
        self._lock.acquire(timeout=0)
        self.digests: set[str] = set()

    def add(self, digest: str) -> None:
        if digest in self.digests or not self._lock.is_locked:
            return
        self.digests.add(digest)
        tmp = self._tmp_path("lease")
        tmp.write_text(json.dumps({"pid": os.getpid(), "digests": sorted(self.digests)}))
        os.replace(tmp, self.path)

    def close(self) -> None:
        if self._lock.is_locked:
            self.path.unlink(missing_ok=True)
            Path(self._lock.lock_file).unlink(missing_ok=True)
            self._lock.release(force=True)


def _writer_is_dead(name: str) -> bool:
    """``tmp_path`` names are ``HINT.PID.RANDOM``: is that process gone (on this host)?"""
    parts = name.rsplit(".", 2)
    if len(parts) != 3 or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # alive, another user's
    return False
