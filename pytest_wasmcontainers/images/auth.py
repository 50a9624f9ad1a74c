"""Where registry credentials come from: environment variables, then Docker's config file.

Docker's ``config.json`` (``$DOCKER_CONFIG/config.json`` or ``~/.docker/config.json``): ``auths``
with base64 ``auth`` (or ``username``/``password``), ``credHelpers`` and ``credsStore`` through
``docker-credential-<name> get`` when that program is on PATH.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .reference import DOCKER_HUB

USER_ENV = "WASMCONTAINERS_REGISTRY_USERNAME"
PASSWORD_ENV = "WASMCONTAINERS_REGISTRY_PASSWORD"
HOST_ENV = "WASMCONTAINERS_REGISTRY_HOST"


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str
    source: str
    """Where they came from, for error messages (never the secret itself)."""


def how_to_authenticate(registry: str) -> str:
    return (
        f"Give credentials for {registry} with `docker login {registry}` (stored in "
        "~/.docker/config.json, or $DOCKER_CONFIG/config.json: `auths`, `credHelpers`, `credsStore`), "
        f"or set {USER_ENV} and {PASSWORD_ENV} (optionally {HOST_ENV}={registry} to use them for "
        "that registry only)."
    )


def docker_config_path() -> Path:
    base = os.environ.get("DOCKER_CONFIG")
    return (Path(base) if base else Path.home() / ".docker") / "config.json"


def _config_keys(registry: str) -> list[str]:
    names = [registry]
    if registry == DOCKER_HUB:
        names += ["https://index.docker.io/v1/", "index.docker.io", "registry-1.docker.io"]
    if registry.startswith("localhost"):
        names.append(registry.replace("localhost", "127.0.0.1", 1))
    elif registry.startswith("127.0.0.1"):
        names.append(registry.replace("127.0.0.1", "localhost", 1))
    out = []
    for n in names:
        out += [n, f"https://{n}", f"http://{n}"]
    return out


def _from_helper(helper: str, key: str) -> Credentials | None:
    prog = f"docker-credential-{helper}"
    try:
        proc = subprocess.run([prog, "get"], input=key.encode(), capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    try:
        payload = json.loads(proc.stdout)
        return Credentials(payload["Username"], payload["Secret"], f"{prog} ({key})")
    except (ValueError, KeyError, TypeError):
        return None


def _from_auths(entry: dict[str, Any], source: str) -> Credentials | None:
    if entry.get("auth"):
        try:
            user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return Credentials(user, password, source)
    if entry.get("username") and entry.get("password"):
        return Credentials(entry["username"], entry["password"], source)
    return None


def find_credentials(registry: str) -> Credentials | None:
    """Credentials for ``registry`` (``host[:port]``), or None for anonymous access."""
    user, password = os.environ.get(USER_ENV), os.environ.get(PASSWORD_ENV)
    scope = os.environ.get(HOST_ENV)
    if user and password is not None and (not scope or scope == registry):
        return Credentials(user, password, f"${USER_ENV}/${PASSWORD_ENV}")
    path = docker_config_path()
    try:
        config: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    keys = _config_keys(registry)
    helpers = config.get("credHelpers") or {}
    for key in keys:
        if key in helpers and (found := _from_helper(helpers[key], key)):
            return found
    auths = config.get("auths") or {}
    for key in keys:
        if isinstance(auths.get(key), dict) and (found := _from_auths(auths[key], f"{path} ({key})")):
            return found
    if config.get("credsStore"):
        for key in keys:
            if found := _from_helper(config["credsStore"], key):
                return found
    return None
