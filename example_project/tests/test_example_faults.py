"""Network faults on the order service's own connections, against real MariaDB: latency toward ``db``
slows its requests, a partition gives its 500 JSON error while it keeps running and it recovers when
the partition ends, and ``reset_after`` on its port resets the client. No proxy container."""

from __future__ import annotations

import http.client
import time
from typing import Any

import pytest
import requests
from orderflow import call, order
from test_example_orders import COMPOSE_FILE, compose_images, wait_for_database  # noqa: F401  (fixture)

from pytest_wasmcontainers.wait import for_log, wait_until_ready

LATENCY = 0.05


@pytest.fixture
def service(mariadb: Any, wasm_container_factory: Any, orderservice_image: str) -> Any:
    url = f"mysql://{mariadb.user}:{mariadb.password}@db:3306/{mariadb.database}"
    app = wasm_container_factory(
        orderservice_image, env={"DATABASE_URL": url}, ports={8080: None}, links={"db": mariadb}
    )
    assert call(app.url(8080), "GET", "/init") == {"status": True}
    assert call(app.url(8080), "POST", "/create_order", order(1, "Mataderos 2312")) == {"status": True}
    return app


def _timed_orders(base: str) -> float:
    t0 = time.monotonic()
    assert len(call(base, "GET", "/orders")) == 1
    return time.monotonic() - t0


def test_latency_toward_db_slows_its_requests(service: Any) -> None:
    base = service.url(8080)
    before = min(_timed_orders(base) for _ in range(3))
    with service.faults(link="db", latency=LATENCY, jitter=0.01, seed=7):
        slow = _timed_orders(base)
    after = min(_timed_orders(base) for _ in range(3))
    # a query is at least one write and one read toward db, each held for 0.04 s or more
    assert slow >= 2 * (LATENCY - 0.01), (before, slow)
    assert after < slow - LATENCY, (before, slow, after)


def test_partition_gives_the_500_error_then_recovers(service: Any) -> None:
    base = service.url(8080)
    with service.faults(link="db", partition=True):
        resp = requests.get(base.rstrip("/") + "/orders", timeout=30)
        assert resp.status_code == 500, resp.text
        assert "error" in resp.json(), resp.text
        assert service.running
    # the pool's cut connections are gone; new connects go through again
    deadline = time.monotonic() + 30
    while True:
        resp = requests.get(base.rstrip("/") + "/orders", timeout=30)
        if resp.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert resp.status_code == 200, resp.text
    assert len(resp.json()) == 1


def test_a_hung_db_leaves_its_requests_waiting_and_the_service_up(service: Any) -> None:
    base = service.url(8080)
    with service.faults(link="db", partition=True, mode="hang"):
        with pytest.raises(requests.Timeout):
            requests.get(base.rstrip("/") + "/orders", timeout=1.0)
        # its other goroutines go on: the index needs no database
        assert requests.get(base, timeout=10).status_code == 200
    assert service.running


def test_dropped_connects_are_seeded(service: Any) -> None:
    # every new connect to db refused: the service says so, and runs on
    with service.faults(link="db", drop=1.0, seed=1):
        service.faults(link="db", partition=True).clear()  # cut the pool's open connections
        resp = requests.get(service.url(8080).rstrip("/") + "/orders", timeout=30)
        assert resp.status_code == 500, resp.text
    assert service.running


def test_reset_after_on_the_service_port_resets_the_client(service: Any) -> None:
    port = service.host_port(8080)
    service.faults(port=8080, reset_after=64)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    with pytest.raises((ConnectionResetError, http.client.RemoteDisconnected, BrokenPipeError)):
        for _ in range(20):  # a keep-alive connection: the reset comes once 64 bytes have crossed it
            conn.request("GET", "/orders")
            conn.getresponse().read()
    conn.close()
    service.clear_faults()
    assert len(call(service.url(8080), "GET", "/orders")) == 1


def test_a_link_that_does_not_exist_is_a_clear_error(service: Any) -> None:
    with pytest.raises(ValueError, match="has no link named 'dbx' \\(links/hosts: db\\)"):
        service.faults(link="dbx", latency=0.1)


def test_faults_on_a_compose_service(wasm_compose: Any, compose_images: None) -> None:  # noqa: F811
    project = wasm_compose(COMPOSE_FILE)
    server = project.service("server")
    wait_until_ready(server, for_log(r"order service listening on 0\.0\.0\.0:8080"), 10)
    base = server.url(8080)
    wait_for_database(base)
    assert call(base, "GET", "/init") == {"status": True}
    with server.faults(link="db", partition=True):
        resp = requests.get(base.rstrip("/") + "/orders", timeout=30)
        assert resp.status_code == 500, resp.text
    wait_for_database(base, timeout=30)
    assert call(base, "GET", "/orders") == []
