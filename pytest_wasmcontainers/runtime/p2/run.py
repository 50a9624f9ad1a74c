"""Running a WASI 0.2 component as a container: a ``wasi:cli/run`` command or a ``wasi:http`` proxy.

A command runs once in the container's thread, like a p1 module. A proxy is served the way
``wasmtime serve`` and runwasi's wasmtime shim serve it: guest port 8080, mapped through the
container's port table; a thread per connection; a fresh store and instance per request.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import wasmtime
from wasmtime import component as wc

from ...errors import WasmRuntimeError
from .. import epoch, rootfs
from ..logs import ContainerLog
from ..process import WasmProcess
from ..spec import PROXY_PORT, RunSpec
from . import host
from .cabi import Err
from .context import HostContext, Preopen
from .interfaces import register_all


@dataclass
class ComponentFacts:
    """What a component is, computed once per compiled component."""

    world: str
    """"proxy", "command" or "unsupported"."""
    export: str
    """The exported interface that is called (versioned name)."""
    linker: wc.Linker | None
    missing: list[str]


def facts(component: wc.Component, engine: wasmtime.Engine, what: str) -> ComponentFacts:
    register_all()
    exports = list(component.type.exports(engine))
    handler = next((n for n in exports if n.startswith("wasi:http/incoming-handler@0.2")), None)
    run = next((n for n in exports if n.startswith("wasi:cli/run@0.2")), None)
    world, export = ("proxy", handler) if handler else ("command", run) if run else ("unsupported", "")
    missing = host.missing_imports(component, engine)
    linker = host.build_linker(component, engine, what) if not missing and export else None
    return ComponentFacts(world, export or "", linker, missing)


def describe(f: ComponentFacts, what: str) -> str:
    """Why ``what`` cannot run: every import not served, and/or no export to call."""
    problems = []
    if f.missing:
        problems.append(f"it imports what this runtime does not provide: {', '.join(f.missing)}")
    if not f.export:
        problems.append(
            "it exports neither wasi:cli/run@0.2.x (a command) nor wasi:http/incoming-handler@0.2.x "
            "(a proxy), so there is nothing to run"
        )
    return (
        f"{what} is a component this runtime cannot run: {'; and '.join(problems)}. Served: WASI 0.2.x "
        "(wasi:cli, io, clocks, random, filesystem, sockets, http) for the command and proxy worlds."
    )


class ComponentProcess(WasmProcess):
    """A running component; the same handle as a p1 guest's (logs, ports, stop, exit code)."""

    is_component = True

    world = "command"
    _run_once: Callable[[], int] | None = None
    _close_ctx: Callable[[], None] | None = None

    def _call_entry(self) -> int:
        assert self._run_once is not None
        return self._run_once()


def start(
    spec: RunSpec,
    component: wc.Component,
    f: ComponentFacts,
    engine: wasmtime.Engine,
    proc: ComponentProcess,
    root: Path,
    log: ContainerLog,
    closers: list[Callable[[], None]],
) -> None:
    """Begin ``proc`` (made by the runtime with the container's tables) for ``component``."""
    assert f.linker is not None
    linker = f.linker
    root_s = str(root)
    preopens = [Preopen(root_s, "/")] + [
        Preopen(os.path.realpath(m.host_path), m.guest_path, m.read_only) for m in spec.mounts
    ]

    def copy_up(path: str) -> None:
        if path == root_s or path.startswith(root_s + os.sep):
            rootfs.copy_up(path)

    env = dict(spec.env)
    env.setdefault("PWD", spec.working_dir or "/")  # as for p1 guests: wasi-libc's adapter reads it

    def context() -> HostContext:
        return HostContext(
            log=log,
            ports=proc._ports,
            names=proc._names,
            stop=proc._stop_event,
            args=list(spec.argv) or [spec.module_file.name],
            env=env,
            cwd=spec.working_dir or "/",
            preopens=preopens,
            stdin=spec.stdin,
            tty=spec.tty,
            copy_up=copy_up,
            clock=spec.clock,
            faults=proc.faults,
        )

    def new_store() -> tuple[wasmtime.Store, Any]:
        store = wasmtime.Store(engine)
        if spec.memory_limit is not None:
            store.set_limits(memory_size=spec.memory_limit)
        return store, epoch.install_deadline(store, proc._should_stop, "container stopped")

    def report(text: str) -> None:
        line = f"[wasmcontainers] {text}\n".encode()
        log.stderr.append(line)
        log.combined.append(line)

    proc.world = f.world
    others = sorted(set(spec.ports) - {PROXY_PORT})
    if f.world == "proxy" and others:
        raise WasmRuntimeError(
            f"{proc.name} is a wasi:http proxy: it is served on guest port {PROXY_PORT} only, so guest "
            f"port(s) {', '.join(map(str, others))} can never listen; map {PROXY_PORT} instead "
            f"(ports={{{PROXY_PORT}: None}} or {{{PROXY_PORT}: <host port>}})"
        )
    if f.world == "proxy":
        proc._run_once = _proxy(spec, component, f, linker, proc, context, new_store, report)
    else:
        proc._run_once = _command(component, f, linker, context, new_store, proc)
    proc._begin(None, None, None, [], closers)  # type: ignore[arg-type]


