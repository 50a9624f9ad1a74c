"""``wasi:http/types``: fields, requests, responses and bodies.

Bodies are streamed, never collected: an incoming body reads its connection as the guest reads
(``BodyReader``), an outgoing body hands each write to its ``Sink`` (the server's response or the
client's request). Forbidden headers are refused and stripped as wasmtime does.
"""

from __future__ import annotations

import re
from typing import Any, Protocol

import h11

from .cabi import Err, Ok
from .host import Interface
from .http_wire import Wire, WireTimeout
from .io import InputStream, IoError, OutputStream, Pollable, failed

FORBIDDEN = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "transfer-encoding",
        "upgrade",
        "host",
        "http2-settings",
    }
)
"""wasmtime-wasi-http's DEFAULT_FORBIDDEN_HEADERS."""
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
METHODS = ("get", "head", "post", "put", "delete", "connect", "options", "trace", "patch")


def http_error(message: str, code: Any) -> Err:
    """A stream error that carries an HTTP error code (read back with ``http-error-code``)."""
    return failed(message, code, "http")


def http_error_code(err: IoError) -> Any:
    return err.code if err.kind == "http" else None


# ---- fields --------------------------------------------------------------------------------------
class Fields:
    def __init__(self) -> None:
        self.items: list[tuple[str, bytes]] = []
        self.mutable = True

    @staticmethod
    def of(items: list[tuple[str, bytes]], mutable: bool = False) -> Fields:
        f = Fields()
        f.items = items
        f.mutable = mutable
        return f

    @staticmethod
    def from_list(entries: list[tuple[str, bytes]]) -> Fields:
        f = Fields()
        for name, value in entries:
            f.items.append((_valid(name, value), value))
        return f

    def _edit(self, name: str) -> str:
        if not self.mutable:
            raise Err("immutable")
        return _valid(name, b"")

    def get(self, name: str) -> list[bytes]:
        key = name.lower()
        return [v for n, v in self.items if n == key]

    def has(self, name: str) -> bool:
        key = name.lower()
        return any(n == key for n, _ in self.items)

    def set(self, name: str, value: list[bytes]) -> None:
        key = self._edit(name)
        for v in value:
            _valid(key, v)
        self.items = [(n, v) for n, v in self.items if n != key] + [(key, v) for v in value]

    def delete(self, name: str) -> None:
        key = self._edit(name)
        self.items = [(n, v) for n, v in self.items if n != key]

    def append(self, name: str, value: bytes) -> None:
        key = self._edit(name)
        self.items.append((_valid(key, value), value))

    def entries(self) -> list[tuple[str, bytes]]:
        return list(self.items)

    def clone(self) -> Fields:
        return Fields.of(list(self.items), mutable=True)


def _valid(name: str, value: bytes) -> str:
    raw = name.encode("utf-8", "replace")
    if not _TOKEN.fullmatch(raw) or _BAD_VALUE.search(value):
        raise Err("invalid-syntax")
    key = name.lower()
    if key in FORBIDDEN:
        raise Err("forbidden")
    return key


def guest_headers(raw: Any) -> Fields:
    """Headers that came off the wire, as the guest gets them: lowercased, forbidden ones removed."""
    items = []
    for n, v in raw:
        key = n.decode("latin-1").lower()
        if key not in FORBIDDEN:
            items.append((key, bytes(v)))
    return Fields.of(items)


def method_name(method: Any) -> str:
    case, payload = (method, None) if isinstance(method, str) else method
    return str(payload) if case == "other" else case.upper()


def method_variant(name: str) -> Any:
    low = name.lower()
    return low if name.isupper() and low in METHODS else ("other", name)


# ---- incoming bodies -----------------------------------------------------------------------------
class BodyReader:
    """The body of a request or response being received on ``wire``, event by event."""

    def __init__(self, wire: Wire, idle_timeout: float | None = None) -> None:
        self.wire = wire
        self.buf = b""
        self.done = False
        self.trailers: list[tuple[bytes, bytes]] | None = None
        self.error: Any = None
        self.idle_timeout = idle_timeout
        self.on_done: list[Any] = []

    def _step(self, block: bool) -> None:
        h = self.wire.h11
        if h.our_role is h11.SERVER and h.they_are_waiting_for_100_continue:
            self.wire.send(h11.InformationalResponse(status_code=100, headers=[]))  # the guest reads
        try:
            ev = self.wire.next_event(block, self.idle_timeout)
        except WireTimeout:
            self.error = "connection-read-timeout"
            return
        except h11.RemoteProtocolError:
            self.error = "HTTP-protocol-error"
            return
        except OSError:
            self.error = "connection-terminated"
            return
        if ev is None:
            return
        if isinstance(ev, h11.Data):
            self.buf += bytes(ev.data)
        elif isinstance(ev, h11.EndOfMessage):
            self.done = True
            self.trailers = list(ev.headers)
            for cb in self.on_done:
                cb()
        else:  # ConnectionClosed before the end of the body
            self.error = "HTTP-response-incomplete"

    def read(self, n: int, block: bool) -> bytes | None:
        while not self.buf and not self.done and self.error is None:
            self._step(block)
            if not block:
                break
        if self.buf:
            chunk, self.buf = self.buf[:n], self.buf[n:]
            return chunk
        if self.error is not None:
            raise http_error(f"the body could not be read: {self.error}", self.error)
        return None if self.done else b""

    def ready(self) -> bool:
        if not self.buf and not self.done and self.error is None:
            self._step(False)
        return bool(self.buf) or self.done or self.error is not None

    def finish(self) -> None:
        """Read (and drop) what is left: the trailers come after it."""
        while not self.done and self.error is None:
            self.buf = b""
            self._step(True)
        self.buf = b""


