"""Linking a component against this package's WASI 0.2 host.

Every interface is implemented here in Python (``Interface`` objects in the sibling modules):
wasmtime's own p2 host cannot be mixed with resources defined in Python, refuses TCP sockets, and
cannot serve an incoming request. A component's imports name their own versions
(``wasi:io/streams@0.2.0``, ``@0.2.3``, ...): each imported instance is defined under its exact
name from the same implementation, with the same resource types, as wasmtime's semver matching
does. Each function's type is compiled into codecs once per component (see cabi.py), and every
function goes through one ctypes trampoline.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import wasmtime
from wasmtime import _bindings as ffi
from wasmtime import component as wc

from ...errors import UnsupportedImportsError
from . import cabi
from .cabi import Err
from .context import GuestExit, Stopped, current, current_or_none, on_guest_drop, register_type

_NO_FINALIZER = ctypes.CFUNCTYPE(None, ctypes.c_void_p)()


@dataclass
class Interface:
    """One WASI interface: its resources (WIT name -> class) and its free functions."""

    name: str
    """Without version, e.g. ``wasi:io/streams``."""
    resources: dict[str, type] = field(default_factory=dict)
    funcs: dict[str, Callable[..., Any]] = field(default_factory=dict)

    def impl(self, wit_name: str) -> Callable[..., Any] | None:
        """The Python callable for an imported function name (``[method]r.m``, ``f``, ...)."""
        if wit_name.startswith("[constructor]"):
            return self.resources.get(wit_name[13:])
        for prefix in ("[method]", "[static]"):
            if wit_name.startswith(prefix):
                res, _, method = wit_name[len(prefix) :].partition(".")
                cls = self.resources.get(res)
                attr = method.replace("-", "_")
                f = getattr(cls, attr, None) if cls is not None else None
                if not callable(f):
                    return None
                # methods dispatch on the object: subclasses (file, socket, body streams) override
                return f if prefix == "[static]" else _method(attr)
        return self.funcs.get(wit_name)


def _method(attr: str) -> Callable[..., Any]:
    def call(obj: Any, *args: Any) -> Any:
        return getattr(obj, attr)(*args)

    return call


_INTERFACES: dict[str, Interface] = {}
_RESOURCE_IDS: dict[tuple[str, str], int] = {}
_BY_NAME: dict[str, int] = {}
"""Resource name -> type id, for the resources an interface ``use``s from another (WASI's names
are unique across its packages; wasi:http renames io's error and aliases fields)."""
_ALIASES = {"io-error": "error", "headers": "fields", "trailers": "fields"}


def register(*interfaces: Interface) -> None:
    for iface in interfaces:
        _INTERFACES[iface.name] = iface
        for res, cls in iface.resources.items():
            tid = _RESOURCE_IDS.setdefault((iface.name, res), len(_RESOURCE_IDS) + 1)
            _BY_NAME.setdefault(res, tid)
            register_type(cls, tid)


def _resource_id(iface: Interface, name: str) -> int | None:
    name = _ALIASES.get(name, name)
    own = _RESOURCE_IDS.get((iface.name, name))
    return own if own is not None else _BY_NAME.get(name)


def split_version(name: str) -> tuple[str, str]:
    base, _, version = name.partition("@")
    return base, version


# ---- the trampoline ----------------------------------------------------------------------------
@dataclass
class _Entry:
    name: str
    impl: Callable[..., Any]
    lifts: list[cabi.Lift]
    lower: cabi.Lower | None
    returns_result: bool


_ENTRIES: list[_Entry] = []
_ENTRIES_LOCK = threading.Lock()


def _trap(message: str) -> int:
    err = ffi.wasmtime_error_new(message.encode())
    return int(ctypes.cast(err, ctypes.c_void_p).value or 0)


def _report(text: str) -> None:
    """A host function failed unexpectedly: the container's log says so (the guest traps)."""
    ctx = current_or_none()
    if ctx is not None:
        ctx.host_error = ctx.host_error or text
        line = f"[wasmcontainers] host error: {text}\n".encode()
        ctx.log.stderr.append(line)
        ctx.log.combined.append(line)


@ffi.wasmtime_component_func_callback_t
def _trampoline(data, cx, _ty, args, _nargs, results, _nresults):  # type: ignore[no-untyped-def]
    e = _ENTRIES[data or 0]
    try:
        try:
            value = e.impl(*[lift(args[i], cx) for i, lift in enumerate(e.lifts)])
        except Err as exc:
            if not e.returns_result:
                raise
            value = exc
        if e.lower is not None:
            e.lower(value, results[0], cx)
        return 0
    except GuestExit as exc:
        current().exit_code = exc.code
        return _trap(f"guest exited with code {exc.code}")
    except Stopped:
        return _trap("container stopped")
    except BaseException as exc:  # a host bug or bad guest input: the guest traps, the log says why
        text = f"{e.name}: {type(exc).__name__}: {exc}"
        _report(text)
        return _trap(f"host error in {text}")


@ffi.wasmtime_component_resource_destructor_t
def _dtor(_data, _cx, rep):  # type: ignore[no-untyped-def]
    try:
        on_guest_drop(rep)
    except BaseException as exc:
        _report(f"resource drop: {type(exc).__name__}: {exc}")
    return 0


def _entry(name: str, impl: Callable[..., Any], fty: wc.FuncType) -> int:
    lifts = [cabi.codec(t)[0] for _, t in fty.params]
    result = fty.result
    lower = cabi.codec(result)[1] if result is not None else None
    e = _Entry(name, impl, lifts, lower, isinstance(result, wc.ResultType))
    with _ENTRIES_LOCK:
        _ENTRIES.append(e)
        return len(_ENTRIES) - 1


# ---- linking -------------------------------------------------------------------------------------
def missing_imports(component: wc.Component, engine: wasmtime.Engine) -> list[str]:
    """Every import this host does not provide, by name (``iface@ver#func`` for single functions)."""
    missing = []
    for name, ext in component.type.imports(engine).items():
        ty = ext.ty
        base, version = split_version(name)
        iface = _INTERFACES.get(base)
        # every 0.2.x is served (semver-compatible, as wasmtime links them); 0.3 is another ABI
        if iface is None or not version.startswith("0.2.") or not isinstance(ty, wc.ComponentInstanceType):
            missing.append(name)
            continue
        for item_name, item in ty.exports(engine).items():
            item_ty = item.ty
            if (isinstance(item_ty, wc.FuncType) and iface.impl(item_name) is None) or (
                isinstance(item_ty, wc.ResourceType) and _resource_id(iface, item_name) is None
            ):
                missing.append(f"{name}#{item_name}")
    return missing


def build_linker(component: wc.Component, engine: wasmtime.Engine, what: str) -> wc.Linker:
    """A linker that defines every import of ``component`` from this host (reusable across stores)."""
    missing = missing_imports(component, engine)
    if missing:
        raise UnsupportedImportsError(
            f"{what} imports what this runtime does not provide: {', '.join(missing)}. "
            "Supported: WASI 0.2 (wasi:cli, wasi:io, wasi:clocks, wasi:random, wasi:filesystem, "
            "wasi:sockets, wasi:http)."
        )
    linker = wc.Linker(engine)
    with linker.root() as root:
        for name, ext in component.type.imports(engine).items():
            iface = _INTERFACES[split_version(name)[0]]
            with root.add_instance(name) as inst:
                _define(inst, iface, name, ext.ty, engine)
    return linker


def _define(inst: wc.LinkerInstance, iface: Interface, name: str, ty: Any, engine: wasmtime.Engine) -> None:
    items = ty.exports(engine)
    for item_name, item in items.items():
        if isinstance(item.ty, wc.ResourceType):
            tid = _resource_id(iface, item_name)
            assert tid is not None
            rtype = wc.ResourceType.host(tid)
            raw = item_name.encode()
            err = ffi.wasmtime_component_linker_instance_add_resource(
                inst.ptr(), raw, len(raw), rtype.ptr(), _dtor, None, _NO_FINALIZER
            )
            if err:
                raise wasmtime.WasmtimeError._from_ptr(err)
    for item_name, item in items.items():
        fty = item.ty
        if not isinstance(fty, wc.FuncType):
            continue
        impl = iface.impl(item_name)
        assert impl is not None
        idx = _entry(f"{name}#{item_name}", impl, fty)
        raw = item_name.encode()
        err = ffi.wasmtime_component_linker_instance_add_func(
            inst.ptr(), raw, len(raw), _trampoline, ctypes.c_void_p(idx), _NO_FINALIZER
        )
        if err:
            raise wasmtime.WasmtimeError._from_ptr(err)


# ---- calling exports -----------------------------------------------------------------------------
def export_func(instance: wc.Instance, store: wasmtime.Store, interface: str, name: str) -> wc.Func | None:
    """The function ``name`` of the exported instance ``interface`` (exact versioned name)."""
    parent = instance.get_export_index(store, interface)
    if parent is None:
        return None
    index = instance.get_export_index(store, name, parent)
    return instance.get_func(store, index) if index is not None else None


def call(store: wasmtime.Store, func: wc.Func, args: list[Any]) -> Any:
    """Call an export with this module's codecs (host resources as arguments, our result forms)."""
    fty = func.type(store)
    cx = store._context()
    n = len(args)
    params = (cabi.Val * max(n, 1))()
    lowered = 0
    result = cabi.Val() if fty.result is not None else None
    try:
        for (_, ty), x in zip(fty.params, args, strict=True):
            cabi.codec(ty)[1](x, params[lowered], cx)
            lowered += 1
        err = ffi.wasmtime_component_func_call(
            ctypes.byref(func._func),
            cx,
            params,
            n,
            ctypes.byref(result) if result is not None else None,
            1 if result is not None else 0,
        )
        if err:
            raise wasmtime.WasmtimeError._from_ptr(err)
        value = cabi.codec(fty.result)[0](result, cx) if result is not None else None
    finally:
        for i in range(lowered):
            ffi.wasmtime_component_val_delete(ctypes.byref(params[i]))
    if result is not None:
        ffi.wasmtime_component_val_delete(ctypes.byref(result))
    err = ffi.wasmtime_component_func_post_return(ctypes.byref(func._func), cx)
    if err:
        raise wasmtime.WasmtimeError._from_ptr(err)
    return value
