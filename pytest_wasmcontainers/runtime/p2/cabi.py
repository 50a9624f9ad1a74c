"""Component values between wasmtime's C API and Python, fast.

wasmtime-py converts every value through its type objects on every call (a ``list<u8>`` of 64 KiB is
65,536 Python calls). Here each function type is compiled once, at link time, into plain closures
that read and write ``wasmtime_component_val_t`` directly; bytes go through strided slices.

Python forms: bool/int/float/str as usual (``char`` is a 1-character str); ``list<u8>`` is bytes,
other lists are lists; a record is a dict; a tuple is a tuple; a variant is ``(case, payload)``
(a bare case name is accepted when lowering a case without payload); an enum is its case name; an
option is None or the value; a result is ``Ok(v)`` or ``Err(e)`` (a plain value lowers as ok);
flags are a set of names; ``own``/``borrow`` of a host resource is the Python object.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import Any

from wasmtime import _bindings as ffi
from wasmtime import component as wc

Val = ffi.wasmtime_component_val_t
VAL_SIZE = ctypes.sizeof(Val)
PAYLOAD = Val.of.offset
Lift = Callable[[Any, Any], Any]
"""(val, store context) -> Python value"""
Lower = Callable[[Any, Any, Any], None]
"""(Python value, val to fill, store context) -> None"""

(BOOL, S8, U8, S16, U16, S32, U32, S64, U64, F32, F64, CHAR, STRING, LIST, RECORD, TUPLE, VARIANT, ENUM) = (
    range(18)
)
OPTION, RESULT, FLAGS, RESOURCE = 18, 19, 20, 21

_byte_vec_new = ffi._wasm_byte_vec_new
_val_new = ffi._wasmtime_component_val_new
_list_new = ffi._wasmtime_component_vallist_new_uninit
_tuple_new = ffi._wasmtime_component_valtuple_new_uninit
_record_new = ffi._wasmtime_component_valrecord_new_uninit
_flags_new = ffi._wasmtime_component_valflags_new_uninit
_host_new = ffi._wasmtime_component_resource_host_new
_host_delete = ffi._wasmtime_component_resource_host_delete
_host_rep = ffi._wasmtime_component_resource_host_rep
_host_to_any = ffi._wasmtime_component_resource_host_to_any
_any_to_host = ffi._wasmtime_component_resource_any_to_host
_error_delete = ffi._wasmtime_error_delete
_u8p = ctypes.POINTER(ctypes.c_uint8)
_HostPtr = ctypes.POINTER(ffi.wasmtime_component_resource_host_t)
_AnyPtr = ctypes.POINTER(ffi.wasmtime_component_resource_any_t)


class Ok:
    __slots__ = ("value",)

    def __init__(self, value: Any = None) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"Ok({self.value!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Ok) and other.value == self.value


class Err(Exception):
    """The error case of a ``result``: raised by a host function, or a lifted value."""

    def __init__(self, value: Any = None) -> None:
        super().__init__(value)
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Err) and other.value == self.value

    __hash__ = Exception.__hash__


class Resources:
    """How host objects become resource handles and back: set by the host (see host.py)."""

    type_id: Callable[[Any], int] = staticmethod(lambda obj: 0)
    put: Callable[[Any], int] = staticmethod(lambda obj: 0)
    get: Callable[[int], Any] = staticmethod(lambda rep: None)
    take: Callable[[int], Any] = staticmethod(lambda rep: None)


def _bytes_into(out: Any, data: bytes | bytearray | memoryview) -> None:
    n = len(data)
    buf = (ctypes.c_ubyte * n).from_buffer_copy(data) if n else None
    _byte_vec_new(ctypes.byref(out), n, ctypes.cast(buf, _u8p) if buf is not None else None)


def _text_from(vec: Any) -> str:
    return ctypes.string_at(vec.data, vec.size).decode("utf-8") if vec.size else ""


def _boxed(lower: Lower, x: Any, cx: Any) -> Any:
    tmp = Val()
    lower(x, tmp, cx)
    return _val_new(ctypes.byref(tmp))


# ---- compiling a type ------------------------------------------------------------------------
_PRIMS: dict[type, tuple[int, str]] = {
    wc.Bool: (BOOL, "boolean"),
    wc.S8: (S8, "s8"),
    wc.U8: (U8, "u8"),
    wc.S16: (S16, "s16"),
    wc.U16: (U16, "u16"),
    wc.S32: (S32, "s32"),
    wc.U32: (U32, "u32"),
    wc.S64: (S64, "s64"),
    wc.U64: (U64, "u64"),
    wc.F32: (F32, "f32"),
    wc.F64: (F64, "f64"),
}


def codec(ty: Any) -> tuple[Lift, Lower]:
    """The (lift, lower) pair for a wasmtime-py component value type."""
    prim = _PRIMS.get(type(ty))
    if prim is not None:
        return _prim(*prim)
    if isinstance(ty, wc.Char):
        return _char()
    if isinstance(ty, wc.String):
        return _string()
    if isinstance(ty, wc.ListType):
        element = ty.element
        if isinstance(element, wc.U8):
            return _bytes()
        return _list(*codec(element))
    if isinstance(ty, wc.RecordType):
        return _record([(name, *codec(t)) for name, t in ty.fields])
    if isinstance(ty, wc.TupleType):
        return _tuple([codec(t) for t in ty.elements])
    if isinstance(ty, wc.VariantType):
        return _variant([(name, codec(t) if t is not None else None) for name, t in ty.cases])
    if isinstance(ty, wc.EnumType):
        return _enum(ty.names)
    if isinstance(ty, wc.OptionType):
        return _option(*codec(ty.payload))
    if isinstance(ty, wc.ResultType):
        ok, err = ty.ok, ty.err
        return _result(codec(ok) if ok is not None else None, codec(err) if err is not None else None)
    if isinstance(ty, wc.FlagsType):
        return _flags()
    if isinstance(ty, (wc.OwnType, wc.BorrowType)):
        return _resource(isinstance(ty, wc.OwnType))
    raise TypeError(f"component value type {type(ty).__name__} is not supported by this host")


def _prim(kind: int, field: str) -> tuple[Lift, Lower]:
    def lift(v: Any, cx: Any) -> Any:
        return getattr(v.of, field)

    def lower(x: Any, v: Any, cx: Any) -> None:
        v.kind = kind
        setattr(v.of, field, x)

    return lift, lower


def _char() -> tuple[Lift, Lower]:
    def lift(v: Any, cx: Any) -> str:
        return chr(v.of.character)

    def lower(x: str, v: Any, cx: Any) -> None:
        v.kind = CHAR
        v.of.character = ord(x)

    return lift, lower


def _string() -> tuple[Lift, Lower]:
    def lift(v: Any, cx: Any) -> str:
        return _text_from(v.of.string)

    def lower(x: str, v: Any, cx: Any) -> None:
        v.kind = STRING
        _bytes_into(v.of.string, x.encode("utf-8"))

    return lift, lower


_KIND_U8 = bytes([U8])


def _bytes() -> tuple[Lift, Lower]:
    def lift(v: Any, cx: Any) -> bytes:
        lst = v.of.list
        n = lst.size
        if not n:
            return b""
        return ctypes.string_at(lst.data, n * VAL_SIZE)[PAYLOAD::VAL_SIZE]

    def lower(x: bytes, v: Any, cx: Any) -> None:
        v.kind = LIST
        n = len(x)
        _list_new(ctypes.byref(v.of.list), n)
        if n:
            buf = bytearray(n * VAL_SIZE)
            buf[0::VAL_SIZE] = _KIND_U8 * n
            buf[PAYLOAD::VAL_SIZE] = x
            ctypes.memmove(v.of.list.data, bytes(buf), len(buf))

    return lift, lower


def _list(lift_e: Lift, lower_e: Lower) -> tuple[Lift, Lower]:
    def lift(v: Any, cx: Any) -> list[Any]:
        lst = v.of.list
        data = lst.data
        return [lift_e(data[i], cx) for i in range(lst.size)]

    def lower(x: list[Any], v: Any, cx: Any) -> None:
        v.kind = LIST
        _list_new(ctypes.byref(v.of.list), len(x))
        data = v.of.list.data
        for i, e in enumerate(x):
            lower_e(e, data[i], cx)

    return lift, lower


def _record(fields: list[tuple[str, Lift, Lower]]) -> tuple[Lift, Lower]:
    names = [(name, name.encode()) for name, _, _ in fields]

    def lift(v: Any, cx: Any) -> dict[str, Any]:
        data = v.of.record.data
        return {name: lf(data[i].val, cx) for i, (name, lf, _) in enumerate(fields)}

    def lower(x: dict[str, Any], v: Any, cx: Any) -> None:
        v.kind = RECORD
        _record_new(ctypes.byref(v.of.record), len(fields))
        data = v.of.record.data
        for i, (name, _, lw) in enumerate(fields):
            entry = data[i]
            _bytes_into(entry.name, names[i][1])
            lw(x[name], entry.val, cx)

    return lift, lower


def _tuple(parts: list[tuple[Lift, Lower]]) -> tuple[Lift, Lower]:
    def lift(v: Any, cx: Any) -> tuple[Any, ...]:
        data = v.of.tuple.data
        return tuple(lf(data[i], cx) for i, (lf, _) in enumerate(parts))

    def lower(x: tuple[Any, ...], v: Any, cx: Any) -> None:
        v.kind = TUPLE
        _tuple_new(ctypes.byref(v.of.tuple), len(parts))
        data = v.of.tuple.data
        for i, (_, lw) in enumerate(parts):
            lw(x[i], data[i], cx)

    return lift, lower


def _variant(cases: list[tuple[str, tuple[Lift, Lower] | None]]) -> tuple[Lift, Lower]:
    by_name = {name: (name.encode(), c) for name, c in cases}

    def lift(v: Any, cx: Any) -> tuple[str, Any]:
        var = v.of.variant
        name = _text_from(var.discriminant)
        c = by_name[name][1]
        return name, (c[0](var.val.contents, cx) if c is not None and var.val else None)

    def lower(x: Any, v: Any, cx: Any) -> None:
        name, payload = (x, None) if isinstance(x, str) else x
        try:
            raw, c = by_name[name]
        except KeyError:
            raise TypeError(f"no case {name!r} in variant ({', '.join(by_name)})") from None
        v.kind = VARIANT
        _bytes_into(v.of.variant.discriminant, raw)
        v.of.variant.val = _boxed(c[1], payload, cx) if c is not None else None

    return lift, lower


def _enum(names: list[str]) -> tuple[Lift, Lower]:
    def lift(v: Any, cx: Any) -> str:
        return _text_from(v.of.enumeration)

    def lower(x: str, v: Any, cx: Any) -> None:
        v.kind = ENUM
        _bytes_into(v.of.enumeration, x.encode())

    return lift, lower


def _option(lift_p: Lift, lower_p: Lower) -> tuple[Lift, Lower]:
    def lift(v: Any, cx: Any) -> Any:
        p = v.of.option
        return lift_p(p.contents, cx) if p else None

    def lower(x: Any, v: Any, cx: Any) -> None:
        v.kind = OPTION
        v.of.option = _boxed(lower_p, x, cx) if x is not None else None

    return lift, lower


def _result(ok: tuple[Lift, Lower] | None, err: tuple[Lift, Lower] | None) -> tuple[Lift, Lower]:
    def lift(v: Any, cx: Any) -> Ok | Err:
        r = v.of.result
        if r.is_ok:
            return Ok(ok[0](r.val.contents, cx) if ok is not None and r.val else None)
        return Err(err[0](r.val.contents, cx) if err is not None and r.val else None)

    def lower(x: Any, v: Any, cx: Any) -> None:
        v.kind = RESULT
        r = v.of.result
        if isinstance(x, Err):
            r.is_ok = False
            r.val = _boxed(err[1], x.value, cx) if err is not None else None
        else:
            r.is_ok = True
            value = x.value if isinstance(x, Ok) else x
            r.val = _boxed(ok[1], value, cx) if ok is not None else None

    return lift, lower


def _flags() -> tuple[Lift, Lower]:
    def lift(v: Any, cx: Any) -> set[str]:
        fl = v.of.flags
        return {_text_from(fl.data[i]) for i in range(fl.size)}

    def lower(x: Any, v: Any, cx: Any) -> None:
        v.kind = FLAGS
        names = sorted(x)
        _flags_new(ctypes.byref(v.of.flags), len(names))
        data = v.of.flags.data
        for i, name in enumerate(names):
            _bytes_into(data[i], name.encode())

    return lift, lower


def _resource(owned: bool) -> tuple[Lift, Lower]:
    def rep_of(v: Any, cx: Any) -> int:
        host = _HostPtr()
        err = _any_to_host(cx, v.of.resource, ctypes.byref(host))
        if err:
            _error_delete(err)
            raise TypeError("a resource handle that is not the host's was passed to the host")
        try:
            return int(_host_rep(host))
        finally:
            _host_delete(host)

    if owned:

        def lift(v: Any, cx: Any) -> Any:
            return Resources.take(rep_of(v, cx))  # the guest gave it up: the host owns it now
    else:

        def lift(v: Any, cx: Any) -> Any:
            return Resources.get(rep_of(v, cx))

    def lower(x: Any, v: Any, cx: Any) -> None:
        host = _host_new(True, Resources.put(x), Resources.type_id(x))
        out = _AnyPtr()
        try:
            err = _host_to_any(cx, host, ctypes.byref(out))
        finally:
            _host_delete(host)
        if err:
            _error_delete(err)
            raise TypeError(f"cannot hand a {type(x).__name__} to the guest")
        v.kind = RESOURCE
        v.of.resource = out

    return lift, lower
