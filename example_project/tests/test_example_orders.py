"""The walkthrough's order flow against MariaDB, through both routes a project would use:

- the compose file as it ships (``server`` on the embedded runtime, ``db`` on Docker, ``db``
  resolved with DNS over TCP at 127.0.0.11:53 as the compose file asks);
- explicit fixtures: ``mariadb`` on Docker and the service linked to it as ``db``.

Without Docker these tests skip with the reason (fail under WASMCONTAINERS_REQUIRE_SERVICES=1).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from orderflow import run_concurrent_orders, run_order_flow

from pytest_wasmcontainers.wait import for_log, wait_until_ready

COMPOSE_FILE = Path(__file__).resolve().parent.parent / "docker-compose.yml"


def local_mariadb_image(config: pytest.Config) -> str | None:
    """The MariaDB image the plugin's mariadb fixtures are pointed at (CI: a locally built one)."""
    return config.getoption("wasm_mariadb_image") or os.environ.get("WASMCONTAINERS_MARIADB_IMAGE") or None


@pytest.fixture
def compose_images(
    monkeypatch: pytest.MonkeyPatch, pytestconfig: pytest.Config, orderservice_image: str
) -> None:
    # orderservice:latest is what `docker buildx build -t orderservice .` would make; here it is the
    # OCI layout built from source. mariadb:10.9 becomes the local image when one is configured.
    overrides = [f"orderservice={orderservice_image}"]
    local = local_mariadb_image(pytestconfig)
    if local:
        overrides.append(f"mariadb={local}")
    existing = os.environ.get("WASMCONTAINERS_IMAGE_OVERRIDES", "")
    monkeypatch.setenv("WASMCONTAINERS_IMAGE_OVERRIDES", ",".join(filter(None, [existing, *overrides])))


def test_order_flow_through_compose(wasm_compose: Any, compose_images: None) -> None:
    project = wasm_compose(COMPOSE_FILE)
    server = project.service("server")
    # output is drained on a thread: wait for the line rather than expect it at once
    wait_until_ready(server, for_log(r"order service listening on 0\.0\.0\.0:8080"), 10)
    # depends_on only orders the starts (as in the walkthrough): wait for MariaDB to take logins
    wait_for_database(server.url(8080))
    run_order_flow(server.url(8080))


def test_order_flow_with_explicit_fixtures(
    mariadb: Any, wasm_container_factory: Any, orderservice_image: str
) -> None:
    # the application account the fixture created, not root: the service needs no more than that
    url = f"mysql://{mariadb.user}:{mariadb.password}@db:3306/{mariadb.database}"
    service = wasm_container_factory(
        orderservice_image, env={"DATABASE_URL": url}, ports={8080: None}, hosts={"db": mariadb}
    )
    run_order_flow(service.url(8080))
    run_concurrent_orders(service.url(8080))
    assert service.running


def wait_for_database(base_url: str, timeout: float = 120.0) -> None:
    """Poll /orders until the service reaches MariaDB (500 'cannot reach' / 'cannot log in' before)."""
    import time

    import requests

    deadline = time.monotonic() + timeout
    while True:
        resp = requests.get(base_url.rstrip("/") + "/orders", timeout=30)
        if resp.status_code == 200 or "orders' doesn't exist" in resp.text:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"the service never reached MariaDB: {resp.status_code} {resp.text}")
        time.sleep(0.5)
