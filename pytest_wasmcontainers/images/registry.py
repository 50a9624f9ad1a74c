"""HTTP to an OCI registry through oras-py's Registry (session, bearer tokens, basic auth).

We call oras' ``do_request`` without its retry decorator: that decorator sleeps 3..83 s between
five attempts on any error, which turns "registry is down" or "wrong password" into minutes. Our
own retry is small and bounded: GET/HEAD only, on 5xx answers and dropped connections.

Bodies are read with limits, so a broken or hostile registry cannot hang or flood a test run: a
manifest must be at most ``MAX_MANIFEST`` bytes and arrive within the read timeout; a blob must keep
delivering at least ``LOW_SPEED`` bytes per read-timeout window (a slow-loris server fails).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import oras.auth
import oras.auth.utils
import oras.provider
import requests
import urllib3.exceptions

from ..errors import ImageNotFoundError, RegistryAuthError, RegistryError
from .auth import Credentials, find_credentials, how_to_authenticate
from .reference import Reference

CHUNK = 1 << 20
READ = 64 << 10
TIMEOUT = (10.0, 120.0)
"""Connect and read timeouts (s); ``WASMCONTAINERS_REGISTRY_TIMEOUT`` sets the read one (and caps connect)."""
TIMEOUT_ENV = "WASMCONTAINERS_REGISTRY_TIMEOUT"
MAX_MANIFEST = 4 << 20
"""containerd's limit: a manifest or index bigger than this is refused before it is read whole."""
LOW_SPEED = 64 << 10
"""A blob slower than this many bytes per read-timeout window is abandoned (curl's --speed-limit)."""
RETRIES = 3
"""Attempts for a GET/HEAD that got a 5xx or lost its connection (backoff 0.25 s, 0.5 s, ...)."""
BACKOFF = 0.25
MAX_REDIRECTS = 10


def timeouts() -> tuple[float, float]:
    raw = os.environ.get(TIMEOUT_ENV, "").strip()
    try:
        read = float(raw) if raw else TIMEOUT[1]
    except ValueError:
        read = TIMEOUT[1]
    if read <= 0:
        read = TIMEOUT[1]
    return min(TIMEOUT[0], read), read


_do_request = oras.provider.Registry.do_request.__wrapped__


