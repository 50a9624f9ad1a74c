"""The ``wasmcontainers`` command as a user runs it: a subprocess (``python -m pytest_wasmcontainers``),
real signals, a real local registry (``tests/support/registry.py``) and the plugin tests' webapp guest."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.plugin.conftest import webapp_image, webapp_module  # noqa: F401  (fixtures)
from tests.support.registry import registry, registry_factory  # noqa: F401  (fixtures)
from tests.support.toolchains import build_c

TESTS = Path(__file__).resolve().parent.parent
LIMIT = 120.0
"""Seconds any one command may take: a safety limit for a hung process, never an assertion."""


@pytest.fixture(scope="session")
def unsupported_module() -> Path:
    return build_c(TESTS / "guests" / "c" / "unsupported.c")


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def command(cache: Path | None, name: str, *rest: str) -> list[str]:
    """``python -m pytest_wasmcontainers NAME --cache-dir CACHE REST...`` (the option before any ``--``)."""
    where = ["--cache-dir", str(cache)] if cache is not None else []
    return [sys.executable, "-m", "pytest_wasmcontainers", name, *where, *rest]


def cli(cache: Path | None, name: str, *rest: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command(cache, name, *rest), capture_output=True, text=True, timeout=LIMIT)


class Running:
    """``wasmcontainers run`` in the background, in its own process group, its output read as it comes."""

    def __init__(self, cache: Path, *args: str) -> None:
        self.cache = cache
        self.proc = subprocess.Popen(
            command(cache, "run", *args),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self._changed = threading.Condition()
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, self.out), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, self.err), daemon=True),
        ]
        for t in self._readers:
            t.start()

    def _read(self, stream: object, into: list[str]) -> None:
        for line in stream:  # type: ignore[attr-defined]
            with self._changed:
                into.append(line)
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def expect(self, where: list[str], pattern: str) -> re.Match[str]:
        """The first line of ``where`` (self.out or self.err) matching ``pattern``, once it is there."""
        found: list[re.Match[str]] = []

        def seen() -> bool:
            found[:] = [m for line in where if (m := re.search(pattern, line))]
            return bool(found) or self.proc.poll() is not None

        with self._changed:
            self._changed.wait_for(seen, timeout=LIMIT)
        assert found, f"no line matching {pattern!r}; stdout:\n{self.stdout}\nstderr:\n{self.stderr}"
        return found[0]

    def url(self, port: int = 8080) -> str:
        m = self.expect(self.err, rf"port {port} -> (http://127\.0\.0\.1:(\d+))")
        return m.group(1)

    def send(self, sig: signal.Signals) -> None:
        self.proc.send_signal(sig)

    def finish(self) -> int:
        code = self.proc.wait(LIMIT)
        for t in self._readers:
            t.join(LIMIT)
        return code

    @property
    def stdout(self) -> str:
        return "".join(self.out)

    @property
    def stderr(self) -> str:
        return "".join(self.err)

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
