"""A throwaway local OCI registry (Debian's ``docker-registry``, the CNCF distribution server) on a
loopback port, for the cold-start figures: the image is pulled from it over real HTTP."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from .cli_baseline import free_port

CONFIG = """version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
"""


def registry_binary() -> str | None:
    return shutil.which("docker-registry") or shutil.which("registry")


@contextmanager
def local_registry() -> Iterator[str]:
    """Yields ``127.0.0.1:PORT``; everything it stored is removed afterwards."""
    exe = registry_binary()
    if not exe:
        raise RuntimeError("no registry server (apt-get install docker-registry)")
    with tempfile.TemporaryDirectory(prefix="bench-registry-") as tmp:
        port = free_port()
        config = Path(tmp) / "config.yml"
        config.write_text(CONFIG.format(root=Path(tmp) / "data", port=port))
        proc = subprocess.Popen(
            [exe, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    if requests.get(f"http://127.0.0.1:{port}/v2/", timeout=1).status_code == 200:
                        break
                except requests.ConnectionError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    proc.kill()
                    raise RuntimeError(f"registry did not start: {proc.communicate()[1]!r}")
                time.sleep(0.05)
            yield f"127.0.0.1:{port}"
        finally:
            proc.kill()
            proc.wait()
