"""The walkthrough's order flow, driven over HTTP against a running order service."""

from __future__ import annotations

from typing import Any

import requests

TIMEOUT = 30


def order(order_id: int, address: str, **changes: Any) -> dict[str, Any]:
    base = {
        "order_id": order_id,
        "product_id": 12,
        "quantity": 2,
        "amount": 56.0,
        "shipping": 15.0,
        "tax": 2.0,
        "shipping_address": address,
    }
    return {**base, **changes}


def call(base_url: str, method: str, path: str, body: Any = None) -> Any:
    resp = requests.request(method, base_url.rstrip("/") + path, json=body, timeout=TIMEOUT)
    assert resp.status_code == 200, f"{method} {path}: {resp.status_code} {resp.text}"
    return resp.json()


def run_order_flow(base_url: str) -> None:
    """init, create_order, create_orders, orders, update_order, delete_order, with the JSON the
    original service returns (``{"status":true}``; orders as objects with float amounts)."""
    ok = {"status": True}
    assert call(base_url, "GET", "/init") == ok
    assert call(base_url, "GET", "/orders") == []

    first = order(1, "Mataderos 2312")
    assert call(base_url, "POST", "/create_order", first) == ok
    # addresses with quotes, backslashes and non-ASCII must survive the SQL round trip
    more = [order(2, "Berguvsvägen 8", quantity=5, amount=20.5), order(3, 'it\'s "5\\6" st', tax=0.25)]
    assert call(base_url, "POST", "/create_orders", more) == ok
    assert call(base_url, "GET", "/orders") == [first, *more]

    updated = order(3, "San Francisco", product_id=7, quantity=1, amount=15.99, shipping=0.0)
    assert call(base_url, "POST", "/update_order", updated) == ok
    assert call(base_url, "GET", "/delete_order?id=2") == ok
    rows = call(base_url, "GET", "/orders")
    assert rows == [first, {**updated, "amount": rows[1]["amount"]}]
    assert abs(rows[1]["amount"] - 15.99) < 1e-4  # FLOAT column: single precision

    # floats are written like serde_json writes f32: 56.0, not 56
    raw = requests.get(base_url.rstrip("/") + "/orders", timeout=TIMEOUT).text
    assert '"amount":56.0' in raw


def run_concurrent_orders(base_url: str, count: int = 24) -> None:
    """Many clients at once: the service's goroutines share its connection pool."""
    from concurrent.futures import ThreadPoolExecutor

    ids = range(100, 100 + count)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(
            pool.map(lambda i: call(base_url, "POST", "/create_order", order(i, f"Street {i}")), ids)
        )
    assert results == [{"status": True}] * count
    stored = {row["order_id"]: row for row in call(base_url, "GET", "/orders")}
    assert all(stored[i] == order(i, f"Street {i}") for i in ids)