class _Session(requests.Session):
    """A session with a default timeout, so a silent server cannot hang a test run."""

    def __init__(self) -> None:
        super().__init__()
        self.max_redirects = MAX_REDIRECTS

    def request(self, method: Any, url: Any, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", timeouts())
        return super().request(method, url, *args, **kwargs)


class _Retry(Exception):
    """A 5xx answer worth another try (carried out of the request so the loop can back off)."""

    def __init__(self, response: requests.Response) -> None:
        self.response = response


def network_cause(err: BaseException) -> str:
    """A requests error in a few words ("connection refused"), not the reprs of the three urllib3
    exceptions it wraps; the whole chain stays on the error raised ``from`` it."""
    if isinstance(err, requests.ConnectTimeout):
        return f"no connection within {timeouts()[0]:g} s"
    if isinstance(err, (requests.ReadTimeout, urllib3.exceptions.ReadTimeoutError)):
        return f"no answer within {timeouts()[1]:g} s (timeout; {TIMEOUT_ENV} sets it)"
    if isinstance(err, requests.TooManyRedirects):
        return f"more than {MAX_REDIRECTS} redirects (a redirect loop)"
    root, seen = err, {id(err)}
    while True:
        # requests wraps urllib3's MaxRetryError (in args), whose .reason wraps the socket's OSError.
        inner = [getattr(root, "reason", None), root.__cause__, *root.args, root.__context__]
        nxt = next((e for e in inner if isinstance(e, BaseException) and id(e) not in seen), None)
        if nxt is None:
            break
        root = nxt
        seen.add(id(root))
    text = str(getattr(root, "strerror", None) or root).strip()
    text = text.splitlines()[0][:200] if text else type(root).__name__
    # "Connection refused" -> "connection refused", mid-sentence; "SSL: ..." stays as it is.
    return text[0].lower() + text[1:] if text[1:2].islower() else text


class RegistryClient:
    def __init__(self, ref: Reference, credentials: Credentials | None = None) -> None:
        self.ref = ref
        self.creds = credentials if credentials is not None else find_credentials(ref.registry)
        self._oras = oras.provider.Registry(hostname=ref.api_host, insecure=ref.plain_http)
        self._use_session(_Session())
        self._pinged = False

    def _use_session(self, session: requests.Session) -> None:
        self._oras.session = session
        self._oras.auth.session = session

    # --- errors ---------------------------------------------------------------------------------
    def _unreachable(self, err: Exception) -> RegistryError:
        hint = (
            "Is it running and listening there?"
            if self.ref.plain_http
            else "If it serves plain HTTP, mark it insecure (--wasm-insecure-registry or "
            "WASMCONTAINERS_INSECURE_REGISTRIES)."
        )
        url = str(getattr(getattr(err, "request", None), "url", "") or "")
        if isinstance(err, requests.TooManyRedirects):
            return RegistryError(
                f"registry {self.ref.registry} redirected {url.split('?')[0]} more than {MAX_REDIRECTS} "
                "times (a redirect loop): the registry or a proxy in front of it is misconfigured"
            )
        if url and not url.startswith(self.ref.base_url + "/"):
            # Not the registry itself: its token server, or where it redirected us.
            return RegistryError(
                f"registry {self.ref.registry} sent us to {url.split('?')[0]}, which failed: "
                f"{network_cause(err)}. Is that server up and reachable from here?"
            )
        return RegistryError(
            f"cannot reach registry {self.ref.registry} at {self.ref.base_url}: {network_cause(err)}. {hint}"
        )

    def _broken_body(self, what: str, n: int, err: BaseException) -> RegistryError:
        return RegistryError(
            f"registry {self.ref.registry} broke off {what} after {n} bytes: {network_cause(err)}. "
            "Pull again; if it keeps happening, the registry (or a proxy in front of it) is failing."
        )

    def _auth_error(self, status: int | str) -> RegistryAuthError:
        used = f" The credentials from {self.creds.source} were rejected." if self.creds else ""
        return RegistryAuthError(
            f"registry {self.ref.registry} refused access to {self.ref.repository} (HTTP {status}).{used} "
            + how_to_authenticate(self.ref.registry)
        )

    # --- requests -------------------------------------------------------------------------------
    def _ping(self) -> None:
        """Learn the auth scheme once (Basic needs no token dance; Bearer goes through oras)."""
        self._pinged = True
        try:
            r = self._retrying("GET", lambda: self._oras.session.get(f"{self.ref.base_url}/v2/"))
        except requests.RequestException as err:
            raise self._unreachable(err) from err
        if r.status_code not in (401, 403):
            if self.creds:
                self._oras.auth.set_basic_auth(self.creds.username, self.creds.password)
            return
        scheme = r.headers.get("Www-Authenticate", "").split(" ", 1)[0].lower()
        if scheme == "basic":
            if not self.creds:
                raise self._auth_error(r.status_code)
            self._oras.auth = oras.auth.get_auth_backend(
                "basic", self._oras.session, self.ref.plain_http, tls_verify=True
            )
            self._oras.auth.set_basic_auth(self.creds.username, self.creds.password)
            # Send it up front: saves a 401 round trip on every request.
            basic = oras.auth.utils.get_basic_auth(self.creds.username, self.creds.password)
            self._oras.session.headers["Authorization"] = f"Basic {basic}"
        elif self.creds:
            self._oras.auth.set_basic_auth(self.creds.username, self.creds.password)

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        data: bytes | None = None,
        stream: bool = False,
    ) -> requests.Response:
        if not self._pinged:
            self._ping()
        url = path if path.startswith("http") else f"{self.ref.base_url}/v2/{self.ref.repository}/{path}"

        def once() -> requests.Response:
            r: requests.Response = _do_request(
                self._oras, url, method, data=data, headers=dict(headers or {}), stream=stream
            )
            auth = self._oras.auth
            if r.status_code == 401 and isinstance(auth, oras.auth.TokenAuth) and auth.token:
                # oras keeps reusing its first token; a new scope (push after pull) needs a new one.
                auth.token = None
                r.close()
                r = _do_request(
                    self._oras, url, method, data=data, headers=dict(headers or {}), stream=stream
                )
            return r

        try:
            r = self._retrying(method, once)
        except requests.JSONDecodeError as err:  # oras parses the token server's answer
            raise RegistryAuthError(
                f"the token server of registry {self.ref.registry} answered with something that is not "
                f"a token ({err}); check the registry's auth setup"
            ) from err
        except requests.RequestException as err:
            raise self._unreachable(err) from err
        except (ValueError, AttributeError, TypeError) as err:
            # oras: "Cannot respond to request for authentication.", or a token answer of the wrong shape
            raise self._auth_error(401) from err
        if r.status_code in (401, 403):
            raise self._auth_error(r.status_code)
        return r

    @staticmethod
    def _retrying(method: str, send: Any) -> requests.Response:
        """``send()``, again after a short backoff on a 5xx or a lost connection (GET/HEAD only: they
        are safe to repeat); the last answer or error stands."""
        attempts = RETRIES if method in ("GET", "HEAD") else 1
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                r: requests.Response = send()
            except requests.ConnectTimeout:
                raise  # a silent host (firewall drop): three tries would triple a long wait
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
                if last:
                    raise
            else:
                if r.status_code < 500 or last:
                    return r
                r.close()
            time.sleep(BACKOFF * 2**attempt)
        raise AssertionError("unreachable")

    def _check(self, r: requests.Response, what: str) -> None:
        if r.status_code == 404:
            raise ImageNotFoundError(
                f"registry {self.ref.registry} has no {what} in repository {self.ref.repository} "
                f"(HTTP 404): check the image name and tag"
            )
        if r.status_code >= 400:
            text = next(r.iter_content(300), b"")  # the start only: an error page may be huge
            retried = f" (after {RETRIES} tries)" if r.status_code >= 500 else ""
            raise RegistryError(
                f"registry {self.ref.registry} answered HTTP {r.status_code} for {what}{retried}: "
                f"{text.decode(errors='replace').strip()[:300]}"
            )

    # --- pulling --------------------------------------------------------------------------------
    def get_manifest(self, ref: str) -> tuple[bytes, str, str | None]:
        """Return (body, media type, Docker-Content-Digest header)."""
        from .mediatypes import ACCEPT

        what = f"manifest {ref}"
        r = self.request("GET", f"manifests/{ref}", headers={"Accept": ACCEPT}, stream=True)
        with r:
            self._check(r, what)
            declared = r.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > MAX_MANIFEST:
                raise self._too_big(what, f"declares {int(declared)} bytes")
            # The whole manifest within one read timeout: it is small, so slowness means trouble.
            deadline = time.monotonic() + timeouts()[1]
            body = bytearray()
            for chunk in self._body(r, what):
                body += chunk
                if len(body) > MAX_MANIFEST:
                    raise self._too_big(what, f"sent more than {MAX_MANIFEST} bytes")
                if time.monotonic() > deadline:
                    raise self._slow(what, len(body), f"not complete within {timeouts()[1]:g} s")
        media_type = r.headers.get("Content-Type", "").split(";")[0].strip()
        return bytes(body), media_type, r.headers.get("Docker-Content-Digest")

    def blob_chunks(self, digest: str) -> Iterator[bytes]:
        what = f"blob {digest}"
        r = self.request("GET", f"blobs/{digest}", stream=True)
        with r:
            self._check(r, what)
            window = timeouts()[1]
            start, got, total = time.monotonic(), 0, 0
            for chunk in self._body(r, what):
                total += len(chunk)
                got += len(chunk)
                now = time.monotonic()
                if now - start > window:
                    if got < LOW_SPEED:
                        raise self._slow(what, total, f"{got} bytes in the last {now - start:.0f} s")
                    start, got = now, 0
                yield chunk

    def _body(self, r: requests.Response, what: str) -> Iterator[bytes]:
        """The body as it arrives, one socket read at a time (so the callers' clocks keep running)."""
        raw = r.raw
        read = getattr(raw, "read1", None) or raw.read  # read1: urllib3 >= 2.3
        n = 0
        while True:
            try:
                chunk = read(READ, decode_content=True)
            except (urllib3.exceptions.HTTPError, requests.RequestException, OSError) as err:
                raise self._broken_body(what, n, err) from err
            if not chunk:
                return
            n += len(chunk)
            yield chunk

    def _too_big(self, what: str, how: str) -> RegistryError:
        return RegistryError(
            f"registry {self.ref.registry}: {what} {how}, over the {MAX_MANIFEST >> 20} MiB limit for "
            "manifests (containerd's); the registry is misbehaving or this is not an image manifest"
        )

    def _slow(self, what: str, n: int, how: str) -> RegistryError:
        return RegistryError(
            f"registry {self.ref.registry} is too slow sending {what} ({n} bytes so far, {how}): timeout. "
            f"If the registry is just slow, give it longer with {TIMEOUT_ENV}=SECONDS."
        )

    # --- pushing --------------------------------------------------------------------------------
    def has_blob(self, digest: str) -> bool:
        return self.request("HEAD", f"blobs/{digest}").status_code == 200

    def put_blob(self, digest: str, data: bytes) -> None:
        if self.has_blob(digest):
            return
        r = self.request("POST", "blobs/uploads/", headers={"Content-Length": "0"})
        self._check(r, "blob upload session")
        location = r.headers.get("Location", "")
        if not location.startswith("http"):
            location = self.ref.base_url + location
        sep = "&" if "?" in location else "?"
        r = self.request(
            "PUT",
            f"{location}{sep}digest={digest}",
            data=data,
            headers={"Content-Type": "application/octet-stream", "Content-Length": str(len(data))},
        )
        self._check(r, f"blob upload {digest}")

    def put_manifest(self, ref: str, body: bytes, media_type: str) -> None:
        r = self.request("PUT", f"manifests/{ref}", data=body, headers={"Content-Type": media_type})
        self._check(r, f"manifest upload {ref}")
