"""Fixtures of the Docker services tests: the real dockerd (DOCKER_HOST) and images built here."""

from __future__ import annotations

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
