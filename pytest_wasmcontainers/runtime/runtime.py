"""The embedded runtime: one shared engine per session, one store + thread per container."""

from __future__ import annotations

import atexit
import gc
import os
import shutil
import tempfile
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import platformdirs
import wasmtime
from wasmtime import _bindings as ffi
from wasmtime.component import Component

from ..errors import WasmRuntimeError
from . import epoch, errno, hostfunc, imports, rootfs, workdir
from .cache import CompiledCache
from .components import ComponentStarts
from .fdops import FdOps
from .forward import ModuleCache, forwarder_wat, instantiate_forwarder
from .logs import ContainerLog, LogPump
from .memory import GuestMemory
from .network import NameTable, PortMap
from .poll import Poller
from .process import WasmProcess
from .sockets import Sockets, SocketTable, StopSignal, default_socket_limit, preopened_listener
from .spec import RunSpec

ENGINE_SETTINGS = "epoch_interruption=1;signals_based_traps=0"
_LIVE: weakref.WeakSet[Runtime] = weakref.WeakSet()


class Runtime(ComponentStarts):
    def __init__(self, cache_dir: Path | None = None) -> None:
        self.cache_dir = Path(cache_dir or platformdirs.user_cache_dir("pytest-wasmcontainers"))
        config = wasmtime.Config()
        config.epoch_interruption = True
        # Traps by explicit checks, not by wasmtime's SIGILL/SIGSEGV handlers: those are
        # process-wide and Python code replaces them (faulthandler.disable() + enable(), which an
        # in-process pytester run does), after which a guest's trap killed the whole process.
        ffi.wasmtime_config_signals_based_traps_set(config.ptr(), False)
        self.engine: wasmtime.Engine | None = wasmtime.Engine(config)
        self.modules = CompiledCache(self.engine, self.cache_dir / "compiled", ENGINE_SETTINGS)
        self.forwarders = ModuleCache(self.engine)
        self.scratch_root = self.cache_dir / "containers"
        _remove_orphans(self.scratch_root)
        self._processes: set[WasmProcess] = set()
        self._module_facts: dict[int, tuple[Any, Any]] = {}
        """id(compiled) -> (compiled, its facts): imports.ModuleFacts or p2run.ComponentFacts"""
        self._lock = threading.Lock()
        self._closed = False
        self.socket_limit = default_socket_limit()
        """Sockets one guest may hold (more get MFILE): read from RLIMIT_NOFILE once."""
        _LIVE.add(self)

    # ---- start -----------------------------------------------------------------------------
    def start(self, spec: RunSpec) -> WasmProcess:
        if self._closed or self.engine is None:
            raise WasmRuntimeError("this Runtime is closed")
        what = spec.name or str(spec.module_file)
        if not Path(spec.module_file).is_file():
            raise WasmRuntimeError(f"module file {spec.module_file} does not exist")
        timings: dict[str, Any] = {}
        t0 = time.perf_counter()
        module, how = self.modules.load(Path(spec.module_file))
        timings.update(how)
        if isinstance(module, Component):
            return self._start_component(spec, module, timings, t0, what)
        facts = self._facts(module)
        imports.raise_missing(facts.missing, what)
        if not facts.has_start:
            raise WasmRuntimeError(f"{what} has no _start export: it is not a WASI command module")
        scratch, root = self._make_scratch(spec, timings)
        try:
            proc = self._instantiate(spec, module, facts, scratch, root, timings)
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        timings["start_s"] = time.perf_counter() - t0
        return proc

    def _make_scratch(self, spec: RunSpec, timings: dict[str, Any]) -> tuple[Path, Path]:
        """Check the mounts; make the container's scratch dir and, in it, its root view. The caller
        removes the scratch dir if the start fails later."""
        for m in spec.mounts:
            if not Path(m.host_path).is_dir():
                raise WasmRuntimeError(f"mount source {m.host_path} (for {m.guest_path}) is not a directory")
        self.scratch_root.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=f"c-{os.getpid()}-", dir=self.scratch_root))
        try:
            t1 = time.perf_counter()
            root = scratch / "root"
            if spec.rootfs is not None:
                timings["rootfs"] = rootfs.make_view(Path(spec.rootfs), root)
            else:
                root.mkdir()
            timings["rootfs_s"] = time.perf_counter() - t1
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        return scratch, root

    def _facts(self, module: wasmtime.Module) -> imports.ModuleFacts:
        """Per compiled module, kept with it (the module in the entry keeps its id unique)."""
        with self._lock:
            entry = self._module_facts.get(id(module))
        if entry is None:
            entry = (module, imports.ModuleFacts(module))
            with self._lock:
                self._module_facts[id(module)] = entry
        return entry[1]

    def _instantiate(
        self,
        spec: RunSpec,
        module: wasmtime.Module,
        facts: imports.ModuleFacts,
        scratch: Path,
        root: Path,
        timings: dict[str, Any],
    ) -> WasmProcess:
        t0 = time.perf_counter()
        log = ContainerLog(spec.log_limit)

        wasi = wasmtime.WasiConfig()
        wasi.argv = list(spec.argv) or [spec.module_file.name]
        env = dict(spec.env)
        env.setdefault("PWD", spec.working_dir or "/")  # WASI has no cwd; Go's wasip1 reads PWD
        wasi.env = list(env.items())
        pump = LogPump(log, scratch)
        wasi.stdout_file = str(pump.paths[0])
        wasi.stderr_file = str(pump.paths[1])
        if spec.stdin is not None:
            stdin = scratch / "stdin"
            stdin.write_bytes(spec.stdin)
            wasi.stdin_file = str(stdin)
        preopens: list[str] = []
        wasi.preopen_dir(str(root), "/")
        preopens.append(str(root))
        for m in spec.mounts:
            wasi.preopen_dir(str(m.host_path), m.guest_path, not m.read_only)
            preopens.append(os.path.realpath(m.host_path))
        cwd_host = None
        if (spec.working_dir or "/").strip("/") and not spec.preopen_listeners:
            cwd_host = workdir.host_dir(
                spec.working_dir,
                str(root),
                [(p, m.guest_path) for p, m in zip(preopens[1:], spec.mounts, strict=True)],
            )
            read_only = any(
                m.read_only and cwd_host.startswith(os.path.realpath(m.host_path)) for m in spec.mounts
            )
            wasi.preopen_dir(cwd_host, spec.working_dir, not read_only)
            preopens.append(cwd_host)

        table = SocketTable(self.socket_limit)
        stop_event: StopSignal | None = None
        try:
            stop_event = StopSignal()
            return self._begin(
                spec,
                module,
                facts,
                wasi,
                pump,
                log,
                scratch,
                root,
                timings,
                t0,
                preopens,
                stop_event,
                table,
                cwd_host,
            )
        except BaseException:
            table.close_all()
            if stop_event is not None:
                stop_event.close()
            pump.close(0.1)
            raise

    def _begin(
        self,
        spec: RunSpec,
        module: wasmtime.Module,
        facts: imports.ModuleFacts,
        wasi: wasmtime.WasiConfig,
        pump: LogPump,
        log: ContainerLog,
        scratch: Path,
        root: Path,
        timings: dict[str, Any],
        t0: float,
        preopens: list[str],
        stop_event: StopSignal,
        table: SocketTable,
        cwd_host: str | None,
    ) -> WasmProcess:
        engine = self.engine  # once: close() on another thread may drop it meanwhile
        if engine is None:
            raise WasmRuntimeError("this Runtime is closed")
        ports = PortMap(spec.ports)
        names = NameTable(spec.hosts, spec.dns_servers)
        sockets = Sockets(table, ports, names, stop_event)
        fdops = FdOps(table, sockets)
        fdops.tty = spec.tty
        poller = Poller(table, stop_event)
        store = wasmtime.Store(engine)
        store.set_wasi(wasi)
        if spec.memory_limit is not None:
            store.set_limits(memory_size=spec.memory_limit)
        proc = WasmProcess(
            spec,
            log=log,
            ports=ports,
            names=names,
            table=table,
            stop_event=stop_event,
            scratch=scratch,
            timings=timings,
            on_exit=self._exited,
            interrupt=self._interrupt,
            faults=sockets.faults,
        )
        # Preopened listeners sit at fds 3, 4, ... (wasmtime --tcplisten). The guest then sees no
        # preopened directory: its libc stops scanning preopens at the first fd that is not one.
        for i, guest_port in enumerate(spec.preopen_listeners):
            table.add(preopened_listener(ports, guest_port), 3 + i)
        if not spec.preopen_listeners:
            fdops.dirs = {3 + i: p for i, p in enumerate(preopens)}
            fdops.root = str(root)
        cwd = None
        if cwd_host is not None:
            cwd = workdir.WorkDir(2 + len(preopens), cwd_host, str(root), fdops.view)
            fdops.hidden_fd = cwd.fd

        def stopping() -> None:
            if proc._stopping:
                self._interrupt()

        linker = wasmtime.Linker(engine)
        linker.allow_shadowing = True
        linker.define_wasi()
        forwarded: list[tuple[str, wasmtime.FuncType]] = []
        keep: list[Any] = []
        clock = poller.clock = spec.clock
        for name, ftype in facts.func_imports:
            if name == "clock_time_get" and clock is not None:
                keep.append(
                    hostfunc.define(
                        linker, imports.WASI, name, ftype, clock.clock_time_get(sockets), proc._host_error
                    )
                )
                continue
            impl = self._handler(name, ftype, sockets, fdops, poller, bool(spec.preopen_listeners))
            if cwd is not None and name in workdir.PATH_ARGS:
                impl = cwd.wrap(name, impl or _late(fdops, name))
            if impl is None:
                continue
            if name in imports.WASI_P1 and not name.startswith("sock_"):
                forwarded.append((name, ftype))
            keep.append(
                hostfunc.define(linker, imports.WASI, name, ftype, _errnos(impl, stopping), proc._host_error)
            )
        try:
            instance = linker.instantiate(store, module)
        except (wasmtime.WasmtimeError, wasmtime.Trap) as exc:
            raise WasmRuntimeError(f"{proc.name}: instantiation failed: {exc}") from exc
        exports = instance.exports(store)
        memory = exports["memory"] if facts.exports_memory else None
        if not isinstance(memory, wasmtime.Memory):
            raise WasmRuntimeError(f"{proc.name}: the module exports no memory named 'memory'")
        guest_memory = GuestMemory(memory)
        sockets.memory = fdops.memory = poller.memory = guest_memory
        if poller_used := any(name == "poll_oneoff" for name, _ in forwarded):
            # absolute clock waits are in the guest's own clock, which only real WASI can read
            forwarded.append(("clock_time_get", _CLOCK_TIME_GET))
        real = self._forwarder(facts, store, memory, forwarded)
        fdops.real = {k: _bind(v, ft) for (k, ft), v in zip(forwarded, real.values(), strict=True)}
        if poller_used:
            poller.real = fdops.real["poll_oneoff"]
            poller.clock_time_get = fdops.real["clock_time_get"]
        callback = epoch.install_deadline(store, proc._should_stop, "container stopped")
        timings["instantiate_s"] = time.perf_counter() - t0
        with self._lock:
            if self._closed:  # close() ran meanwhile (another thread): it would not stop this one
                raise WasmRuntimeError(f"{proc.name}: the Runtime was closed while the container started")
            self._processes.add(proc)
        keep += [linker, instance, callback, real, fdops, poller]
        closers = [pump.close, stop_event.close, *([clock.close] if clock is not None else [])]
        proc._begin(store, exports["_start"], memory, keep, closers)
        return proc

    def _forwarder(
        self,
        facts: imports.ModuleFacts,
        store: wasmtime.Store,
        memory: wasmtime.Memory,
        funcs: list[tuple[str, wasmtime.FuncType]],
    ) -> dict[str, Any]:
        """``forward.instantiate_forwarder``, with the forwarder's text made once per module."""
        if not funcs:
            return {}
        names = tuple(name for name, _ in funcs)
        wat = facts.forwarder_wat.get(names)
        if wat is None:
            wat = facts.forwarder_wat[names] = forwarder_wat(funcs)
        return instantiate_forwarder(self.forwarders, store, memory, funcs, wat)

    @staticmethod
    def _handler(
        name: str, ftype: wasmtime.FuncType, sockets: Sockets, fdops: FdOps, poller: Poller, guard: bool
    ) -> Callable[..., int] | None:
        variants = imports.SOCKET_FUNCS.get(name)
        if variants is not None:
            method: Callable[..., int] = getattr(sockets, variants[len(ftype.params)])
            return method
        if name == "poll_oneoff":
            return poller.poll_oneoff
        if name in imports.FD_FUNCS or name in imports.COPY_UP_FUNCS or name in imports.COMPAT_FUNCS:
            return getattr(fdops, name)  # type: ignore[no-any-return]
        if guard and (name.startswith("fd_") or name.startswith("path_")) and ftype.params:
            return fdops.socket_guard(name)
        return None

    def _exited(self, proc: WasmProcess) -> None:
        with self._lock:
            self._processes.discard(proc)

    def _interrupt(self) -> None:
        """Advance the epoch: a stopping guest traps at its next check (see epoch.py). Thread-safe."""
        engine = self.engine
        if engine is not None:
            engine.increment_epoch()

    # ---- close -------------------------------------------------------------------------------
    def close(self) -> None:
        """Stop every container and drop every wasmtime object (engine, modules, stores)."""
        with self._lock:
            self._closed = True
            procs = list(self._processes)
        for proc in procs:
            proc.stop()
        for proc in procs:
            proc.join(5.0)  # a stopped guest's thread may still be removing its scratch dir
        self.modules.clear_memory()
        with self._lock:
            self._module_facts.clear()
        self.forwarders.clear()
        self.engine = None
        _LIVE.discard(self)

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_CLOCK_TIME_GET = wasmtime.FuncType(
    [wasmtime.ValType.i32(), wasmtime.ValType.i64(), wasmtime.ValType.i32()], [wasmtime.ValType.i32()]
)


