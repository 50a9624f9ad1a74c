"""Fixtures of the Docker services tests: the real dockerd (DOCKER_HOST) and images built here."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_wasmcontainers.services.docker import DockerServices
from tests.services.testimage import testapp_image
from tests.support.services import unavailable


@pytest.fixture(scope="session")
def testapp(docker_services: DockerServices) -> str:
    """A Linux HTTP server image built from ``testapp/main.go`` (see its header for the commands)."""
    return testapp_image(docker_services.client)


@pytest.fixture(scope="session")
def mariadb_image(docker_services: DockerServices, pytestconfig: pytest.Config) -> str:
    """The MariaDB image the plugin's fixtures will use; skip (fail in CI) when the daemon lacks it.

    Docker Hub is unreachable here: CI builds ``localhost/mariadb:ci`` (``.ci/build-mariadb-image``) and
    points ``WASMCONTAINERS_MARIADB_IMAGE`` at it.
    """
    import docker.errors

    from pytest_wasmcontainers.plugin import _mariadb_image

    image = _mariadb_image(pytestconfig)
    try:
        docker_services.client.images.get(image)
    except docker.errors.ImageNotFound:
        unavailable(
            f"MariaDB image {image!r} is not on the Docker daemon; build one with .ci/build-mariadb-image and "
            f"set WASMCONTAINERS_MARIADB_IMAGE=localhost/mariadb:ci"
        )
    return image


@pytest.fixture(scope="session")
def wasm_images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Wasm images (OCI layouts on disk) of guests built from C in this repo.

    ``client``: ``/client.wasm HOST PORT MESSAGE`` resolves HOST, sends MESSAGE, prints the reply.
    ``mysql-probe``: connects to ``$DATABASE_URL``'s host and prints the MySQL server's version.
    ``webapp``: HTTP on 8080 (``hello <$GREETING> <path>``).
    """
    from pytest_wasmcontainers.images.build import write_oci_layout
    from tests.support.toolchains import build_c

    root = Path(__file__).resolve().parents[1]
    client = build_c(root / "guests" / "c" / "client.c")
    webapp = build_c(root / "plugin" / "guests" / "webapp.c")
    probe = build_c(
        Path(__file__).parent / "guests" / "mysql_probe.c", flags=("-O2", f"-I{root / 'guests' / 'c'}")
    )
    out = tmp_path_factory.mktemp("wasm-layouts")
    write_oci_layout(out / "client", client, module_name="client.wasm", tag="1")
    write_oci_layout(
        out / "webapp", webapp, module_name="webapp.wasm", cmd=["serve"], exposed_ports=[8080], tag="1"
    )
    write_oci_layout(out / "probe", probe, module_name="mysql_probe.wasm", tag="1")
    return {name: f"oci:{out / name}:1" for name in ("client", "webapp", "probe")}
