"""The acceptance point of the command: ``wasmcontainers run`` serves the example project's image with
``-p 8080`` (the Go order service of example_project/, built from source and cached)."""

from __future__ import annotations

import signal
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.cli.conftest import LIMIT, TESTS, Running

EXAMPLE = TESTS.parent / "example_project"


@pytest.fixture(scope="module")
def example_image() -> str:
    sys.path.insert(0, str(EXAMPLE))
    try:
        import build_image
    finally:
        sys.path.remove(str(EXAMPLE))
    try:
        return str(build_image.build_image())
    except build_image.BuildError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def run(example_image: str, tmp_path: Path) -> Iterator[Running]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]  # no database: the service answers / without one
    r = Running(
        tmp_path / "cache",
        example_image,
        "-p",
        "8080",
        "-e",
        f"DATABASE_URL=mysql://root:x@127.0.0.1:{closed}/mysql",
    )
    yield r
    r.kill()


@pytest.mark.slow
def test_run_serves_the_example_image(run: Running) -> None:
    url = run.url(8080)
    resp = requests.get(url, timeout=LIMIT)
    assert resp.status_code == 200
    assert resp.text.startswith("The valid endpoints are /init /create_order")
    run.expect(run.out, r"^order service listening on 0\.0\.0\.0:8080")
    run.send(signal.SIGINT)
    assert run.finish() == 137, run.stderr
    assert "Traceback" not in run.stderr
    port = int(url.rsplit(":", 1)[1])
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=LIMIT).close()
    assert [p.name for p in (run.cache / "containers").glob("*")] == []
