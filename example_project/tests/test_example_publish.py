"""The image as a registry serves it: build_image --push to a real registry, then run it from there."""

from __future__ import annotations

from typing import Any

import build_image
import requests
from orderflow import TIMEOUT


def test_pushed_image_runs_from_the_registry(registry: Any, wasm_container_factory: Any, capsys: Any) -> None:
    reference = f"{registry.host}/example/orderservice:1"
    assert build_image.main(["--push", reference, "--insecure", registry.host]) == 0
    layout_ref, digest = capsys.readouterr().out.split()
    assert layout_ref.startswith("oci:") and digest.startswith("sha256:")
    assert any('/manifests/1 HTTP/1.1" 201' in line for line in registry.access_log())

    service = wasm_container_factory(
        reference, env={"DATABASE_URL": "mysql://root:pw@127.0.0.1:9/mysql"}, ports={8080: None}
    )
    resp = requests.get(service.url(8080), timeout=TIMEOUT)
    assert resp.status_code == 200
    assert "/create_orders" in resp.text
