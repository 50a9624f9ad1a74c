"""Serving a ``wasi:http/proxy`` component: HTTP/1.1 connections in, one guest call per request.

As ``wasmtime serve`` does: each connection gets a thread; each request gets a fresh instance (the
``handle`` callback, see run.py); the response head goes out when the guest sets it, and the body
streams as the guest writes it (chunked unless it set a content-length). A trap or a missing
response becomes a 500; trailers go out only to a client that sent ``TE: trailers``.
"""

from __future__ import annotations

import select
import socket
import threading
from collections.abc import Callable
from typing import Any

import h11

from ..sockets import StopSignal
from .cabi import Err
from .context import Stopped
from .http_types import (
    BodyReader,
    Fields,
    IncomingMessage,
    OutgoingResponse,
    _Deferred,
    http_error,
    method_variant,
)
from .http_wire import Wire, WireTimeout

IDLE_TIMEOUT_S = 60.0
"""A keep-alive connection with no new request for this long is closed."""
Respond = Callable[["IncomingRequest", "ResponseOutparam"], None]


class IncomingRequest(IncomingMessage):
    def __init__(self, req: h11.Request, reader: BodyReader) -> None:
        super().__init__(req.headers, reader)
        self.req = req
        host = next((v for n, v in req.headers if n == b"host"), None)
        self.host = host.decode("latin-1") if host is not None else None

    def method(self) -> Any:
        return method_variant(self.req.method.decode("latin-1"))

    def path_with_query(self) -> str | None:
        return self.req.target.decode("latin-1")

    def scheme(self) -> Any:
        return "HTTP"

    def authority(self) -> str | None:
        return self.host


class ResponseOutparam:
    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange

    def send_informational(self, status: int, headers: Fields) -> None:
        raise Err(("internal-error", "informational responses are not supported"))

    @staticmethod
    def set(param: ResponseOutparam, response: Any) -> None:
        param.exchange.respond(response)


class Exchange:
    """One request's response, as the guest produces it (the ``Sink`` of its body)."""

    def __init__(self, wire: Wire, req: h11.Request) -> None:
        self.wire = wire
        self.head = req.method == b"HEAD"
        te = b",".join(v for n, v in req.headers if n == b"te").lower()
        self.trailers_wanted = b"trailers" in te
        self.http10 = req.http_version == b"1.0"
        self.set = False
        self.head_sent = False
        self.finished = False
        self.broken = False
        self.declared: int | None = None
        self.sent = 0
        self.chunked = False
        self.error: str | None = None

    def respond(self, response: Any) -> None:
        self.set = True
        if isinstance(response, Err):
            self.error = f"the guest answered with an error: {response.value!r}"
            self.fail(500, self.error)
            return
        resp: OutgoingResponse = getattr(response, "value", response)
        body = resp.body_obj
        early = body.sink if body is not None and isinstance(body.sink, _Deferred) else None
        headers = [(n.encode(), v) for n, v in resp.fields.items]
        for n, v in headers:
            if n == b"content-length":
                try:
                    self.declared = int(v)
                except ValueError:
                    self.declared = None
        if early is not None and early.finished is not None and self.declared is None and not self.head:
            self.declared = sum(map(len, early.chunks))  # all known already: no need for chunked
            headers.append((b"content-length", str(self.declared).encode()))
        bodyless = self.head or resp.status in (204, 304) or resp.status < 200
        self.chunked = self.declared is None and not self.http10 and not bodyless
        self.wire.send(h11.Response(status_code=resp.status, headers=headers))
        self.head_sent = True
        resp.sink = self
        if early is not None:
            for chunk in early.chunks:
                self.write(chunk)
            early.chunks = []
            if early.finished is not None:
                self.finish(early.finished[0])
            elif early.abandoned:
                self.abandon()

    def write(self, data: bytes) -> None:
        self.sent += len(data)
        if self.declared is not None and self.sent > self.declared:
            self.broken = True
            raise http_error("more body than the content-length", ("HTTP-response-body-size", self.sent))
        if not self.head:
            self.wire.send(h11.Data(data=data))

    def finish(self, trailers: Fields | None) -> None:
        if self.declared is not None and self.sent != self.declared and not self.head:
            self.broken = True
            raise Err(("HTTP-response-body-size", self.sent))
        extra = (
            [(n.encode(), v) for n, v in trailers.items]
            if trailers and self.chunked and self.trailers_wanted
            else []
        )
        self.wire.send(h11.EndOfMessage(headers=extra))
        self.finished = True

    def abandon(self) -> None:
        self.broken = True

    def fail(self, status: int, text: str) -> None:
        """An error response, if the head has not gone out yet; else the connection is cut."""
        if self.head_sent:
            self.broken = True
            return
        body = (text + "\n").encode()
        headers = [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
        ]
        self.wire.send(h11.Response(status_code=status, headers=headers))
        self.head_sent = True
        if not self.head:
            self.wire.send(h11.Data(data=body))
        self.wire.send(h11.EndOfMessage())
        self.finished = True


