"""A real OCI registry for tests: CNCF distribution (Debian's ``docker-registry``), on loopback.

Use from any conftest::

    from tests.support.registry import registry, registry_factory  # noqa: F401  (fixtures)

``registry`` is one plain registry shared by the session; ``registry_factory(htpasswd=(user, pw))``
starts more (e.g. with basic auth). All are stopped at the end of the session. A missing
``docker-registry`` binary skips the tests (fails them in CI, see ``services.unavailable``).
"""

from __future__ import annotations

import ctypes
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import requests

from .services import unavailable

if TYPE_CHECKING:
    from .token_server import TokenServer

BINARY = "docker-registry"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:
    """A pytest worker that dies (crash, kill -9) skips fixture teardown: take the registry with it."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class Registry:
    host: str
    """``127.0.0.1:<port>``: use it as the registry part of image references."""
    storage: Path
    log_file: Path
    proc: subprocess.Popen[bytes]
    credentials: tuple[str, str] | None = None
    token_server: TokenServer | None = None
    _stopped: bool = field(default=False, repr=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def access_log(self) -> list[str]:
        """Access-log request lines so far, e.g. ``GET /v2/app/blobs/sha256:... HTTP/1.1" 200``."""
        text = self.log_file.read_text(errors="replace")
        return re.findall(r'"((?:GET|HEAD|PUT|POST|PATCH|DELETE) /v2/[^"]*" \d+)', text)

    def requests_matching(self, pattern: str) -> int:
        return sum(1 for line in self.access_log() if re.search(pattern, line))

    def blob_data(self, digest: str) -> Path:
        """Where the registry stores a blob's bytes (to corrupt it in tests)."""
        hexpart = digest.split(":", 1)[1]
        return self.storage / "docker/registry/v2/blobs/sha256" / hexpart[:2] / hexpart / "data"

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class RegistryFactory:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.started: list[Registry] = []
        self.token_servers: list[TokenServer] = []
        self._made = 0  # not len(started): a start that skipped (no htpasswd) left its directory

    def __call__(
        self, *, htpasswd: tuple[str, str] | None = None, token_users: dict[str, str] | None = None
    ) -> Registry:
        """A new registry: open, with basic auth (``htpasswd``), or behind a bearer-token server
        (``token_users``: anonymous pulls allowed, pushes need one of these users)."""
        if shutil.which(BINARY) is None:
            unavailable(f"`{BINARY}` is not installed (Debian/Ubuntu: apt-get install docker-registry)")
        n, self._made = self._made, self._made + 1
        base = self.workdir / f"registry{n}"
        base.mkdir(parents=True)
        auth = ""
        if htpasswd:
            if shutil.which("htpasswd") is None:
                unavailable("`htpasswd` is not installed (Debian/Ubuntu: apt-get install apache2-utils)")
            out = subprocess.run(
                ["htpasswd", "-Bbn", *htpasswd], capture_output=True, text=True, check=True
            ).stdout
            (base / "htpasswd").write_text(out)
            auth = f"auth:\n  htpasswd:\n    realm: test-realm\n    path: {base / 'htpasswd'}\n"
        token_server = None
        if token_users is not None:
            from .token_server import TokenServer  # needs the `cryptography` package

            token_server = TokenServer(base, token_users)
            self.token_servers.append(token_server)
            auth = token_server.registry_auth_yaml()
        last_log = ""
        for _attempt in range(3):
            port = free_port()
            config = base / "config.yml"
            config.write_text(
                "version: 0.1\nlog:\n  level: warn\n"
                f"storage:\n  filesystem:\n    rootdirectory: {base / 'data'}\n  delete:\n    enabled: true\n"
                f"http:\n  addr: 127.0.0.1:{port}\n  secret: pytest-wasmcontainers-test\n" + auth
            )
            log_file = base / "registry.log"
            with open(log_file, "wb") as log:
                proc = subprocess.Popen(
                    [BINARY, "serve", str(config)],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    preexec_fn=_die_with_parent,
                )
            reg = Registry(f"127.0.0.1:{port}", base / "data", log_file, proc, htpasswd, token_server)
            if self._wait_ready(reg):
                self.started.append(reg)
                return reg
            reg.stop()
            last_log = log_file.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"{BINARY} did not start; its log:\n{last_log}")

    @staticmethod
    def _wait_ready(reg: Registry) -> bool:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if reg.proc.poll() is not None:
                return False
            try:
                # 200 when open, 401 when htpasswd is on: either way it is serving.
                if requests.get(f"{reg.url}/v2/", timeout=2).status_code in (200, 401):
                    return True
            except requests.RequestException:
                pass
            time.sleep(0.05)
        return False

    def close(self) -> None:
        for reg in self.started:
            reg.stop()
        for ts in self.token_servers:
            ts.close()


@pytest.fixture(scope="session")
def registry_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryFactory]:
    factory = RegistryFactory(tmp_path_factory.mktemp("registries"))
    yield factory
    factory.close()


@pytest.fixture(scope="session")
def registry(registry_factory: RegistryFactory) -> Registry:
    return registry_factory()
