"""``wasmcontainers pull``, ``images`` and ``prune``: the image cache from a shell."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import Any

from ..images.cache import ImageCache
from ..session import PULL_POLICIES, SessionConfig, WasmSession
from . import store
from .output import human_age, human_size, progress_factory


def register_pull(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    from . import registry_options

    p = sub.add_parser("pull", parents=[*parents, registry_options()], help="pull an image into the cache")
    p.add_argument("reference", metavar="REF")
    p.add_argument("--pull", "--policy", dest="policy", choices=PULL_POLICIES, default="missing")
    p.add_argument("--json", action="store_true", help="print the resolved image as JSON")
    p.set_defaults(func=pull)


def register_images(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("images", parents=parents, help="list the cached images")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=images)


def register_prune(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "prune",
        parents=parents,
        help="remove cached images no live session uses",
        description="Remove cached images (with their blobs and compiled modules) that no running "
        "session or `wasmcontainers run` uses.",
    )
    p.add_argument(
        "--older-than", type=float, default=None, metavar="DAYS", help="only those last used before then"
    )
    p.set_defaults(func=prune)


def pull(args: argparse.Namespace) -> int:
    config = SessionConfig(
        cache_dir=args.cache_dir, insecure_registries=tuple(args.insecure), pull_policy=args.policy
    )
    session = WasmSession(config, progress=progress_factory())
    try:
        image = session.pull(args.reference)
    finally:
        session.close()
    if args.json:
        print(json.dumps(asdict(image), indent=2, default=str))
        return 0
    stats = image.pull_stats
    if stats is None or stats.cache_hit:
        how = "cached"
    else:
        how = (
            f"downloaded {stats.blobs_downloaded} blobs, {human_size(stats.bytes_downloaded)} "
            f"in {stats.seconds:.1f} s"
        )
    print(f"{image.reference} {image.digest} ({how})")
    return 0


def images(args: argparse.Namespace) -> int:
    entries = store.inventory(ImageCache(args.cache_dir))
    if args.json:
        rows = [
            {
                "references": e.references,
                "digest": e.digest,
                "size": e.size,
                "last_used": e.last_used,
                "in_use_by": sorted(e.users),
            }
            for e in entries
        ]
        print(json.dumps(rows, indent=2))
        return 0
    table = [("REFERENCE", "DIGEST", "SIZE", "LAST USED", "IN USE")]
    for e in sorted(entries, key=lambda e: -(e.last_used or 0)):
        users = "pid " + ",".join(map(str, sorted(e.users))) if e.users else ""
        for ref in e.references or ["<none>"]:
            table.append((ref, e.digest[:19], human_size(e.size), human_age(e.last_used), users))
    widths = [max(len(row[i]) for row in table) for i in range(5)]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


def prune(args: argparse.Namespace) -> int:
    older = None if args.older_than is None else args.older_than * 86400
    result = store.prune(ImageCache(args.cache_dir), older)
    for e in result.removed:
        print(f"removed {', '.join(e.references) or '<none>'} {e.digest[:19]}")
    for e in result.in_use:
        users = ", ".join(map(str, sorted(e.users)))
        print(f"kept {', '.join(e.references) or '<none>'} {e.digest[:19]}: in use (pid {users})")
    orphans = f", {result.orphan_blobs} unreferenced blobs" if result.orphan_blobs else ""
    print(f"{len(result.removed)} images removed{orphans}, {human_size(result.freed)} freed")
    return 0
