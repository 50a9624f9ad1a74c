"""A pytest plugin the tests load into pytester runs (``-p leakcheck``): it records every container the
``ready`` hook sees and, once pytest-wasmcontainers has closed its session, checks that each one is
stopped, its host ports refuse connections and no guest thread is left. The verdict goes to
``$LEAKCHECK_OUT`` as JSON."""

from __future__ import annotations

import json
import os
import socket
import threading
from typing import Any

import pytest

seen: list[tuple[Any, dict[int, int]]] = []


def pytest_wasmcontainers_ready(container: Any) -> None:
    seen.append((container, dict(container.ports)))


def _closed(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return True
    return False


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    report = {
        "containers": len(seen),
        "running": [c.name for c, _ in seen if c.running],
        "ports": sorted(p for _, ports in seen for p in ports.values()),
        "open_ports": sorted(p for _, ports in seen for p in ports.values() if not _closed(p)),
        "guest_threads": [
            t.name for t in threading.enumerate() if t.name.startswith("wasm-") and t.is_alive()
        ],
    }
    with open(os.environ["LEAKCHECK_OUT"], "w") as f:
        json.dump(report, f)
