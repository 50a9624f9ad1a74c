"""Images: resolve a reference, pull and verify it into the cache, unpack it for a runtime."""

from __future__ import annotations

from .cache import ImageCache
from .image import ModuleKind, PullStats, WasmImage
from .pull import PullProgress, pull
from .reference import Reference, parse_reference

__all__ = [
    "ImageCache",
    "ModuleKind",
    "PullProgress",
    "PullStats",
    "Reference",
    "WasmImage",
    "parse_reference",
    "pull",
]
