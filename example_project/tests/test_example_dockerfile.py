"""The Dockerfile Docker users build: `docker build` it with the module, `docker save` it, and run
the saved image here. (Docker without buildx builds it as a linux image; the layers and config are
what `buildx --platform wasi/wasm` writes.)"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any

import build_image
import requests
from orderflow import TIMEOUT


def test_dockerfile_image_runs(docker_services: Any, wasm_container_factory: Any, tmp_path: Path) -> None:
    context = tmp_path / "context"
    context.mkdir()
    shutil.copy(build_image.EXAMPLE / "Dockerfile", context / "Dockerfile")
    assert build_image.main(["--wasm-out", str(context / "orderservice.wasm")]) == 0

    client = docker_services.client
    tag = f"wasmcontainers-example/orderservice:{uuid.uuid4().hex[:12]}"
    client.images.build(path=str(context), tag=tag, rm=True)
    archive = tmp_path / "orderservice.tar"
    try:
        with archive.open("wb") as f:
            for chunk in client.images.get(tag).save(named=True):
                f.write(chunk)
    finally:
        client.images.remove(tag, force=True)

    service = wasm_container_factory(
        f"docker-archive:{archive}", env={"DATABASE_URL": "mysql://root:pw@127.0.0.1:9/mysql"}
    )  # no ports given: readiness and mapping come from the Dockerfile's EXPOSE 8080
    resp = requests.get(service.url(8080), timeout=TIMEOUT)
    assert resp.status_code == 200
    assert resp.text.startswith("The valid endpoints are")
