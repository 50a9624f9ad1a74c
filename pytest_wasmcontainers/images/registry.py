"""HTTP to an OCI registry through oras-py's Registry (session, bearer tokens, basic auth).

We call oras' ``do_request`` without its retry decorator: that decorator sleeps 3..83 s between
five attempts on any error, which turns "registry is down" or "wrong password" into minutes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import oras.auth
import oras.auth.utils
import oras.provider
import requests

from ..errors import ImageNotFoundError, RegistryAuthError, RegistryError
from .auth import Credentials, find_credentials, how_to_authenticate
from .reference import Reference

CHUNK = 1 << 20
TIMEOUT = (10.0, 120.0)

_do_request = oras.provider.Registry.do_request.__wrapped__


class _Session(requests.Session):
    """A session with a default timeout, so a silent server cannot hang a test run."""

    def request(self, method: Any, url: Any, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", TIMEOUT)
        return super().request(method, url, *args, **kwargs)


def network_cause(err: BaseException) -> str:
    """A requests error in a few words ("connection refused"), not the reprs of the three urllib3
    exceptions it wraps; the whole chain stays on the error raised ``from`` it."""
    if isinstance(err, requests.ConnectTimeout):
        return f"no connection within {TIMEOUT[0]:g} s"
    if isinstance(err, requests.ReadTimeout):
        return f"no answer within {TIMEOUT[1]:g} s"
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
        return RegistryError(
            f"cannot reach registry {self.ref.registry} at {self.ref.base_url}: {network_cause(err)}. {hint}"
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
            r = self._oras.session.get(f"{self.ref.base_url}/v2/")
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
        try:
            r: requests.Response = _do_request(
                self._oras, url, method, data=data, headers=dict(headers or {}), stream=stream
            )
            auth = self._oras.auth
            if r.status_code == 401 and isinstance(auth, oras.auth.TokenAuth) and auth.token:
                # oras keeps reusing its first token; a new scope (push after pull) needs a new one.
                auth.token = None
                r = _do_request(
                    self._oras, url, method, data=data, headers=dict(headers or {}), stream=stream
                )
        except requests.RequestException as err:
            raise self._unreachable(err) from err
        except ValueError as err:  # oras: "Cannot respond to request for authentication."
            raise self._auth_error(401) from err
        if r.status_code in (401, 403):
            raise self._auth_error(r.status_code)
        return r

    def _check(self, r: requests.Response, what: str) -> None:
        if r.status_code == 404:
            raise ImageNotFoundError(
                f"registry {self.ref.registry} has no {what} in repository {self.ref.repository} "
                f"(HTTP 404): check the image name and tag"
            )
        if r.status_code >= 400:
            raise RegistryError(
                f"registry {self.ref.registry} answered HTTP {r.status_code} for {what}: {r.text[:300]}"
            )

    # --- pulling --------------------------------------------------------------------------------
    def get_manifest(self, ref: str) -> tuple[bytes, str, str | None]:
        """Return (body, media type, Docker-Content-Digest header)."""
        from .mediatypes import ACCEPT

        r = self.request("GET", f"manifests/{ref}", headers={"Accept": ACCEPT})
        self._check(r, f"manifest {ref}")
        media_type = r.headers.get("Content-Type", "").split(";")[0].strip()
        return r.content, media_type, r.headers.get("Docker-Content-Digest")

    def blob_chunks(self, digest: str) -> Iterator[bytes]:
        r = self.request("GET", f"blobs/{digest}", stream=True)
        with r:
            self._check(r, f"blob {digest}")
            try:
                yield from r.iter_content(CHUNK)
            except requests.RequestException as err:
                raise self._unreachable(err) from err

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
