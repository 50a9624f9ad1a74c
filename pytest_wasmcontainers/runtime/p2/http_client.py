"""``wasi:http/outgoing-handler``: the guest's own HTTP requests.

The authority goes through the container's name table like a p1 guest's connect does: a name from
``links``/``hosts`` reaches its service, ``localhost`` reaches this container's own mapped ports.
One connection per request, as wasmtime's default client does. The connect happens in ``handle``;
the head goes out once the body is known to be complete or the guest starts streaming it.
"""

from __future__ import annotations

import socket
import ssl
import time
from typing import Any

import h11

from .. import network
from ..faults import outbound_keys
from .cabi import Err, Ok
from .context import current
from .http_types import (
    BodyReader,
    Fields,
    IncomingMessage,
    OutgoingBody,
    RequestOptions,
    http_error,
    method_name,
)
from .http_wire import Wire, WireTimeout
from .io import Pollable

DEFAULT_TIMEOUT_S = 600.0
"""wasmtime's default connect / first-byte / between-bytes timeouts."""


class OutgoingRequest:
    def __init__(self, headers: Fields) -> None:
        self.fields = headers
        self.method_v: Any = "get"
        self.path: str | None = None
        self.scheme_v: Any = None
        self.authority_v: str | None = None
        self.body_obj: OutgoingBody | None = None
        self.pending = _Pending()

    def body(self) -> OutgoingBody:
        if self.body_obj is not None:
            raise Err()
        self.body_obj = OutgoingBody(self.pending)
        return self.body_obj

    def method(self) -> Any:
        return self.method_v

    def set_method(self, method: Any) -> None:
        name = method_name(method)
        if not name or not name.isascii() or any(c in name for c in ' \t\r\n()<>@,;:\\"/[]?={}'):
            raise Err()
        self.method_v = method

    def path_with_query(self) -> str | None:
        return self.path

    def set_path_with_query(self, path_with_query: str | None) -> None:
        if path_with_query is not None and any(c in path_with_query for c in " \r\n"):
            raise Err()
        self.path = path_with_query

    def scheme(self) -> Any:
        return self.scheme_v

    def set_scheme(self, scheme: Any) -> None:
        self.scheme_v = scheme

    def authority(self) -> str | None:
        return self.authority_v

    def set_authority(self, authority: str | None) -> None:
        if authority is not None and any(c in authority for c in " /\r\n?#@"):
            raise Err()
        self.authority_v = authority

    def headers(self) -> Fields:
        return Fields.of(self.fields.items)


