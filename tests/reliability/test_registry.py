"""Registry misbehaviour: pulls from a registry that truncates, corrupts, fails, loops, stalls or
floods (tests/reliability/misbehaving_registry.py). Each case must end in a clear error of ours (or,
for a transient fault, a pull that succeeds after a retry) within a bounded time, with the cache
left consistent and a later good pull working."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pytest_wasmcontainers.errors import (
    DigestMismatchError,
    ImageError,
    ImageNotFoundError,
    RegistryAuthError,
    RegistryError,
    WasmContainersError,
)
from pytest_wasmcontainers.images import ImageCache, pull
from pytest_wasmcontainers.images import registry as registry_module
from pytest_wasmcontainers.images.build import write_oci_layout
from pytest_wasmcontainers.images.registry import TIMEOUT_ENV
from tests.reliability.matrix import Row, record
from tests.reliability.misbehaving_registry import HUGE, MisbehavingRegistry, cache_problems
from tests.support.oci_build import noop_module

SECTION = "Registry misbehaviour"
TIMEOUT_S = 1.0


@dataclass
class Case:
    mode: str
    error: type[WasmContainersError] | None
    """None: the pull must succeed (a transient fault, retried)."""
    says: str = ""
    within: float = 6.0
    max_sent: int | None = None
    """Body bytes the server may have sent before the client hung up (a refused huge body)."""


BROKEN = [
    Case("truncated-blob", DigestMismatchError, r"blob sha256:\w+ from .* ended after \d+ of the \d+ bytes"),
    Case("close-mid-body", RegistryError, r"broke off blob sha256:\w+ after \d+ bytes"),
    Case("wrong-digest-blob", DigestMismatchError, r"failed verification.*re-push"),
    Case("wrong-digest-manifest", DigestMismatchError, r"manifest of .* hashes to .*corrupt"),
    Case("500-then-ok", None),
    Case("503-always", RegistryError, r"HTTP 503 for manifest v1 \(after 3 tries\)"),
    Case("reset-once", None),
    Case("reset-always", RegistryError, r"cannot reach registry .*Is it running"),
    Case("redirect-loop", RegistryError, r"redirected .* more than 10 times \(a redirect loop\)"),
    Case("401-loop", RegistryAuthError, r"refused access to test/app \(HTTP 401\).*login"),
    Case("token-down", RegistryError, r"sent us to http://127\.0\.0\.1:\d+/token, which failed"),
    Case("token-garbage", RegistryAuthError, r"token server .* not a token"),
    Case("404-manifest", ImageNotFoundError, r"no manifest v1 .*HTTP 404.*check the image name"),
    Case("html-manifest", ImageError, r"manifest .* is not valid JSON"),
]
SLOW = [
    Case("slow-loris-blob", RegistryError, r"too slow sending blob .*timeout.*" + TIMEOUT_ENV),
    Case("slow-loris-manifest", RegistryError, r"too slow sending manifest v1 .*timeout.*" + TIMEOUT_ENV),
    Case("huge-manifest", RegistryError, rf"declares {HUGE} bytes, over the 4 MiB limit", max_sent=16 << 20),
    Case("huge-manifest-chunked", RegistryError, r"sent more than 4194304 bytes", max_sent=16 << 20),
]


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[MisbehavingRegistry]:
    monkeypatch.setenv(TIMEOUT_ENV, str(TIMEOUT_S))
    monkeypatch.setattr(registry_module, "BACKOFF", 0.05)  # the retries stay, the waits shrink
    reg = MisbehavingRegistry()
    yield reg
    reg.close()


def _try(case: Case, server: MisbehavingRegistry, tmp_path: Path, module: bytes) -> str:
    """'' when the case survived, else what went wrong."""
    ref = f"{server.host}/test/app:v1"
    cache = ImageCache(tmp_path / f"cache-{case.mode}")
    server.set_mode(case.mode)
    started = time.monotonic()
    try:
        image = pull(ref, cache=cache)
    except WasmContainersError as err:
        if case.error is None or not isinstance(err, case.error):
            return f"wrong error {type(err).__name__}: {err}"
        if not re.search(case.says, str(err), re.S):
            return f"unclear message: {err}"
    except Exception as err:  # a crash: the case is lost
        return f"crash {type(err).__name__}: {err}"
    else:
        if case.error is not None:
            return f"pull succeeded: {image.digest}"
        if image.module_file.read_bytes() != module:
            return "wrong module after a retried pull"
    elapsed = time.monotonic() - started
    if elapsed > case.within:
        return f"took {elapsed:.1f} s (bound {case.within} s)"
    if case.max_sent is not None and server.sent > case.max_sent:
        return f"read {server.sent} bytes of a body it should refuse"
    problems = cache_problems(
        cache, {p.name for p in (cache.root / "images").iterdir()} if case.error is None else ()
    )
    server.set_mode("ok")
    try:
        again = pull(ref, cache=cache)
        if again.module_file.read_bytes() != module:
            problems.append("a later good pull gave another module")
    except Exception as err:
        problems.append(f"a later good pull failed: {err}")
    return "; ".join(problems)


def _run(title: str, cases: list[Case], server: MisbehavingRegistry, tmp_path: Path) -> None:
    module = noop_module(title)
    write_oci_layout(tmp_path / "layout", module, tag="v1", extra_files={"etc/data": b"x" * 4096})
    server.load(tmp_path / "layout", "v1")
    lost = {c.mode: why for c in cases if (why := _try(c, server, tmp_path, module))}
    record(
        Row(
            SECTION,
            title,
            tried=len(cases),
            survived=len(cases) - len(lost),
            lost="; ".join(f"{k}: {v}" for k, v in lost.items())[:300] or "nothing",
        )
    )
    assert not lost, lost


def test_broken_answers(server: MisbehavingRegistry, tmp_path: Path) -> None:
    _run(
        "broken answers: truncated or corrupt bodies, 5xx, resets, redirect and 401 loops, token server down, 404",
        BROKEN,
        server,
        tmp_path,
    )


def test_slow_and_huge_answers(server: MisbehavingRegistry, tmp_path: Path) -> None:
    _run("slow-loris bodies and 100 MB manifests", SLOW, server, tmp_path)
