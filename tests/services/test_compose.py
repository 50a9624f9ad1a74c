"""wasm_compose with real parts: Wasm services on the embedded runtime reach MariaDB and a Docker
service by their service names; ports, logs, teardown."""

from __future__ import annotations

import re
import textwrap
import time

import pytest
import requests

from pytest_wasmcontainers.errors import ComposeError, ContainerExitedError
from pytest_wasmcontainers.services.docker import DockerServices

COMPOSE = """
name: {name}
services:
  db:
    image: mariadb:10.9
    environment:
      MYSQL_ROOT_PASSWORD: whalehello
      MYSQL_DATABASE: orders
  api:
    image: example/testapp:1
    environment: ["GREETING=from-docker"]
    ports: ["8080"]
  web:
    image: {webapp}
    platform: wasi/wasm
    runtime: io.containerd.wasmedge.v1
    ports: ["8080:8080"]
    environment:
      GREETING: from-wasm
  probe-db:
    image: {probe}
    platform: wasi/wasm
    environment:
      DATABASE_URL: mysql://root:whalehello@db:3306/orders
    depends_on:
      db:
        condition: service_started
  probe-api:
    image: {client}
    runtime: io.containerd.wasmedge.v1
    command: ["api", "8080", "GET /env/GREETING HTTP/1.0\\r\\n\\r\\n"]
    depends_on: [api, web]
"""


@pytest.fixture
def overrides(monkeypatch, mariadb_image, testapp):
    # The walkthrough's mariadb:10.9 cannot be pulled here: run the local image in its place.
    monkeypatch.setenv(
        "WASMCONTAINERS_IMAGE_OVERRIDES", f"mariadb={mariadb_image},example/testapp:1={testapp}"
    )


def test_wasm_and_docker_services_by_name(tmp_path, wasm_compose, wasm_images, overrides, docker_services):
    path = tmp_path / "docker-compose.yml"
    name = f"svc{tmp_path.name[-8:].lower()}"
    path.write_text(COMPOSE.format(name=re.sub(r"[^a-z0-9]", "", name), **wasm_images))
    project = wasm_compose(path)

    # A Wasm guest dialled "db:3306" and got MariaDB's handshake through the name table.
    probe = project.service("probe-db")
    assert probe.wait(60) == 0, probe.logs()
    assert "connected to db:3306" in probe.logs()
    assert "MariaDB" in probe.logs()

    # ... and "api:8080", a Docker container, over HTTP.
    probe_api = project.service("probe-api")
    assert probe_api.wait(60) == 0, probe_api.logs()
    assert "from-docker" in probe_api.logs()

    # Host-side access to both kinds of service; the fixed host port 8080 was not taken.
    web = project.service("web")
    assert requests.get(web.url(8080, "/x"), timeout=5).text.strip() == "hello from-wasm /x"
    assert web.host_port(8080) != 8080
    api = project.service("api")
    assert requests.get(api.url(8080), timeout=5).text == "hello from-docker"
    assert "listening" in api.logs()

    labels = f"com.docker.compose.project={project.name}"
    client = docker_services.client
    assert len(client.containers.list(filters={"label": labels}, ignore_removed=True)) == 2
    project.down()
    assert client.containers.list(all=True, filters={"label": labels}, ignore_removed=True) == []
    assert not web.running


def test_healthy_condition_waits_for_the_docker_healthcheck(tmp_path, wasm_compose, wasm_images, overrides):
    path = tmp_path / "compose.yaml"
    path.write_text(
        textwrap.dedent(
            f"""
            services:
              db:
                image: mariadb:10.11
                environment: {{MARIADB_ROOT_PASSWORD: pw}}
                healthcheck:
                  test: ["CMD", "mariadb-admin", "ping", "-h", "127.0.0.1", "-ppw"]
                  interval: 300ms
                  retries: 100
              probe:
                image: {wasm_images["probe"]}
                platform: wasi/wasm32
                environment: [DATABASE_URL=mysql://root:pw@db/mysql]
                depends_on:
                  db: {{condition: service_healthy}}
            """
        )
    )
    project = wasm_compose(tmp_path)
    assert project.service("db").health == "healthy"
    assert project.service("probe").wait(60) == 0


def test_healthy_condition_without_healthcheck_is_an_error(tmp_path, wasm_compose, overrides, testapp):
    (tmp_path / "compose.yaml").write_text(
        "services:\n  a:\n    image: example/testapp:1\n  b:\n    image: example/testapp:1\n"
        "    depends_on: {a: {condition: service_healthy}}\n"
    )
    with pytest.raises(ComposeError, match="'a' has no healthcheck"):
        wasm_compose(tmp_path)


def test_project_service_lookup_errors(tmp_path, wasm_compose, wasm_images, docker_services: DockerServices):
    (tmp_path / "compose.yaml").write_text(
        f"services:\n  web:\n    image: {wasm_images['webapp']}\n    platform: wasi/wasm\n"
    )
    project = wasm_compose(tmp_path)
    with pytest.raises(KeyError, match="no service 'nope'"):
        project.service("nope")
    web = project.service("web")
    # Ready means listening; the guest prints its line just after, so give the log a moment.
    deadline = time.monotonic() + 10
    while "webapp: listening on 8080" not in web.logs() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "webapp: listening on 8080" in web.logs()


@pytest.mark.parametrize("code", [0, 3])
def test_completed_successfully_condition(tmp_path, wasm_compose, wasm_images, overrides, code):
    (tmp_path / "compose.yaml").write_text(
        textwrap.dedent(
            f"""
            services:
              migrate:
                image: example/testapp:1
                command: [exit, "{code}"]
              web:
                image: {wasm_images["webapp"]}
                platform: wasi/wasm
                depends_on:
                  migrate: {{condition: service_completed_successfully}}
            """
        )
    )
    if code == 0:
        project = wasm_compose(tmp_path)
        assert project.service("migrate").exit_code == 0
        assert project.service("web").running
    else:
        with pytest.raises(ContainerExitedError, match="exited with code 3, expected 0"):
            wasm_compose(tmp_path)


@pytest.mark.slow
def test_a_proxy_component_calls_a_docker_service_by_name(tmp_path, wasm_compose, monkeypatch, testapp):
    """The compose acceptance of WASI 0.2: a wasi:http proxy component beside a Docker service."""
    monkeypatch.setenv("WASMCONTAINERS_IMAGE_OVERRIDES", f"example/testapp:1={testapp}")
    from pytest_wasmcontainers.images.build import write_oci_layout
    from tests.runtime_p2.conftest import proxy_guest

    layout = tmp_path / "proxy-image"
    write_oci_layout(layout, proxy_guest(), module_name="proxy.wasm", platform="wasip2/wasm")
    (tmp_path / "compose.yaml").write_text(
        textwrap.dedent(
            f"""
            services:
              api:
                image: example/testapp:1
                environment: ["GREETING=from-docker"]
              front:
                image: oci:{layout}
                platform: wasip2/wasm
                runtime: io.containerd.wasmtime.v1
                ports: ["8080"]
                depends_on: [api]
            """
        )
    )
    project = wasm_compose(tmp_path)
    front = project.service("front")
    got = requests.get(front.url(8080, "/fetch?url=http://api:8080/env/GREETING"), timeout=30).json()
    assert got["status"] == 200 and got["body"] == "from-docker"
    project.down()
    assert not front.running
