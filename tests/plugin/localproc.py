"""A plain host process behind the ``wait.Target`` protocol, to test readiness checks on real sockets.

It plays the part a Docker container handle plays: ports are fixed up front, and "listening" means a
TCP connect succeeds.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalProcess:
    def __init__(self, script: str, ports: tuple[int, ...] = ()) -> None:
        self.port_map = {p: free_port() for p in ports}
        self._log = Path(tempfile.mkstemp(prefix="localproc-", suffix=".log")[1])
        args = [str(self.port_map[p]) for p in ports]
        with self._log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-u", "-c", script, *args], stdout=out, stderr=subprocess.STDOUT
            )

    @property
    def name(self) -> str:
        return f"local-{self.proc.pid}"

    @property
    def description(self) -> str:
        return f"local process {self.name}"

    @property
    def exit_code(self) -> int | None:
        return self.proc.poll()

    @property
    def running(self) -> bool:
        return self.proc.poll() is None

    def logs(self) -> str:
        return self._log.read_text(errors="replace")

    def listening_port(self, container_port: int) -> int | None:
        host_port = self.port_map.get(container_port)
        if host_port is None:
            return None
        try:
            socket.create_connection(("127.0.0.1", host_port), timeout=0.5).close()
        except OSError:
            return None
        return host_port

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._log.unlink(missing_ok=True)
