"""The Docker services layer on Podman's Docker-compatible API, for real.

Needs ``WASMCONTAINERS_PODMAN_HOST`` (``eval "$(.ci/podman start)"``) and the MariaDB image in Podman
(``.ci/podman load-image localhost/mariadb:ci``); skips without them (fails under
WASMCONTAINERS_REQUIRE_SERVICES=1). The main run's dockerd stays ``DOCKER_HOST``: these tests talk to
Podman through their own client, or run a pytest subprocess with ``DOCKER_HOST`` set to Podman.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_wasmcontainers.errors import ContainerError
from pytest_wasmcontainers.services.cleanup import LABEL_SESSION, ServiceSession, remove_dead_sessions
from pytest_wasmcontainers.services.compose import ComposeProject, load_compose
from pytest_wasmcontainers.services.docker import DockerServices
from pytest_wasmcontainers.session import WasmSession
from tests.services import testimage
from tests.services.test_cleanup import _exists, _gone_soon, _start_holding_session
from tests.support.services import unavailable

PODMAN_ENV = "WASMCONTAINERS_PODMAN_HOST"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def podman_host() -> str:
    host = os.environ.get(PODMAN_ENV, "")
    if not host:
        unavailable(f'{PODMAN_ENV} is not set; start Podman\'s API with: eval "$(.ci/podman start)"')
    return host


@pytest.fixture(scope="module")
def podman(podman_host: str) -> Iterator[DockerServices]:
    """A ``DockerServices`` on Podman, with its own session (labels, lock) like a plugin session's."""
    import docker

    try:
        client = docker.DockerClient(base_url=podman_host, timeout=60)
        version = client.version()
    except Exception as e:
        unavailable(f"Podman at {podman_host} ({PODMAN_ENV}) does not answer: {str(e)[:200]}")
    names = [c.get("Name", "") for c in version.get("Components") or []]
    if not any("Podman" in n for n in names):
        pytest.fail(f"{PODMAN_ENV}={podman_host} is not Podman (components: {names})", pytrace=False)
    session = ServiceSession()
    services = DockerServices(client, session, image_overrides={"mariadb": _mariadb_image()})
    try:
        yield services
    finally:
        services.close()
        session.close()
        client.close()


def _mariadb_image() -> str:
    return os.environ.get("WASMCONTAINERS_MARIADB_IMAGE") or "localhost/mariadb:ci"


@pytest.fixture(scope="module")
def podman_mariadb(podman: DockerServices) -> str:
    import docker.errors

    image = _mariadb_image()
    try:
        podman.client.images.get(image)
    except docker.errors.ImageNotFound:
        unavailable(
            f"MariaDB image {image!r} is not in Podman; copy it from dockerd: .ci/podman load-image {image}"
        )
    return image


@pytest.fixture(scope="module")
def podman_testapp(podman: DockerServices) -> str:
    return testimage.testapp_image(podman.client)


def _pytest_on_podman(host: str, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """A pytest session whose plugin fixtures (mariadb, wasm_compose) reach Podman as DOCKER_HOST."""
    env = {**os.environ, "DOCKER_HOST": host, "WASMCONTAINERS_MARIADB_IMAGE": _mariadb_image()}
    env["WASMCONTAINERS_IMAGE_OVERRIDES"] = f"mariadb={_mariadb_image()}"
    env.pop("PYTEST_XDIST_WORKER", None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist", "-q", "-rs", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.slow
def test_mariadb_fixture_and_example_order_flow(podman_host: str, podman_mariadb: str) -> None:
    # The plugin's own fixtures, unchanged: mariadb (a login from the host) and the walkthrough's
    # compose file (server on the embedded runtime, db on Podman) plus its explicit-fixture variant.
    result = _pytest_on_podman(
        podman_host,
        "tests/services/test_mariadb.py::test_mariadb_fixture_accepts_its_users",
        "example_project/tests/test_example_orders.py",
    )
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "3 passed" in out and "skipped" not in out, out


def _compose_with_healthy_db(tmp_path: Path, probe_image: str) -> Path:
    path = tmp_path / "compose.yaml"
    path.write_text(
        textwrap.dedent(
            f"""
            name: podman{tmp_path.name[-8:].lower().replace("_", "")}
            services:
              db:
                image: mariadb:10.11
                environment: {{MARIADB_ROOT_PASSWORD: pw}}
                healthcheck:
                  test: ["CMD-SHELL", "mariadb-admin ping -h 127.0.0.1 -uroot -p$$MARIADB_ROOT_PASSWORD"]
                  interval: 1s
                  retries: 30
              probe:
                image: {probe_image}
                platform: wasi/wasm32
                environment: [DATABASE_URL=mysql://root:pw@db/mysql]
                depends_on:
                  db: {{condition: service_healthy}}
            """
        )
    )
    return path


@pytest.mark.slow
def test_compose_service_healthy_on_podman(
    tmp_path: Path, podman: DockerServices, podman_mariadb: str, wasm_session: WasmSession, wasm_images: Any
) -> None:
    # Without systemd Podman never runs the healthcheck (it stays "starting"): the plugin runs it.
    project = ComposeProject(
        load_compose(_compose_with_healthy_db(tmp_path, wasm_images["probe"])),
        docker=lambda: podman,
        wasm=wasm_session,
        image_overrides=podman.image_overrides,
    )
    try:
        project.up()
        db = project.service("db")
        assert db.health == "healthy"  # type: ignore[union-attr]
        assert "mysqld is alive" in db.health_log()  # type: ignore[union-attr]
        probe = project.service("probe")
        assert probe.wait(60) == 0, probe.logs()
        assert "MariaDB" in probe.logs()
        labels = f"com.docker.compose.project={project.name}"
        assert len(podman.client.containers.list(filters={"label": labels}, ignore_removed=True)) == 1
    finally:
        project.down()
    assert podman.client.containers.list(all=True, filters={"label": labels}, ignore_removed=True) == []


def test_unhealthy_on_podman_fails_with_the_checks_output(
    podman: DockerServices, podman_testapp: str
) -> None:
    with pytest.raises(ContainerError, match="unhealthy") as info:
        podman.start(
            podman_testapp,
            healthcheck={
                "test": ["CMD", "/testapp", "check", "http://127.0.0.1:1/"],
                "interval": "200ms",
                "retries": 2,
            },
            startup_timeout=60,
        )
    assert "unhealthy:" in str(info.value)  # testapp check's own output, from our exec


def test_killed_sessions_containers_are_removed_on_podman(
    tmp_path: Path,
    podman_host: str,
    podman: DockerServices,
    podman_testapp: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = podman.client
    monkeypatch.setenv("DOCKER_HOST", podman_host)  # for the subprocess session only
    proc, name = _start_holding_session(tmp_path, podman_testapp)
    try:
        sid = client.containers.get(name).labels[LABEL_SESSION]
        # Podman filters by label as Docker does; a live session's container is left alone.
        found = client.containers.list(
            all=True, filters={"label": f"{LABEL_SESSION}={sid}"}, ignore_removed=True
        )
        assert [c.name for c in found] == [name]
        assert name not in remove_dead_sessions(client, podman.session)
        assert client.containers.get(name).status == "running"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert _exists(client, name), "kill -9 gives the session no chance to clean up"
    remove_dead_sessions(client, podman.session)
    assert _gone_soon(client, name)
