"""A wasi:http proxy for the tests (componentize-py): echo, streaming, trailers, failures, fetch.

GET /info          -> JSON: method, path, scheme, authority, headers, body length
POST /echo         -> the request body streamed back as it arrives (chunked)
GET /big?n=N       -> N bytes of b"0123456789" repeated, written in 64 KiB chunks
GET /trailers      -> "body", then the trailer x-checksum: abc
GET /length-wrong  -> content-length 10 but 3 bytes written
GET /trap          -> an unhandled exception (a trap)
GET /noresponse    -> returns without setting a response
GET /forbidden     -> tries to set forbidden headers; reports what fields answered
GET /fetch?url=U   -> makes an outgoing GET to U; answers its status, headers and body
GET /env?name=X    -> the environment variable X
GET /counter       -> how many requests this instance has served (1 with an instance per request)
"""

import json
import os
from urllib.parse import parse_qs, urlsplit

from componentize_py_types import Err, Ok
from wit_world import exports
from wit_world.imports import outgoing_handler, streams
from wit_world.imports.types import (
    Fields,
    IncomingRequest,
    Method_Get,
    Method_Other,
    OutgoingBody,
    OutgoingRequest,
    OutgoingResponse,
    ResponseOutparam,
    Scheme_Http,
    Scheme_Https,
)

CHUNK = 64 * 1024
SERVED = 0


def method_name(m) -> str:
    return m.value if isinstance(m, Method_Other) else type(m).__name__.split("_", 1)[1].upper()


def read_all(stream: streams.InputStream) -> bytes:
    out = bytearray()
    while True:
        try:
            out += stream.blocking_read(CHUNK)
        except Err as e:
            if isinstance(e.value, streams.StreamError_Closed):
                return bytes(out)
            raise


def write_all(stream: streams.OutputStream, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = stream.check_write()
        if n == 0:
            stream.subscribe().block()
            continue
        n = min(n, len(view), 4096 * 16)
        stream.write(bytes(view[:n]))
        view = view[n:]
    stream.blocking_flush()


def respond(out: ResponseOutparam, status: int, body: bytes, headers=(), trailers=None) -> None:
    resp = OutgoingResponse(Fields.from_list(list(headers)))
    resp.set_status_code(status)
    ob = resp.body()
    ResponseOutparam.set(out, Ok(resp))
    s = ob.write()
    write_all(s, body)
    s.__exit__(None, None, None)
    OutgoingBody.finish(ob, trailers)


def fetch(url: str) -> tuple[int, list, bytes]:
    parts = urlsplit(url)
    req = OutgoingRequest(Fields())
    req.set_method(Method_Get())
    req.set_scheme(Scheme_Https() if parts.scheme == "https" else Scheme_Http())
    req.set_authority(parts.netloc)
    req.set_path_with_query(parts.path + ("?" + parts.query if parts.query else "") or "/")
    future = outgoing_handler.handle(req, None)
    while True:
        got = future.get()
        if got is not None:
            break
        future.subscribe().block()
    if isinstance(got, Err):
        raise RuntimeError("future taken twice")
    result = got.value
    if isinstance(result, Err):
        return 599, [], repr(result.value).encode()
    resp = result.value
    body = resp.consume()
    data = read_all(body.stream())
    return resp.status(), resp.headers().entries(), data


class IncomingHandler(exports.IncomingHandler):
    def handle(self, request: IncomingRequest, response_out: ResponseOutparam) -> None:
        global SERVED
        SERVED += 1
        path = request.path_with_query() or "/"
        parts = urlsplit(path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        route = parts.path
        if route == "/echo":
            resp = OutgoingResponse(Fields.from_list([("content-type", b"application/octet-stream")]))
            ob = resp.body()
            ResponseOutparam.set(response_out, Ok(resp))
            inb = request.consume()
            src = inb.stream()
            dst = ob.write()
            while True:
                try:
                    data = src.blocking_read(CHUNK)
                except Err:
                    break
                write_all(dst, data)
            dst.__exit__(None, None, None)
            OutgoingBody.finish(ob, None)
        elif route == "/big":
            n = int(query.get("n", "0"))
            resp = OutgoingResponse(Fields())
            ob = resp.body()
            ResponseOutparam.set(response_out, Ok(resp))
            s = ob.write()
            block = b"0123456789" * (CHUNK // 10)
            left = n
            while left > 0:
                piece = block[: min(left, len(block))]
                write_all(s, piece)
                left -= len(piece)
            s.__exit__(None, None, None)
            OutgoingBody.finish(ob, None)
        elif route == "/trailers":
            respond(response_out, 200, b"body", trailers=Fields.from_list([("x-checksum", b"abc")]))
        elif route == "/length-wrong":
            respond(response_out, 200, b"abc", headers=[("content-length", b"10")])
        elif route == "/trap":
            raise RuntimeError("boom from the guest")
        elif route == "/noresponse":
            return
        elif route == "/forbidden":
            answers = {}
            f = Fields()
            for name in ("connection", "host", "transfer-encoding", "x-ok", "bad name"):
                try:
                    f.append(name, b"v")
                    answers[name] = "ok"
                except Err as e:
                    answers[name] = type(e.value).__name__.split("_", 1)[1]
            respond(response_out, 200, json.dumps(answers).encode(), [("content-type", b"application/json")])
        elif route == "/fetch":
            status, headers, body = fetch(query["url"])
            doc = {"status": status, "headers": [[k, v.decode()] for k, v in headers], "body": body.decode()}
            respond(response_out, 200, json.dumps(doc).encode(), [("content-type", b"application/json")])
        elif route == "/counter":
            respond(response_out, 200, str(SERVED).encode())
        elif route == "/env":
            respond(response_out, 200, os.environ.get(query.get("name", ""), "").encode())
        else:
            body = read_all(request.consume().stream())
            doc = {
                "method": method_name(request.method()),
                "path": path,
                "scheme": type(request.scheme()).__name__ if request.scheme() else None,
                "authority": request.authority(),
                "headers": [[k, v.decode()] for k, v in request.headers().entries()],
                "body_length": len(body),
                "body": body.decode(errors="replace")[:200],
            }
            respond(response_out, 200, json.dumps(doc).encode(), [("content-type", b"application/json")])
