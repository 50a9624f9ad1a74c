"""The result of a pull: everything a runtime needs to start the image."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

ModuleKind = Literal["module", "component"]


@dataclass(frozen=True)
class PullStats:
    """How a pull went, for reports: served from cache or downloaded, and how long it took."""

    cache_hit: bool
    """True when nothing was downloaded (every blob and the unpacked image were already cached)."""
    seconds: float
    bytes_downloaded: int = 0
    blobs_downloaded: int = 0


@dataclass(frozen=True)
class WasmImage:
    reference: str
    """The reference as the user gave it (``ghcr.io/x/y:1``, ``oci:dir:tag``, ``/path/app.wasm``)."""
    digest: str
    """Manifest digest (``sha256:...``); for a plain ``.wasm`` file, the digest of the file."""
    platform: str
    """``os/architecture`` of the chosen manifest, e.g. ``wasi/wasm32``."""
    module_file: Path
    """Host path of the Wasm binary (inside the cache; never modify it)."""
    module_path: str
    """Where the module sits in the guest's filesystem (absolute), e.g. ``/app.wasm``."""
    module_kind: ModuleKind
    """Core module (WASI p1) or component (WASI p2), told apart from the binary header."""
    module_digest: str
    """Digest of the module bytes: the key of the compiled-module cache."""
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    working_dir: str = "/"
    exposed_ports: tuple[int, ...] = ()
    """TCP ports from the config's ``ExposedPorts``."""
    labels: dict[str, str] = field(default_factory=dict)
    rootfs: Path | None = None
    """Unpacked root filesystem, shared and read-only (the runtime gives each container its own
    writable view). None for a plain ``.wasm`` file and for a Wasm artifact (no filesystem)."""
    module_fixed: bool = False
    """The module is the program whatever argv says: a Wasm artifact, a runwasi Wasm layer, a plain
    ``.wasm`` file. With no Entrypoint in the image, ``command`` then gives the arguments after argv[0]."""
    index_digest: str | None = None
    """Digest of the image index (or manifest list) the manifest was chosen from, if any."""
    pull_stats: PullStats | None = field(default=None, compare=False)
    """How this pull went (cache hit, seconds, bytes); not part of the image's identity."""

    @property
    def argv(self) -> tuple[str, ...]:
        """Entrypoint + Cmd, Docker's rule; falls back to the module path."""
        return (self.entrypoint + self.cmd) or (self.module_path,)
