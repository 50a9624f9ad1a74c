"""Compiled modules, cached in memory and on disk.

Key: the module's digest, the wasmtime version and the engine settings. On disk a compiled module is
written to a temporary file and renamed into place, so concurrent sessions never read half a file.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import wasmtime
from wasmtime import component as wc

from ..errors import UnsupportedModuleError, WasmRuntimeError

WASM_MAGIC = b"\0asm"
CORE_VERSION = b"\x01\x00\x00\x00"


def wasmtime_version() -> str:
    try:
        return importlib.metadata.version("wasmtime")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - vendored wasmtime
        return "unknown"


def check_header(path: Path, head: bytes) -> str:
    """``"module"`` or ``"component"``, from the 8-byte header; anything else is refused."""
    if head[:4] != WASM_MAGIC:
        raise WasmRuntimeError(f"{path} is not a WebAssembly binary (no \\0asm header)")
    if head[4:8] == CORE_VERSION:
        return "module"
    if head[6:8] == b"\x01\x00":
        return "component"
    raise UnsupportedModuleError(f"{path}: unknown WebAssembly binary version {head[4:8].hex()}")


class CompiledCache:
    def __init__(self, engine: wasmtime.Engine, directory: Path, engine_settings: str) -> None:
        self.engine = engine
        self.directory = directory
        self.settings = f"wasmtime-{wasmtime_version()};{engine_settings}"
        self._memory: dict[str, Any] = {}
        """key -> a compiled ``wasmtime.Module`` or ``component.Component``"""
        self._digests: dict[tuple[str, int, int, int], str] = {}
        self._lock = threading.Lock()

    def key(self, module_digest: str) -> str:
        return hashlib.sha256(f"{module_digest};{self.settings}".encode()).hexdigest()[:32]

    def load(self, path: Path, module_digest: str | None = None) -> tuple[Any, dict[str, float | str]]:
        """The compiled module or component, and how it was obtained (for the timings)."""
        t0 = time.perf_counter()
        # A file seen before, unchanged (same inode, size and mtime), keeps its digest: a warm start
        # then neither reads nor hashes the module again.
        st = path.stat()
        stamp = (str(path), st.st_ino, st.st_size, st.st_mtime_ns)
        with self._lock:
            known = self._digests.get(stamp)
            module = self._memory.get(self.key(known)) if known else None
        if module is not None:
            return module, {"module_cache": "memory", "load_s": time.perf_counter() - t0}
        data = path.read_bytes()
        kind = check_header(path, data[:8])
        loader: Any = wc.Component if kind == "component" else wasmtime.Module
        digest = module_digest or "sha256:" + hashlib.sha256(data).hexdigest()
        key = self.key(digest)
        with self._lock:
            module = self._memory.get(key)
            self._digests[stamp] = digest
        if module is not None:
            return module, {"module_cache": "memory", "load_s": time.perf_counter() - t0}
        file = self.directory / f"{key}.cwasm"
        how = "compiled"
        if file.exists():
            try:
                module = loader.deserialize_file(self.engine, str(file))
                how = "disk"
            except wasmtime.WasmtimeError:
                module = None  # stale or damaged: compile again and overwrite
        if module is None:
            try:
                module = loader(self.engine, data)
            except wasmtime.WasmtimeError as exc:
                raise WasmRuntimeError(f"{path}: invalid WebAssembly {kind}: {exc}") from exc
            how = "compiled"
            self._store(file, module)
        with self._lock:
            self._memory[key] = module
        return module, {
            "module_cache": how,
            ("compile_s" if how == "compiled" else "load_s"): time.perf_counter() - t0,
        }

    def _store(self, file: Path, module: Any) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-")
            with os.fdopen(fd, "wb") as f:
                f.write(module.serialize())
            os.replace(tmp, file)
        except OSError:
            pass  # a read-only or full cache only costs a compile next time

    def clear_memory(self) -> None:
        with self._lock:
            self._memory.clear()
            self._digests.clear()
