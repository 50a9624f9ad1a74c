"""The image cache as a whole: what it holds, what live sessions use, and pruning it.

An image is its unpacked directory (keyed by manifest digest), the blobs its manifest names, the
references that point at it and its compiled module. ``prune`` never removes an image that a live
session's lease names (``ImageCache.in_use``); it holds the cache's prune lock meanwhile, which a
session also takes to add to its lease, so a session either is seen or sees the image gone.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..images.assemble import load_image
from ..images.cache import PRUNE_LOCK, ImageCache

ORPHAN_GRACE = 3600.0
"""A blob no image refers to may belong to a pull still in progress; only older ones are removed."""


@dataclass
class Entry:
    digest: str
    references: list[str]
    size: int
    last_used: float | None
    users: set[int] = field(default_factory=set)
    """pids of the live sessions using it"""
    module_digest: str | None = None
    blobs: set[str] = field(default_factory=set)


@dataclass
class PruneResult:
    removed: list[Entry]
    in_use: list[Entry]
    freed: int
    orphan_blobs: int


def image_blobs(cache: ImageCache, digest: str) -> set[str]:
    """The manifest and the blobs it names (config, layers)."""
    out = {digest}
    try:
        manifest = json.loads(cache.blob_path(digest).read_bytes())
    except (OSError, ValueError):
        return out
    for desc in [manifest.get("config") or {}, *(manifest.get("layers") or [])]:
        if isinstance(desc, dict) and isinstance(desc.get("digest"), str):
            out.add(desc["digest"])
    return out


def disk_usage(paths: Iterable[Path]) -> int:
    """Bytes of the files under ``paths``, each inode once (images hardlink their blobs)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for top in paths:
        for path in [top, *top.rglob("*")] if top.is_dir() else [top]:
            try:
                st = path.lstat()
            except OSError:
                continue
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_size if not path.is_dir() else 0
    return total


def inventory(cache: ImageCache, in_use: dict[str, set[int]] | None = None) -> list[Entry]:
    users = cache.in_use(sweep=False) if in_use is None else in_use
    refs: dict[str, list[dict[str, object]]] = {}
    for record in cache.refs():
        refs.setdefault(str(record["digest"]), []).append(record)
    entries = []
    for digest in cache.image_digests():
        mine = refs.get(digest, [])
        blobs = image_blobs(cache, digest) | {str(r["index_digest"]) for r in mine if r.get("index_digest")}
        image = load_image(cache.image_dir(digest), "")
        entries.append(
            Entry(
                digest=digest,
                references=sorted(str(r["reference"]) for r in mine),
                size=disk_usage([cache.image_dir(digest), *(cache.blob_path(b) for b in blobs)]),
                last_used=cache.last_used(digest),
                users=users.get(digest, set()),
                module_digest=image.module_digest if image else None,
                blobs=blobs,
            )
        )
    return entries


def prune(cache: ImageCache, older_than: float | None = None, now: float | None = None) -> PruneResult:
    """Remove images no live session uses (last used more than ``older_than`` seconds ago, if given),
    their blobs and compiled modules, and blobs no image refers to."""
    from ..runtime import Runtime

    now = time.time() if now is None else now
    cutoff = now if older_than is None else now - older_than
    # A Runtime names the compiled files (its key has the wasmtime version and engine settings);
    # starting one also removes the scratch directories of dead processes.
    runtime = Runtime(cache.root)
    try:
        with cache.lock(PRUNE_LOCK):
            return _prune(cache, cutoff, now, runtime.modules.directory, runtime.modules.key)
    finally:
        runtime.close()


def _prune(
    cache: ImageCache, cutoff: float, now: float, compiled: Path, key: Callable[[str], str]
) -> PruneResult:
    in_use = cache.in_use(sweep=True)
    entries = inventory(cache, in_use)
    remove = [e for e in entries if not e.users and (e.last_used or 0.0) < cutoff]
    keep = [e for e in entries if e not in remove]
    reachable = set(in_use).union(*(e.blobs for e in keep))
    doomed: list[Path] = []
    for entry in remove:
        doomed.append(cache.image_dir(entry.digest))
        doomed += [cache.blob_path(b) for b in entry.blobs - reachable]
        if entry.module_digest:
            doomed.append(compiled / f"{key(entry.module_digest)}.cwasm")
    gone = {e.digest for e in remove}
    orphans = 0
    for digest, path in _blobs(cache):
        if digest in reachable or path in doomed:
            continue
        with contextlib.suppress(OSError):
            if path.stat().st_mtime < min(cutoff, now - ORPHAN_GRACE):
                doomed += [path, compiled / f"{key(digest)}.cwasm"]  # a plain .wasm file's too
                orphans += 1
    freed = disk_usage(doomed)
    for record in list(cache.refs()):
        if record["digest"] in gone or not (
            cache.image_dir(record["digest"]).is_dir() or record["digest"] in in_use
        ):
            cache.remove_ref(record["reference"])
    for path in doomed:
        _remove(cache, path)
    return PruneResult(remove, [e for e in keep if e.users], freed, orphans)


def _blobs(cache: ImageCache) -> list[tuple[str, Path]]:
    out = []
    for alg_dir in (cache.root / "blobs").iterdir():
        if alg_dir.is_dir():
            out += [(f"{alg_dir.name}:{p.name}", p) for p in alg_dir.iterdir() if p.is_file()]
    return out


def _remove(cache: ImageCache, path: Path) -> None:
    if path.is_dir():
        # Renamed away first: a reader then finds the image whole or not at all.
        tmp = cache.tmp_path("pruned")
        with contextlib.suppress(OSError):
            os.rename(path, tmp)
            shutil.rmtree(tmp, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
