"""Fixtures of the Docker services tests: the real dockerd (DOCKER_HOST) and images built here."""

from __future__ import annotations

import pytest

from pytest_wasmcontainers.services.docker import DockerServices
from tests.services.testimage import testapp_image


@pytest.fixture(scope="session")
def testapp(docker_services: DockerServices) -> str:
    """A Linux HTTP server image built from ``testapp/main.go`` (see its header for the commands)."""
    return testapp_image(docker_services.client)
