"""Calling wasmtime's own WASI functions from Python, for fds that are not ours.

A WASI function taken from the linker and called from Python fails ("missing required memory
export"): WASI finds the caller's memory through the calling instance. So we generate a tiny module
that imports the guest's memory and the real WASI functions, re-exports the memory as ``memory``
and exports one trampoline per function; calling a trampoline runs real WASI on the guest's memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import wasmtime

WASI = "wasi_snapshot_preview1"


def _sig(ft: wasmtime.FuncType) -> str:
    params = " ".join(str(p) for p in ft.params)
    results = " ".join(str(r) for r in ft.results)
    return (f"(param {params})" if params else "") + (f" (result {results})" if results else "")


def forwarder_wat(funcs: Sequence[tuple[str, wasmtime.FuncType]]) -> str:
    lines = ["(module", '  (import "env" "memory" (memory 0))']
    for i, (name, ft) in enumerate(funcs):
        lines.append(f'  (import "{WASI}" "{name}" (func $f{i} {_sig(ft)}))')
    lines.append('  (export "memory" (memory 0))')
    for i, (name, ft) in enumerate(funcs):
        gets = " ".join(f"local.get {j}" for j in range(len(ft.params)))
        lines.append(f'  (func (export "{name}") {_sig(ft)} {gets} call $f{i})')
    lines.append(")")
    return "\n".join(lines)


class ModuleCache:
    """Compiled forwarders, keyed by their text (one engine)."""

    def __init__(self, engine: wasmtime.Engine) -> None:
        self.engine = engine
        self._modules: dict[str, wasmtime.Module] = {}

    def get(self, wat: str) -> wasmtime.Module:
        mod = self._modules.get(wat)
        if mod is None:
            mod = self._modules[wat] = wasmtime.Module(self.engine, wat)
        return mod

    def clear(self) -> None:
        self._modules.clear()


def instantiate_forwarder(
    cache: ModuleCache,
    store: wasmtime.Store,
    memory: wasmtime.Memory,
    funcs: Sequence[tuple[str, wasmtime.FuncType]],
    wat: str | None = None,
) -> dict[str, Any]:
    """Return name -> callable ``f(store, *args)`` that runs the real WASI function.

    ``wat`` is ``forwarder_wat(funcs)`` when the caller already has it (made once per module)."""
    if not funcs:
        return {}
    module = cache.get(wat or forwarder_wat(funcs))
    linker = wasmtime.Linker(cache.engine)
    linker.define_wasi()
    linker.define(store, "env", "memory", memory)
    exports = linker.instantiate(store, module).exports(store)
    return {name: exports[name] for name, _ in funcs}
