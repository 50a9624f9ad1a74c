"""Images made by real Docker: `docker build` + `docker save`, and `docker push` to our registry.

Docker (without buildx) cannot build for ``--platform wasi/wasm``, so these images are linux ones
holding a Wasm module, as people build them with the classic builder; what matters here is that the
archive and manifest formats Docker itself writes are read correctly.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_wasmcontainers.images import ImageCache, pull
from tests.support.registry import Registry
from tests.support.services import unavailable

DOCKERFILE = """FROM scratch
COPY app.wasm /bin/app.wasm
COPY data.txt /srv/data.txt
ENV MODE=docker
WORKDIR /srv
EXPOSE 8080
ENTRYPOINT ["/bin/app.wasm"]
CMD ["--flag"]
"""


@pytest.fixture(scope="module")
def docker_client() -> Iterator[Any]:
    docker = pytest.importorskip("docker")
    try:
        client = docker.from_env()
        client.ping()
    except Exception as err:
        unavailable(f'no Docker daemon reachable ({err}); start one with `eval "$(.ci/dockerd start)"`')
    yield client
    client.close()


@pytest.fixture
def docker_image(docker_client: Any, tmp_path: Path, module: bytes) -> Iterator[str]:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "app.wasm").write_bytes(module)
    (ctx / "data.txt").write_text("from docker\n")
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    tag = f"wasmcontainers-test/images-{os.getpid()}-{tmp_path.name.lower()}:v1"
    docker_client.images.build(path=str(ctx), tag=tag, rm=True)
    yield tag
    docker_client.images.remove(tag, force=True)


def _check(img: Any, module: bytes) -> None:
    assert img.module_path == "/bin/app.wasm" and img.module_file.read_bytes() == module
    assert img.argv == ("/bin/app.wasm", "--flag")
    assert ("MODE", "docker") in img.env and img.working_dir == "/srv" and img.exposed_ports == (8080,)
    assert img.rootfs is not None and (img.rootfs / "srv/data.txt").read_text() == "from docker\n"


def test_docker_save_archive(docker_client: Any, docker_image: str, tmp_path: Path, module: bytes) -> None:
    archive = tmp_path / "saved.tar"
    with open(archive, "wb") as f:
        for chunk in docker_client.images.get(docker_image).save(named=True):
            f.write(chunk)
    _check(pull(f"docker-archive:{archive}", cache=ImageCache(tmp_path / "cache")), module)


def test_docker_push_to_registry(
    docker_client: Any, docker_image: str, registry: Registry, tmp_path: Path, module: bytes
) -> None:
    target = f"{registry.host}/docker-made/app"
    image = docker_client.images.get(docker_image)
    image.tag(target, "v1")
    try:
        for line in docker_client.images.push(target, "v1", stream=True, decode=True):
            assert "error" not in line, line
    finally:
        docker_client.images.remove(f"{target}:v1")
    _check(pull(f"{target}:v1", cache=ImageCache(tmp_path / "cache")), module)