class BodyInput(InputStream):
    def __init__(self, reader: BodyReader) -> None:
        self.reader = reader

    def _read(self, n: int, block: bool) -> bytes | None:
        return self.reader.read(n, block)

    def _pollable(self) -> Pollable:
        return Pollable(check=self.reader.ready, fd=self.reader.wire.fileno())


class IncomingBody:
    def __init__(self, reader: BodyReader) -> None:
        self.reader = reader
        self.taken = False

    def stream(self) -> InputStream:
        if self.taken:
            raise Err()
        self.taken = True
        return BodyInput(self.reader)

    @staticmethod
    def finish(this: IncomingBody) -> FutureTrailers:
        return FutureTrailers(this.reader)


class IncomingMessage:
    """What an incoming request and an incoming response share: headers and a body taken once."""

    def __init__(self, raw_headers: Any, reader: BodyReader) -> None:
        self.reader = reader
        self.fields = guest_headers(raw_headers)
        self.consumed = False

    def headers(self) -> Fields:
        return Fields.of(self.fields.items)

    def consume(self) -> IncomingBody:
        if self.consumed:
            raise Err()
        self.consumed = True
        return IncomingBody(self.reader)


class FutureTrailers:
    def __init__(self, reader: BodyReader) -> None:
        self.reader = reader
        self.taken = False

    def subscribe(self) -> Pollable:
        return Pollable(check=self._ready, fd=self.reader.wire.fileno())

    def _ready(self) -> bool:
        while self.reader.ready() and not self.reader.done and self.reader.error is None:
            self.reader.buf = b""  # the guest gave the body up: skip to the trailers
        return self.reader.done or self.reader.error is not None

    def get(self) -> Any:
        if not self._ready():
            return None
        if self.taken:
            raise Err()
        self.taken = True
        if self.reader.error is not None:
            return Ok(Err(self.reader.error))
        raw = self.reader.trailers or []
        return guest_headers(raw) if raw else None


# ---- outgoing bodies -----------------------------------------------------------------------------
class Sink(Protocol):
    """Where an outgoing body goes: the server's response or the client's request."""

    def write(self, data: bytes) -> None: ...

    def finish(self, trailers: Fields | None) -> None: ...

    def abandon(self) -> None: ...


class BodyOutput(OutputStream):
    def __init__(self, body: OutgoingBody) -> None:
        self.body = body

    def _write(self, data: bytes) -> None:
        if self.body.finished:
            raise failed("the body was finished", None, "http")
        self.body.sink.write(data)


class OutgoingBody:
    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.stream_taken = False
        self.finished = False

    def write(self) -> OutputStream:
        if self.stream_taken:
            raise Err()
        self.stream_taken = True
        return BodyOutput(self)

    @staticmethod
    def finish(this: OutgoingBody, trailers: Fields | None) -> None:
        this.finished = True
        this.sink.finish(trailers)

    def drop(self) -> None:
        if not self.finished:  # dropped without finish: the message is incomplete (wasmtime aborts it)
            self.finished = True
            self.sink.abandon()


class OutgoingResponse:
    def __init__(self, headers: Fields) -> None:
        self.fields = headers
        self.status = 200
        self.body_obj: OutgoingBody | None = None
        self.sink: Sink | None = None

    def status_code(self) -> int:
        return self.status

    def set_status_code(self, status_code: int) -> None:
        if not 100 <= status_code <= 999:
            raise Err()
        self.status = status_code

    def headers(self) -> Fields:
        return Fields.of(self.fields.items)

    def body(self) -> OutgoingBody:
        if self.body_obj is not None:
            raise Err()
        self.body_obj = OutgoingBody(_Deferred(self))
        return self.body_obj


class _Deferred:
    """A response body written before the response is handed over: kept until ``set``."""

    def __init__(self, response: OutgoingResponse) -> None:
        self.response = response
        self.chunks: list[bytes] = []
        self.finished: tuple[Fields | None] | None = None
        self.abandoned = False

    def _target(self) -> Sink | None:
        return self.response.sink

    def write(self, data: bytes) -> None:
        target = self._target()
        if target is None:
            self.chunks.append(data)
        else:
            target.write(data)

    def finish(self, trailers: Fields | None) -> None:
        target = self._target()
        if target is None:
            self.finished = (trailers,)
        else:
            target.finish(trailers)

    def abandon(self) -> None:
        target = self._target()
        if target is None:
            self.abandoned = True
        else:
            target.abandon()


class RequestOptions:
    def __init__(self) -> None:
        self.timeouts: dict[str, int | None] = {"connect": None, "first-byte": None, "between-bytes": None}

    def connect_timeout(self) -> int | None:
        return self.timeouts["connect"]

    def set_connect_timeout(self, duration: int | None) -> None:
        self.timeouts["connect"] = duration

    def first_byte_timeout(self) -> int | None:
        return self.timeouts["first-byte"]

    def set_first_byte_timeout(self, duration: int | None) -> None:
        self.timeouts["first-byte"] = duration

    def between_bytes_timeout(self) -> int | None:
        return self.timeouts["between-bytes"]

    def set_between_bytes_timeout(self, duration: int | None) -> None:
        self.timeouts["between-bytes"] = duration


def types_interface(resources: dict[str, type]) -> Interface:
    """wasi:http/types, with the server's and the client's resources added (see http_server/client)."""
    return Interface(
        "wasi:http/types",
        resources={
            "fields": Fields,
            "incoming-body": IncomingBody,
            "future-trailers": FutureTrailers,
            "outgoing-response": OutgoingResponse,
            "outgoing-body": OutgoingBody,
            "request-options": RequestOptions,
            **resources,
        },
        funcs={"http-error-code": http_error_code},
    )
