"""One test session's state: the runtime, the image cache, images pulled so far, live containers, timings.

No pytest here: the plugin makes one ``WasmSession`` per session (and per xdist worker) and closes it at
the end, which stops every container still running and releases the runtime.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import platformdirs

from .container import (
    DEFAULT_STARTUP_TIMEOUT,
    ContainerConfigError,
    ContainerSettings,
    ContainerStats,
    WasmContainer,
    start_container,
)

if TYPE_CHECKING:
    from .images.image import WasmImage
    from .runtime import Runtime

PULL_POLICIES = ("missing", "always", "never")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")


class SessionHooks(Protocol):
    """Called around container life; the plugin forwards these to the pytest hooks."""

    def before_start(self, settings: ContainerSettings) -> None: ...

    def ready(self, container: WasmContainer) -> None: ...

    def stopped(self, container: WasmContainer, exit_code: int | None, logs: str) -> None: ...

    def image_pulled(self, image: WasmImage, stats: PullStats) -> None: ...


ProgressFactory = Callable[[str], Callable[[Any], None] | None]


@dataclass
class SessionConfig:
    images: Mapping[str, str] = field(default_factory=dict)
    """Logical name -> reference; the key ``""`` is the default image of ``wasm_container``."""
    pull_policy: str = "missing"
    cache_dir: Path | None = None
    insecure_registries: tuple[str, ...] = ()
    startup_timeout: float = DEFAULT_STARTUP_TIMEOUT

    def __post_init__(self) -> None:
        if self.pull_policy not in PULL_POLICIES:
            raise ContainerConfigError(
                f"pull policy {self.pull_policy!r} is not one of {', '.join(PULL_POLICIES)}"
            )
        if not self.startup_timeout > 0:
            raise ContainerConfigError(
                f"startup timeout must be a positive number of seconds, got {self.startup_timeout!r}"
            )


@dataclass
class PullStats:
    reference: str
    seconds: float
    cache_hit: bool | None
    bytes_downloaded: int | None


@dataclass
class ImageRecord:
    """What the terminal summary shows about one image."""

    reference: str
    digest: str = ""
    pull: PullStats | None = None
    containers: int = 0
    compile_seconds: list[float] = field(default_factory=list)
    compile_hits: int = 0
    start_seconds: list[float] = field(default_factory=list)
    ready_seconds: list[float] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["pull"] = None if self.pull is None else dict(self.pull.__dict__)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ImageRecord:
        pull = data.get("pull")
        return cls(**{**data, "pull": None if pull is None else PullStats(**pull)})


def parse_image_option(values: list[str]) -> dict[str, str]:
    """``REF`` or ``NAME=REF`` items (later ones win) -> ``{name or "": ref}``."""
    out: dict[str, str] = {}
    for raw in values:
        value = raw.strip()
        if not value:
            continue
        name, sep, ref = value.partition("=")
        if sep and _NAME.fullmatch(name) and "/" not in name:
            if not ref.strip():
                raise ContainerConfigError(f"--wasm-image {raw!r}: NAME=REF needs a reference after '='")
            out[name] = ref.strip()
        else:
            out[""] = value
    return out


def default_cache_dir() -> Path:
    # The same default as the images layer's ImageCache: one cache for images and compiled modules.
    return Path(
        os.environ.get("WASMCONTAINERS_CACHE_DIR") or platformdirs.user_cache_dir("pytest-wasmcontainers")
    )


class WasmSession:
    def __init__(
        self,
        config: SessionConfig,
        hooks: SessionHooks | None = None,
        progress: ProgressFactory | None = None,
    ) -> None:
        self.config = config
        self.hooks = hooks
        self.progress = progress
        self.cache_dir = config.cache_dir or default_cache_dir()
        self.records: dict[str, ImageRecord] = {}
        self._images: dict[str, WasmImage] = {}
        self._live: list[WasmContainer] = []
        self._runtime: Runtime | None = None
        self._cache: Any = None
        self._lease: Any = None
        self._lock = threading.RLock()
        self.closed = False

    # --- images --------------------------------------------------------------------------------
    def resolve(self, image: str | None) -> str:
        """A logical name (``--wasm-image NAME=REF``) or a reference -> a reference."""
        if image is None or image == "":
            ref = self.config.images.get("")
            if not ref:
                raise ContainerConfigError(
                    "no Wasm image given: run pytest with --wasm-image REF (or NAME=REF), set the ini "
                    "option wasm_image, or pass image=... to @pytest.mark.wasm_container"
                )
            return ref
        return self.config.images.get(image, image)

    @property
    def image_cache(self) -> Any:
        if self._cache is None:
            from .images import ImageCache

            self._cache = ImageCache(self.cache_dir)
        return self._cache

    def pull(self, image: str | None) -> WasmImage:
        """Pull (or find in the cache) once per session; logical names are resolved first."""
        ref = self.resolve(image)
        with self._lock:
            if ref in self._images:
                return self._images[ref]
            from .images import pull

            callback = self.progress(ref) if self.progress else None
            t0 = time.monotonic()
            kwargs: dict[str, Any] = {
                "policy": self.config.pull_policy,
                "cache": self.image_cache,
                "insecure": self.config.insecure_registries,
            }
            if callback is not None:
                kwargs["progress"] = callback
            try:
                pulled: WasmImage = self._claim(pull(ref, **kwargs), lambda: pull(ref, **kwargs))
            finally:
                close = getattr(callback, "close", None)
                if close is not None:
                    close()
            stats = _pull_stats(pulled, ref, time.monotonic() - t0)
            self._images[ref] = pulled
            record = self.records.setdefault(ref, ImageRecord(ref))
            record.digest, record.pull = pulled.digest, stats
            if self.hooks is not None:
                self.hooks.image_pulled(pulled, stats)
            return pulled

    def _claim(self, image: WasmImage, again: Callable[[], WasmImage]) -> WasmImage:
        """Record the image in this session's lease, so ``wasmcontainers prune`` keeps it while we live."""
        from .images.cache import PRUNE_LOCK

        cache = self.image_cache
        with cache.lock(PRUNE_LOCK):
            if not image.module_file.is_file():
                image = again()  # a prune removed it between the pull and now; prunes wait meanwhile
            if self._lease is None:
                self._lease = cache.lease()
            self._lease.add(image.digest)
            cache.mark_used(image.digest)
        return image

    # --- containers ----------------------------------------------------------------------------
    @property
    def runtime(self) -> Runtime:
        with self._lock:
            if self.closed:
                raise RuntimeError("the Wasm session is closed")
            if self._runtime is None:
                from .runtime import Runtime

                self._runtime = Runtime(self.cache_dir)
            return self._runtime

    def start(self, settings: ContainerSettings) -> WasmContainer:
        """Hooks, pull, start, wait for readiness. The container is tracked until :meth:`stop`."""
        settings.image = self.resolve(settings.image)
        if self.hooks is not None:
            self.hooks.before_start(settings)
            settings.image = self.resolve(settings.image)
        image = self.pull(settings.image)
        record = self.records.setdefault(settings.image, ImageRecord(settings.image, image.digest))
        stats = ContainerStats()
        if record.pull is not None:
            stats.pull_seconds, stats.pull_cache_hit = record.pull.seconds, record.pull.cache_hit
        container = start_container(
            self.runtime, image, settings, default_timeout=self.config.startup_timeout, stats=stats
        )
        container.on_stop = self._stopped
        with self._lock:
            self._live.append(container)
            record.containers += 1
            record.start_seconds.append(stats.start_seconds)
            record.ready_seconds.append(stats.ready_seconds)
            if stats.compile_seconds is not None:
                record.compile_seconds.append(float(stats.compile_seconds))
            record.compile_hits += bool(stats.compile_cache_hit)
        if self.hooks is not None:
            try:
                self.hooks.ready(container)
            except BaseException:
                self.stop(container)
                raise
        return container

    def stop(self, container: WasmContainer, *, wait_cleanup: bool = True) -> int | None:
        """Stop a container started here (once) and tell the hooks. Returns its exit code.
        ``wait_cleanup=False`` leaves the removal of its scratch dir to its thread (see ``close``)."""
        with self._lock:
            if container not in self._live:
                return container.exit_code
        # its on_stop (_stopped) lets go of it and tells the hooks, however it was stopped
        return container.stop(wait_cleanup=wait_cleanup)

    def _stopped(self, container: WasmContainer) -> None:
        """A container of this session stopped (``stop`` or ``container.stop()``): let go of it, its
        logs with it, and tell the hooks, once; a long session of stopped containers only grew."""
        with self._lock:
            if container not in self._live:
                return
            self._live.remove(container)
        if self.hooks is not None:
            self.hooks.stopped(container, container.exit_code, container.logs())

    @property
    def live(self) -> list[WasmContainer]:
        return list(self._live)

    def close(self) -> None:
        """Stop every container still running, then release the runtime. Safe to call twice."""
        errors: list[BaseException] = []
        for container in reversed(self.live):
            try:
                self.stop(container)
            except Exception as e:  # keep stopping the others
                errors.append(e)
        with self._lock:
            runtime, self._runtime = self._runtime, None
            lease, self._lease = self._lease, None
            self.closed = True
            self._images.clear()
        if runtime is not None:
            # Releasing wasmtime objects before interpreter exit avoids its shutdown panic.
            runtime.close()
        if lease is not None:
            lease.close()
        if errors:
            raise errors[0]


def _pull_stats(image: WasmImage, ref: str, seconds: float) -> PullStats:
    # The image carries its own numbers when the images layer measured them.
    raw = getattr(image, "pull_stats", None)
    if raw is None:
        return PullStats(ref, seconds, None, None)
    get: Callable[[str], Any] = raw.get if isinstance(raw, Mapping) else lambda k: getattr(raw, k, None)
    measured = get("seconds")
    return PullStats(
        reference=ref,
        seconds=float(measured) if measured is not None else seconds,
        cache_hit=get("cache_hit"),
        bytes_downloaded=get("bytes_downloaded"),
    )
