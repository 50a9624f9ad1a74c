"""The handle of a local server process (``local.py`` starts them): the container methods tests use."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from ..container import WaitTimeoutError
from ..errors import ContainerError, ContainerExitedError
from ..wait import last_lines

PORT = 3306
"""The port the server answers on inside a container; a local server maps it to its free port."""


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except FileNotFoundError:
        if Path("/proc/self").exists():
            return ""  # Linux: no such process
    except OSError:
        return ""
    out = subprocess.run(["ps", "-o", "command=", "-p", str(pid)], capture_output=True, text=True)
    return out.stdout.strip()


def terminate(pid: int, owner_mark: str, timeout: float = 10.0) -> None:
    """Stop ``pid`` if it is still our server (its command line names our run dir: pids are reused)."""
    if owner_mark not in _cmdline(pid):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and owner_mark in _cmdline(pid):
        time.sleep(0.05)
    if owner_mark in _cmdline(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


class LocalServer:
    """A server process started for a test: the readiness ``Target`` of ``wait.py`` plus the container
    methods tests use (``host_port``, ``url``, ``logs``, ``stop``, ``resolve``), like ``DockerContainer``."""

    def __init__(
        self, name: str, server: Path, rundir: Path, port: int, proc: subprocess.Popen[bytes], record: Path
    ) -> None:
        self.name = name
        self.server = server
        self.image = f"local {server.name} ({server})"
        self.rundir = rundir
        self.port = port
        self.startup_timeout = 60.0
        self._proc = proc
        self._record = record
        self._final_logs: str | None = None
        self.removed = False

    def __repr__(self) -> str:
        return f"<LocalServer {self.name!r} {self.server} on 127.0.0.1:{self.port}>"

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def description(self) -> str:
        return f"local {self.server.name} {self.name!r} ({self.server}, 127.0.0.1:{self.port})"

    @property
    def exit_code(self) -> int | None:
        return self._proc.poll()

    @property
    def running(self) -> bool:
        return self._proc.poll() is None

    health: str | None = None
    """No healthcheck: readiness is a real login."""

    def logs(self) -> str:
        if self._final_logs is not None:
            return self._final_logs
        try:
            return (self.rundir / "server.log").read_text(errors="replace")
        except OSError:
            return ""

    def published_port(self, container_port: int | str) -> int | None:
        return self.port if str(container_port) in (str(PORT), f"{PORT}/tcp") and not self.removed else None

    def listening_port(self, container_port: int) -> int | None:
        port = self.published_port(container_port)
        if port is None or not self.running:
            return None
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1.0).close()
        except OSError:
            return None
        return port

    @property
    def host(self) -> str:
        return "127.0.0.1"

    def host_port(self, container_port: int | str) -> int:
        """The port the server answers ``container_port`` (3306) on, on 127.0.0.1."""
        code = self.exit_code
        if code is not None:
            raise ContainerExitedError(
                self._message(f"exited (code {code})"), exit_code=code, logs=self.logs()
            )
        port = self.published_port(container_port)
        if port is None:
            raise ContainerError(
                self._message(f"serves only port {PORT}, not {container_port}"), logs=self.logs()
            )
        return port

    def url(self, container_port: int, path: str = "/") -> str:
        return (
            f"http://127.0.0.1:{self.host_port(container_port)}{path if path.startswith('/') else '/' + path}"
        )

    def resolve(self, port: int) -> tuple[str, int]:
        """Name-table ``Endpoint``: a Wasm guest dials ``db:3306``, we connect to the server's port."""
        return "127.0.0.1", self.host_port(port)

    def wait(self, timeout: float | None = None) -> int:
        try:
            return self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise WaitTimeoutError(
                self._message(f"did not exit within {timeout:g} s"), logs=self.logs()
            ) from None

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM (a clean InnoDB shutdown), SIGKILL after ``timeout`` s; the datadir is removed, the log
        and exit code stay readable. Returns the exit code."""
        if self.removed:
            return self._proc.returncode
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._final_logs = self.logs()
        self.removed = True
        shutil.rmtree(self.rundir, ignore_errors=True)
        self._record.unlink(missing_ok=True)
        return self._proc.returncode

    def _message(self, what: str) -> str:
        return f"{self.description} {what}.\nLast log lines:\n{last_lines(self.logs())}"