class _Pending:
    """The request body: held until the exchange exists and its head can go out."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.finished = False
        self.trailers: Fields | None = None
        self.target: ClientExchange | None = None

    def write(self, data: bytes) -> None:
        if self.target is not None:
            self.target.write(data)
        else:
            self.chunks.append(data)

    def finish(self, trailers: Fields | None) -> None:
        if self.target is not None:
            self.target.finish(trailers)
        else:
            self.finished, self.trailers = True, trailers

    def abandon(self) -> None:
        if self.target is not None:
            self.target.error = self.target.error or "HTTP-request-body-size"
            self.target.wire_close()


class ClientExchange:
    def __init__(self, request: OutgoingRequest, options: RequestOptions | None) -> None:
        self.request = request
        self.error: Any = None
        self.wire: Wire | None = None
        self.head_sent = False
        self.done_sending = False
        self.response: h11.Response | None = None
        self.taken = False
        ns = options.timeouts if options is not None else {}
        self.timeouts = {k: (v / 1e9 if v is not None else DEFAULT_TIMEOUT_S) for k, v in ns.items()}
        self.first_byte_deadline: float | None = None

    def t(self, which: str) -> float:
        return self.timeouts.get(which, DEFAULT_TIMEOUT_S)

    def connect(self, host: str, port: int, tls: bool) -> None:
        ctx = current()
        try:
            ips = ctx.names.lookup(host)
        except (socket.gaierror, UnicodeError):
            self.error = ("DNS-error", {"rcode": "address not available", "info-code": 0})
            return
        if not ips:
            self.error = ("DNS-error", {"rcode": "address not available", "info-code": 0})
            return
        real_host, real_port = network.route(ctx.names, ctx.ports, ips[0], port)
        faults = ctx.faults
        if faults is not None and faults.active:
            keys = outbound_keys(host, port, real_host, real_port)
            if faults.refuses(keys):
                self.error = "connection-refused"
                return
            rule = faults.match_any(keys)
            if rule is not None and rule.latency and ctx.stop.wait(rule.delay(0)):
                ctx.check_stop()  # a request is held once, at its connect (faults.py)
        try:
            sock = socket.create_connection((real_host, real_port), timeout=min(self.t("connect"), 30.0))
        except ConnectionRefusedError:
            self.error = "connection-refused"
            return
        except TimeoutError:
            self.error = "connection-timeout"
            return
        except OSError:
            self.error = "destination-unavailable"
            return
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls:
            try:
                sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
            except (ssl.SSLError, OSError):
                sock.close()
                self.error = "TLS-protocol-error"
                return
        self.wire = Wire(sock, h11.CLIENT, ctx.stop)

    def send_head(self, framing: list[tuple[bytes, bytes]]) -> None:
        r = self.request
        assert self.wire is not None
        headers = [(b"host", (r.authority_v or "").encode())]
        headers += [(n.encode(), v) for n, v in r.fields.items]
        have_length = any(n == b"content-length" for n, _ in headers)
        headers += [] if have_length else framing
        target = (r.path or "/").encode()
        self.wire.send(h11.Request(method=method_name(r.method_v).encode(), target=target, headers=headers))
        self.head_sent = True
        self.first_byte_deadline = time.monotonic() + self.t("first-byte")

    def start(self) -> None:
        """Send what can be sent now; called by ``handle`` and when the guest waits."""
        p = self.request.pending
        if self.wire is None or self.head_sent or self.error is not None:
            return
        if p.finished or self.request.body_obj is None:
            size = sum(map(len, p.chunks))
            framing = [(b"content-length", str(size).encode())] if self.request.body_obj is not None else []
            self._guard(lambda: self.send_head(framing))
            for c in p.chunks:
                self.write(c)
            p.chunks = []
            self.finish(p.trailers)
        else:
            self._guard(lambda: self.send_head([(b"transfer-encoding", b"chunked")]))
            for c in p.chunks:
                self.write(c)
            p.chunks = []
        p.target = self

    def _guard(self, action: Any) -> None:
        try:
            action()
        except (OSError, h11.LocalProtocolError, WireTimeout):
            self.error = "connection-terminated"

    def write(self, data: bytes) -> None:
        if self.error is not None or self.wire is None:
            raise http_error(f"the request failed: {self.error}", self.error)
        if not self.head_sent:
            self.request.pending.chunks.append(data)
            self.start()
            return
        try:
            self.wire.send(h11.Data(data=data), self.t("between-bytes"))
        except (OSError, WireTimeout, h11.LocalProtocolError) as exc:
            self.error = (
                "HTTP-request-body-size"
                if isinstance(exc, h11.LocalProtocolError)
                else "connection-terminated"
            )
            raise http_error(f"the request body could not be sent: {exc}", self.error) from None

    def finish(self, trailers: Fields | None) -> None:
        if self.wire is None or self.error is not None or self.done_sending:
            return
        extra = [(n.encode(), v) for n, v in trailers.items] if trailers is not None else []
        try:
            self.wire.send(h11.EndOfMessage(headers=extra))
        except h11.LocalProtocolError:
            self.error = "HTTP-request-body-size"
            raise Err(("HTTP-request-body-size", None)) from None
        except (OSError, WireTimeout):
            self.error = "connection-terminated"
        self.done_sending = True

    def wire_close(self) -> None:
        if self.wire is not None:
            self.wire.close()

    def ready(self) -> bool:
        self.start()
        if self.error is not None or self.response is not None or self.wire is None:
            return True
        try:
            ev = self.wire.next_event(False)
        except (h11.RemoteProtocolError, OSError):
            self.error = "HTTP-protocol-error"
            return True
        if isinstance(ev, h11.Response):
            self.response = ev
        elif isinstance(ev, h11.InformationalResponse):
            return self.ready()
        elif ev is not None:  # closed before a response
            self.error = "HTTP-response-incomplete"
        elif self.first_byte_deadline is not None and time.monotonic() > self.first_byte_deadline:
            self.error = "connection-read-timeout"
        return self.error is not None or self.response is not None


class FutureIncomingResponse:
    def __init__(self, exchange: ClientExchange) -> None:
        self.exchange = exchange

    def subscribe(self) -> Pollable:
        wire = self.exchange.wire
        deadline = self.exchange.first_byte_deadline
        return Pollable(
            check=self.exchange.ready,
            fd=wire.fileno() if wire is not None and not wire.closed else None,
            deadline=int(deadline * 1e9) if deadline is not None else None,
        )

    def get(self) -> Any:
        ex = self.exchange
        if not ex.ready():
            return None
        if ex.taken:
            raise Err()
        ex.taken = True
        if ex.error is not None:
            ex.wire_close()
            return Ok(Err(ex.error))  # option<result<result<response, error-code>>>: the inner error
        assert ex.response is not None and ex.wire is not None
        return IncomingResponse(ex.response, BodyReader(ex.wire, ex.t("between-bytes")))

    def drop(self) -> None:
        if not self.exchange.taken:
            self.exchange.wire_close()


class IncomingResponse(IncomingMessage):
    def __init__(self, resp: h11.Response, reader: BodyReader) -> None:
        super().__init__(resp.headers, reader)
        self.resp = resp
        reader.on_done.append(reader.wire.close)

    def status(self) -> int:
        return int(self.resp.status_code)

    def drop(self) -> None:
        if not self.consumed:
            self.reader.wire.close()


def _split_authority(authority: str, default_port: int) -> tuple[str, int]:
    if authority.startswith("["):
        host, _, rest = authority[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else default_port
    host, sep, port = authority.rpartition(":")
    if sep and port.isdigit():
        return host, int(port)
    return authority, default_port


def handle(request: OutgoingRequest, options: RequestOptions | None) -> FutureIncomingResponse:
    scheme = request.scheme_v or "HTTP"
    case = scheme if isinstance(scheme, str) else scheme[0]
    if case not in ("HTTP", "HTTPS"):
        raise Err("HTTP-protocol-error")
    if not request.authority_v:
        raise Err("HTTP-request-URI-invalid")
    tls = case == "HTTPS"
    try:
        host, port = _split_authority(request.authority_v, 443 if tls else 80)
    except ValueError:
        raise Err("HTTP-request-URI-invalid") from None
    exchange = ClientExchange(request, options)
    exchange.connect(host, port, tls)
    exchange.start()
    return FutureIncomingResponse(exchange)
