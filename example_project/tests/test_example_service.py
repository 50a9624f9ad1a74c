"""The order service from its packaged image, without a database: it starts, answers, and turns an
unreachable database or bad input into clear JSON errors instead of crashing."""

from __future__ import annotations

import socket
from typing import Any

import pytest
import requests
from orderflow import TIMEOUT, order


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def service(wasm_container_factory: Any, orderservice_image: str) -> Any:
    url = f"mysql://root:whalehello@127.0.0.1:{closed_port()}/mysql"
    return wasm_container_factory(orderservice_image, env={"DATABASE_URL": url}, ports={8080: None})


def test_index_lists_the_routes(service: Any) -> None:
    resp = requests.get(service.url(8080), timeout=TIMEOUT)
    assert resp.status_code == 200
    assert resp.text.startswith("The valid endpoints are /init /create_order")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [("GET", "/init", None), ("GET", "/orders", None), ("POST", "/create_order", order(1, "x"))],
)
def test_unreachable_database_is_a_500_json_error(service: Any, method: str, path: str, body: Any) -> None:
    resp = requests.request(method, service.url(8080, path), json=body, timeout=TIMEOUT)
    assert resp.status_code == 500
    assert resp.headers["Content-Type"] == "application/json"
    payload = resp.json()
    assert payload["status"] is False
    assert "cannot reach the database" in payload["error"]
    assert "refused" in payload["error"].lower()
    assert service.running, "the service keeps running after a database error"


def test_bad_order_json_is_a_400_naming_the_problem(service: Any) -> None:
    resp = requests.post(service.url(8080, "/create_order"), json={"order_id": 1}, timeout=TIMEOUT)
    assert resp.status_code == 400
    assert 'missing field "product_id"' in resp.json()["error"]
    resp = requests.post(service.url(8080, "/create_orders"), data=b"{not json", timeout=TIMEOUT)
    assert resp.status_code == 400
    assert "JSON array" in resp.json()["error"]


def test_unknown_route_is_404(service: Any) -> None:
    assert requests.get(service.url(8080, "/nope"), timeout=TIMEOUT).status_code == 404


def test_bad_database_url_stops_the_service_with_a_clear_message(
    wasm_container_factory: Any, orderservice_image: str
) -> None:
    from pytest_wasmcontainers.errors import ContainerExitedError

    with pytest.raises(ContainerExitedError) as info:
        wasm_container_factory(
            orderservice_image, env={"DATABASE_URL": "postgres://db/x"}, ports={8080: None}
        )
    assert "DATABASE_URL must start with mysql://" in info.value.logs


def test_a_stalled_client_does_not_block_others(service: Any) -> None:
    # Sockets are non-blocking under Go's netpoller: a connection that sent half a request waits in
    # its own goroutine while other connections are served.
    port = service.host_port(8080)
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as stalled:
        stalled.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # headers never finished
        for _ in range(3):
            assert requests.get(service.url(8080), timeout=TIMEOUT).status_code == 200
        stalled.sendall(b"\r\n")
        assert stalled.recv(64).startswith(b"HTTP/1.1 200 OK")
