"""Where the Runtime starts WASI 0.2 components and inspects binaries (the p2 host is in p2/)."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import wasmtime
from wasmtime.component import Component

from ..errors import UnsupportedImportsError, WasmRuntimeError
from . import imports
from .cache import CompiledCache
from .logs import ContainerLog
from .network import NameTable, PortMap
from .process import WasmProcess
from .sockets import SocketTable, StopSignal
from .spec import RunSpec

if TYPE_CHECKING:  # the p2 host is imported at the first component: 50 ms a session saves otherwise
    from .p2 import run as p2run


class ComponentStarts:
    """Part of ``Runtime``: the attributes below are the Runtime's."""

    engine: wasmtime.Engine | None
    modules: CompiledCache
    scratch_root: Path
    _closed: bool
    _lock: threading.Lock
    _processes: set[WasmProcess]
    _module_facts: dict[int, tuple[Any, Any]]
    _exited: Callable[[WasmProcess], None]
    _interrupt: Callable[[], None]
    _facts: Callable[[wasmtime.Module], imports.ModuleFacts]
    _make_scratch: Callable[[RunSpec, dict[str, Any]], tuple[Path, Path]]

    def inspect(self, module_file: Path) -> dict[str, Any]:
        """What a .wasm file is and whether this runtime can run it (``wasmcontainers inspect``):
        ``kind`` module/component, ``world`` proxy/command/unsupported, ``missing`` imports, ``why``."""
        if self._closed or self.engine is None:
            raise WasmRuntimeError("this Runtime is closed")
        module, _ = self.modules.load(Path(module_file))
        if isinstance(module, Component):
            from .p2 import run as p2run

            cf = self._component_facts(module, str(module_file))
            ok = cf.linker is not None
            return {
                "kind": "component",
                "world": cf.world if ok else "unsupported",
                "export": cf.export or None,
                "missing": cf.missing,
                "why": None if ok else p2run.describe(cf, str(module_file)),
            }
        facts = self._facts(module)
        why = None
        if facts.missing:
            why = f"imports functions this runtime does not provide: {', '.join(facts.missing)}"
        elif not facts.has_start:
            why = "no _start export: it is not a WASI command module"
        return {
            "kind": "module",
            "world": "unsupported" if why else "command",
            "export": "_start" if facts.has_start else None,
            "missing": facts.missing,
            "why": why,
        }

    def _component_facts(self, component: Component, what: str) -> p2run.ComponentFacts:
        from .p2 import run as p2run

        engine = self.engine
        assert engine is not None
        with self._lock:
            entry = self._module_facts.get(id(component))
        if entry is None:
            entry = (component, p2run.facts(component, engine, what))
            with self._lock:
                self._module_facts[id(component)] = entry
        facts: p2run.ComponentFacts = entry[1]
        return facts

    def _start_component(
        self, spec: RunSpec, component: Component, timings: dict[str, Any], t0: float, what: str
    ) -> WasmProcess:
        from .p2 import run as p2run

        engine = self.engine
        assert engine is not None
        facts = self._component_facts(component, what)
        if facts.linker is None:
            raise UnsupportedImportsError(p2run.describe(facts, what))
        scratch, root = self._make_scratch(spec, timings)
        stop_event = StopSignal()
        try:
            log = ContainerLog(spec.log_limit)
            proc = p2run.ComponentProcess(
                spec,
                log=log,
                ports=PortMap(spec.ports),
                names=NameTable(spec.hosts, spec.dns_servers),
                table=SocketTable(),
                stop_event=stop_event,
                scratch=scratch,
                timings=timings,
                on_exit=self._exited,
                interrupt=self._interrupt,
            )
            with self._lock:
                if self._closed:
                    raise WasmRuntimeError(f"{proc.name}: the Runtime was closed while the container started")
                self._processes.add(proc)
            try:
                p2run.start(spec, component, facts, engine, proc, root, log, [stop_event.close])
            except BaseException:
                self._exited(proc)
                raise
        except BaseException:
            stop_event.close()
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        timings["start_s"] = time.perf_counter() - t0
        return proc