def _remove_orphans(scratch_root: Path) -> None:
    """Scratch dirs of sessions that died without cleaning up (named ``c-<pid>-...``)."""
    if not scratch_root.is_dir():
        return
    for d in scratch_root.iterdir():
        parts = d.name.split("-")
        if len(parts) < 3 or not parts[1].isdigit():
            continue
        try:
            os.kill(int(parts[1]), 0)
        except ProcessLookupError:
            shutil.rmtree(d, ignore_errors=True)
        except OSError:
            pass  # alive (maybe another user's): not ours to remove


def _bind(func: Any, ftype: wasmtime.FuncType) -> Callable[..., int]:
    """A forwarder, called with the ``Caller`` of the host call it serves (same store)."""
    wide = hostfunc.signature(ftype)[0]

    def call(caller: Any, *args: int) -> int:
        try:
            return int(func(caller, *(hostfunc.signed(a, w) for a, w in zip(args, wide, strict=False))))
        except (wasmtime.WasmtimeError, wasmtime.Trap) as exc:
            # wasmtime's WASI trapped the guest for its arguments: the guest's fault, not ours
            raise hostfunc.GuestTrap(_cause(str(exc))) from None

    return call


def _cause(text: str) -> str:
    """The "Caused by" lines of a wasmtime error (its wasm backtrace is the forwarder's)."""
    _, found, cause = text.partition("Caused by:")
    lines = [
        ln.strip().split(": ", 1)[-1] if ln.strip()[:1].isdigit() else ln.strip() for ln in cause.splitlines()
    ]
    return " | ".join(ln for ln in lines if ln) if found else text.strip().splitlines()[0]


def _late(fdops: FdOps, name: str) -> Callable[..., int]:
    """wasmtime's own function, looked up at call time (forwarders are made after instantiation)."""
    return lambda caller, *args: fdops.real[name](caller, *args)


def _errnos(impl: Callable[..., int], on_errno: Callable[[], None]) -> Callable[..., int]:
    """Expected failures become errnos for the guest; anything else traps it (see hostfunc)."""

    def call(caller: Any, *args: int) -> int:
        try:
            return impl(caller, *args)
        except errno.WasiError as exc:
            on_errno()  # a blocking call that a stop() woke: the guest traps as it returns
            return exc.code
        except OSError as exc:
            return errno.from_exception(exc)
        except ValueError as exc:
            if "null" not in str(exc):
                raise
            return errno.INVAL  # a guest path with a NUL byte in it, as wasmtime answers one

    return call


@atexit.register
def _close_all() -> None:
    # Dropping every store/module/engine before the interpreter exits keeps wasmtime's runtime
    # threads from panicking during shutdown.
    for rt in list(_LIVE):
        rt.close()
    gc.collect()