def _command(
    component: wc.Component,
    f: ComponentFacts,
    linker: wc.Linker,
    context: Callable[[], HostContext],
    new_store: Callable[[], tuple[wasmtime.Store, Any]],
    proc: ComponentProcess,
) -> Callable[[], int]:
    ctx = context()
    store, keep = new_store()
    try:
        instance = linker.instantiate(store, component)
    except (wasmtime.WasmtimeError, wasmtime.Trap) as exc:
        raise WasmRuntimeError(f"{proc.name}: instantiation failed: {exc}") from exc
    func = host.export_func(instance, store, f.export, "run")
    if func is None:
        raise WasmRuntimeError(f"{proc.name}: {f.export} has no function 'run'")

    def run() -> int:
        nonlocal store, instance, keep
        try:
            with ctx.entered():
                try:
                    result = host.call(store, func, [])
                except wasmtime.WasmtimeError:
                    if ctx.exit_code is not None and not proc._stopping:
                        return ctx.exit_code
                    raise
            return 1 if isinstance(result, Err) else 0
        finally:
            with ctx.entered():
                ctx.close()
            store = instance = keep = None  # type: ignore[assignment]

    return run


def _proxy(
    spec: RunSpec,
    component: wc.Component,
    f: ComponentFacts,
    linker: wc.Linker,
    proc: ComponentProcess,
    context: Callable[[], HostContext],
    new_store: Callable[[], tuple[wasmtime.Store, Any]],
    report: Callable[[str], None],
) -> Callable[[], int]:
    from .http_server import ProxyServer

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(("127.0.0.1", proc._ports.host_port_for_bind(PROXY_PORT)))
        listener.listen(1024)
    except OSError as exc:
        listener.close()
        raise WasmRuntimeError(f"{proc.name}: cannot listen for guest port {PROXY_PORT}: {exc}") from exc

    Ready = tuple[wasmtime.Store, Any, HostContext, wc.Func]
    spare: list[Ready] = []  # one instance made ahead, used once: still an instance per request
    lock = threading.Lock()

    def prepare() -> Ready:
        store, keep = new_store()
        ctx = context()
        with ctx.entered():
            instance = linker.instantiate(store, component)
            func = host.export_func(instance, store, f.export, "handle")
        if func is None:
            raise WasmRuntimeError(f"{f.export} has no function 'handle'")
        return store, keep, ctx, func

    def refill() -> None:
        if spare or proc._stopping:
            return
        try:
            ready = prepare()  # outside the lock: wasmtime releases the GIL while it instantiates
        except (wasmtime.WasmtimeError, WasmRuntimeError):
            return  # the next request instantiates for itself and reports what fails
        with lock:
            if not spare:
                spare.append(ready)

    def respond(request: Any, outparam: Any) -> None:
        t0 = time.perf_counter()
        with lock:
            ready = spare.pop() if spare else None
        store, keep, ctx, func = ready if ready is not None else prepare()
        try:
            with ctx.entered():
                host.call(store, func, [request, outparam])
        finally:
            with ctx.entered():
                ctx.close()
            del store, keep, ready
            proc.timings["last_request_s"] = time.perf_counter() - t0
        refill()  # while the client reads the response and sends its next request

    server = ProxyServer(listener, proc._stop_event, respond, report)

    def run() -> int:
        proc._ports.add_listener(PROXY_PORT, int(listener.getsockname()[1]))
        try:
            refill()
            server.serve_forever()
        finally:
            with lock:
                spare.clear()
        return 0

    return run
