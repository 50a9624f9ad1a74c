"""Image references, parsed the way Docker parses them, plus the plain-HTTP decision."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import ImageReferenceError

DOCKER_HUB = "docker.io"
INSECURE_ENV = "WASMCONTAINERS_INSECURE_REGISTRIES"

_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_TAG = re.compile(r"[\w][\w.-]{0,127}")
_DIGEST = re.compile(r"(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})")
_HOST = re.compile(r"(\[[0-9a-fA-F:.]+\]|[a-zA-Z0-9](?:[a-zA-Z0-9.-]*[a-zA-Z0-9])?)(?::[0-9]+)?")


@dataclass(frozen=True)
class Reference:
    registry: str
    """Registry as written, normalized (``docker.io``, ``localhost:5000``, ``[::1]:5000``)."""
    repository: str
    """Path inside the registry, e.g. ``library/hello`` or ``org/app``."""
    tag: str | None
    digest: str | None
    plain_http: bool
    """True when the registry is spoken to over http:// instead of https://."""

    @property
    def api_host(self) -> str:
        """Host[:port] to send HTTP requests to (Docker Hub's API lives on another name)."""
        return "registry-1.docker.io" if self.registry == DOCKER_HUB else self.registry

    @property
    def base_url(self) -> str:
        return f"{'http' if self.plain_http else 'https'}://{self.api_host}"

    @property
    def manifest_ref(self) -> str:
        """What goes after ``/manifests/``: the digest when pinned, else the tag."""
        return self.digest or self.tag or "latest"

    def __str__(self) -> str:
        out = f"{self.registry}/{self.repository}"
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out


def registry_host(registry: str) -> str:
    """The host part of ``host[:port]``, without IPv6 brackets."""
    if registry.startswith("["):
        return registry[1 : registry.index("]")]
    return registry.rsplit(":", 1)[0] if ":" in registry else registry


def is_loopback(registry: str) -> bool:
    host = registry_host(registry)
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def insecure_registries(extra: Iterable[str] = ()) -> set[str]:
    env = os.environ.get(INSECURE_ENV, "")
    return {h.strip() for h in [*extra, *env.split(",")] if h.strip()}


def uses_plain_http(registry: str, insecure: Iterable[str] = ()) -> bool:
    """Docker's rule: loopback registries speak HTTP; others HTTPS unless marked insecure."""
    marked = insecure_registries(insecure)
    return is_loopback(registry) or registry in marked or registry_host(registry) in marked


def _bad(s: str, why: str) -> ImageReferenceError:
    return ImageReferenceError(
        f"invalid image reference {s!r}: {why}. Expected [host[:port]/]path/name[:tag][@sha256:<64 hex>], "
        "e.g. ghcr.io/org/app:1.0 or localhost:5000/app@sha256:..."
    )


def parse_reference(s: str, insecure: Iterable[str] = ()) -> Reference:
    """Parse ``name``, ``name:tag``, ``name@digest``, ``host[:port]/path/name[:tag][@digest]``."""
    text = s.strip()
    if text.startswith("docker://"):
        text = text[len("docker://") :]
    if not text:
        raise _bad(s, "it is empty")
    digest = None
    if "@" in text:
        text, digest = text.split("@", 1)
        if not _DIGEST.fullmatch(digest):
            raise _bad(s, f"digest {digest!r} is not sha256:<64 lowercase hex>")
    tag = None
    last_slash = text.rfind("/")
    colon = text.rfind(":")
    if colon > last_slash:
        text, tag = text[:colon], text[colon + 1 :]
        if not _TAG.fullmatch(tag):
            raise _bad(s, f"tag {tag!r} has characters a tag cannot have (letters, digits, _ . - only)")
    first, _, rest = text.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost" or first.startswith("[")):
        if not _HOST.fullmatch(first):
            raise _bad(s, f"registry host {first!r} is not a valid host[:port]")
        registry, path = first, rest
    else:
        registry, path = DOCKER_HUB, text
    if registry in ("index.docker.io", "registry-1.docker.io"):
        registry = DOCKER_HUB
    if registry == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    for part in path.split("/"):
        if not _COMPONENT.fullmatch(part):
            why = "repository names must be lowercase" if part.lower() != part else "bad path component"
            raise _bad(s, f"{why}: {part!r}")
    if tag is None and digest is None:
        tag = "latest"
    return Reference(registry, path, tag, digest, uses_plain_http(registry, insecure))