def serve_connection(
    sock: socket.socket, stop: StopSignal, respond: Respond, report: Callable[[str], None]
) -> None:
    wire = Wire(sock, h11.SERVER, stop)
    try:
        while True:
            try:
                ev = wire.next_event(True, IDLE_TIMEOUT_S)
            except h11.RemoteProtocolError as exc:
                if wire.h11.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                    wire.send(
                        h11.Response(status_code=exc.error_status_hint, headers=[(b"content-length", b"0")])
                    )
                return
            if not isinstance(ev, h11.Request):
                return
            _exchange(wire, ev, respond, report)
            if wire.h11.our_state is not h11.DONE:
                return
            if wire.h11.their_state is h11.SEND_BODY:
                BodyReader(wire, IDLE_TIMEOUT_S).finish()  # the guest did not read it all
            if wire.h11.their_state is not h11.DONE:
                return
            wire.h11.start_next_cycle()
    except (Stopped, WireTimeout, OSError, h11.ProtocolError):
        pass
    finally:
        wire.close()


def _exchange(wire: Wire, req: h11.Request, respond: Respond, report: Callable[[str], None]) -> None:
    exchange = Exchange(wire, req)
    reader = BodyReader(wire, IDLE_TIMEOUT_S)
    what = f"{req.method.decode('latin-1')} {req.target.decode('latin-1')}"
    try:
        respond(IncomingRequest(req, reader), ResponseOutparam(exchange))
    except Stopped:
        raise
    except Exception as exc:  # a trap: its text goes to the log, the client gets a 500
        report(f"{what}: {_first_line(str(exc))}")
        exchange.fail(500, "the guest failed")
        return
    if not exchange.set:
        report(f"{what}: the guest returned without setting a response")
        exchange.fail(500, "the guest did not set a response")
    elif exchange.error is not None:
        report(f"{what}: {exchange.error}")
    elif not exchange.finished and not exchange.broken and exchange.head_sent:
        # set, but its body never asked for (an empty body) or left open by the guest
        exchange.finish(None)


def _first_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    cause = [ln for ln in lines if "trap" in ln or "Caused by" in ln or "panicked" in ln]
    return " | ".join(lines[:1] + cause[-2:])


class ProxyServer:
    """Accepts on ``listener`` until ``stop`` is set; a thread per connection."""

    def __init__(
        self, listener: socket.socket, stop: StopSignal, respond: Respond, report: Callable[[str], None]
    ):
        self.listener = listener
        self.stop = stop
        self.respond = respond
        self.report = report
        self.threads: set[threading.Thread] = set()

    def serve_forever(self) -> None:
        self.listener.setblocking(False)
        try:
            while not self.stop.is_set():
                select.select([self.listener.fileno(), self.stop.fileno()], [], [])
                if self.stop.is_set():
                    break
                try:
                    conn, _ = self.listener.accept()
                except (BlockingIOError, InterruptedError):
                    continue
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                t = threading.Thread(target=self._serve, args=(conn,), name="wasm-http", daemon=True)
                self.threads.add(t)
                t.start()
        finally:
            self.listener.close()
            for t in list(self.threads):
                t.join(2.0)

    def _serve(self, conn: socket.socket) -> None:
        try:
            serve_connection(conn, self.stop, self.respond, self.report)
        finally:
            self.threads.discard(threading.current_thread())
