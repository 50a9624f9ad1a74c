"""A registry that misbehaves on purpose: enough of the OCI distribution API (``/v2/``, manifests,
blobs, a bearer-token endpoint) over http.server on 127.0.0.1, with one ``mode`` at a time.

It serves the images of OCI layouts (``load``); ``mode`` decides how it answers. Also here:
``cache_problems``, the cache-consistency check both reliability files use after a failed pull.
"""

from __future__ import annotations

import collections
import hashlib
import json
import socket
import threading
import time
from collections.abc import Collection
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from pytest_wasmcontainers.images import ImageCache

MODES = (
    "ok",
    "truncated-blob",  # a close-delimited blob that ends early (clean EOF, fewer bytes)
    "close-mid-body",  # Content-Length says N, the connection closes after N/3
    "wrong-digest-blob",  # right length, other bytes
    "wrong-digest-manifest",  # Docker-Content-Digest does not match the body
    "500-then-ok",  # the first two tries of every manifest and blob get HTTP 500
    "503-always",
    "reset-once",  # the first connection of every manifest and blob is dropped without an answer
    "reset-always",
    "redirect-loop",  # every blob redirects to itself (an alternate URL, then back)
    "401-loop",  # a token is issued, and still every request is 401
    "token-down",  # the token realm is a closed port
    "token-garbage",  # the token endpoint answers HTML
    "404-manifest",
    "html-manifest",  # 200 with a captive-portal page for a manifest
    "slow-loris-blob",  # headers at once, then a byte every 0.5 s
    "slow-loris-manifest",
    "huge-manifest",  # Content-Length 100 MB, and it really sends
    "huge-manifest-chunked",  # 100 MB with no Content-Length (close-delimited)
)
HUGE = 100 << 20


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class MisbehavingRegistry:
    def __init__(self) -> None:
        self.manifests: dict[str, tuple[bytes, str]] = {}
        self.blobs: dict[str, bytes] = {}
        self.mode = "ok"
        self.hits: collections.Counter[str] = collections.Counter()
        self.sent = 0
        """Body bytes written in the current mode (to show a refused body was not sent whole)."""
        self.closed_port = _free_port()
        self._lock = threading.Lock()
        owner = self

        class Handler(_Handler):
            registry = owner

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.host = f"127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def set_mode(self, mode: str) -> None:
        assert mode in MODES, mode
        with self._lock:
            self.mode, self.sent = mode, 0
            self.hits.clear()

    def load(self, layout: Path, tag: str) -> None:
        """Serve every blob of an OCI layout; its single index.json entry under ``tag``."""
        self.manifests.clear()
        self.blobs.clear()
        for blob in (layout / "blobs/sha256").iterdir():
            data = blob.read_bytes()
            digest = f"sha256:{blob.name}"
            self.blobs[digest] = data
            try:
                doc = json.loads(data)
            except ValueError:
                continue
            if isinstance(doc, dict) and ("layers" in doc or "manifests" in doc):
                self.manifests[digest] = (data, str(doc.get("mediaType") or ""))
        top = json.loads((layout / "index.json").read_text())["manifests"][0]
        digest = top["digest"]
        self.manifests[tag] = (self.blobs.get(digest, b""), str(top.get("mediaType") or ""))

    def hit(self, key: str) -> int:
        with self._lock:
            self.hits[key] += 1
            return self.hits[key]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class _Handler(BaseHTTPRequestHandler):
    registry: MisbehavingRegistry
    protocol_version = "HTTP/1.0"  # one request per connection: a dropped one cannot poison a pool

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if "Content-Length" not in (headers or {}):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self._write(body)

    def _write(self, data: bytes) -> None:
        self.wfile.write(data)
        self.wfile.flush()
        with self.registry._lock:
            self.registry.sent += len(data)

    def _auth_challenge(self) -> None:
        realm = f"http://{self.registry.host}/token"
        if self.registry.mode == "token-down":
            realm = f"http://127.0.0.1:{self.registry.closed_port}/token"
        challenge = f'Bearer realm="{realm}",service="misbehaving",scope="repository:test/app:pull"'
        self._send(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}', {"Www-Authenticate": challenge})

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        reg, mode = self.registry, self.registry.mode
        path = self.path.split("?")[0]
        if path == "/token":
            if mode == "token-garbage":
                self._send(200, b"<html>please log in</html>", {"Content-Type": "text/html"})
            else:
                self._send(200, b'{"token": "t0ken"}', {"Content-Type": "application/json"})
            return
        if mode in ("401-loop", "token-down", "token-garbage"):
            self._auth_challenge()
            return
        if path in ("/v2/", "/v2"):
            self._send(200, b"{}", {"Content-Type": "application/json"})
            return
        parts = path.split("/")
        if len(parts) < 5 or parts[-2] not in ("manifests", "blobs"):
            self._send(404, b'{"errors":[{"code":"NAME_UNKNOWN"}]}')
            return
        kind, name = parts[-2], parts[-1]
        n = reg.hit(path)
        if mode == "503-always" or (mode == "500-then-ok" and n <= 2):
            self._send(503 if mode == "503-always" else 500, b"<html>upstream trouble</html>")
            return
        if mode == "reset-always" or (mode == "reset-once" and n == 1):
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if kind == "manifests":
            self._manifest(name, mode)
        else:
            self._blob(name, mode, n)

    def _manifest(self, name: str, mode: str) -> None:
        reg = self.registry
        # any blob by digest too: a broken image's manifests need not parse
        found = reg.manifests.get(name) or ((reg.blobs[name], "") if name in reg.blobs else None)
        if mode == "404-manifest" or found is None:
            self._send(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}')
            return
        body, media_type = found
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        if mode == "wrong-digest-manifest":
            digest = "sha256:" + "0" * 64
        headers = {"Content-Type": media_type, "Docker-Content-Digest": digest}
        if mode == "html-manifest":
            self._send(200, b"<html>captive portal</html>", {"Content-Type": "text/html"})
        elif mode == "slow-loris-manifest":
            self._trickle(body, headers)
        elif mode in ("huge-manifest", "huge-manifest-chunked"):
            if mode == "huge-manifest":
                headers["Content-Length"] = str(HUGE)
            self.send_response(200)
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            chunk = b" " * (1 << 20)
            try:
                for _ in range(HUGE // len(chunk)):
                    self._write(chunk)
            except OSError:
                pass  # the client hung up, as it should
            self.close_connection = True
        else:
            self._send(200, body, headers)

    def _blob(self, digest: str, mode: str, n: int) -> None:
        reg = self.registry
        data = reg.blobs.get(digest)
        if data is None:
            self._send(404, b'{"errors":[{"code":"BLOB_UNKNOWN"}]}')
            return
        if mode == "redirect-loop":
            where = self.path.split("?")[0] + ("?again" if "?again" not in self.path else "")
            self._send(307, b"", {"Location": f"http://{reg.host}{where}"})
        elif mode == "truncated-blob":
            self.send_response(200)
            self.end_headers()  # no Content-Length: the body ends where the connection does
            self._write(data[: len(data) // 2])
            self.close_connection = True
        elif mode == "close-mid-body":
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self._write(data[: len(data) // 3])
            self.close_connection = True
        elif mode == "wrong-digest-blob":
            self._send(200, bytes(b ^ 0x5A for b in data))
        elif mode == "slow-loris-blob":
            self._trickle(data, {})
        else:
            self._send(200, data)

    def _trickle(self, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(200)
        for k, v in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(k, v)
        self.end_headers()
        try:
            for i in range(len(body)):
                self._write(body[i : i + 1])
                time.sleep(0.5)
        except OSError:
            pass  # the client gave up, as it should
        self.close_connection = True


def cache_problems(cache: ImageCache, good_images: Collection[str] = ()) -> list[str]:
    """What a failed pull left behind in ``cache``: partial images, tmp files, blobs that do not
    hash to their names, images that were not there before (``good_images``: names allowed)."""
    problems = []
    tmp = sorted(p.name for p in (cache.root / "tmp").iterdir())
    if tmp:
        problems.append(f"stray tmp entries {tmp}")
    for image in (cache.root / "images").iterdir():
        if not (image / "image.json").is_file():
            problems.append(f"partial image dir {image.name}")
        elif image.name not in good_images:
            problems.append(f"image {image.name} published from a bad pull")
    for blob in (cache.root / "blobs/sha256").glob("*") if (cache.root / "blobs/sha256").is_dir() else []:
        if hashlib.sha256(blob.read_bytes()).hexdigest() != blob.name:
            problems.append(f"blob {blob.name} does not match its digest")
    return problems
