"""Ordinary Docker containers on the real daemon: start, readiness, ports, logs, healthchecks, errors."""

from __future__ import annotations

import socket
import sys

import pytest
import requests

from pytest_wasmcontainers import wait
from pytest_wasmcontainers.container import WaitTimeoutError
from pytest_wasmcontainers.errors import (
    ContainerError,
    ContainerExitedError,
    DockerUnavailableError,
    ImageNotFoundError,
    StartupTimeoutError,
)
from pytest_wasmcontainers.services.cleanup import LABEL_SESSION
from pytest_wasmcontainers.services.docker import DockerServices, docker_client


def test_start_publishes_on_loopback_and_waits_for_http(docker_container_factory, testapp):
    c = docker_container_factory(
        testapp, env={"GREETING": "docker", "DELAY_MS": "500"}, ports=[8080], wait=wait.for_http(8080)
    )
    assert c.running and c.exit_code is None
    port = c.host_port(8080)
    binding = c._container.attrs["NetworkSettings"]["Ports"]["8080/tcp"][0]
    assert binding == {"HostIp": "127.0.0.1", "HostPort": str(port)}
    assert requests.get(c.url(8080), timeout=5).text == "hello docker"
    assert requests.get(c.url(8080, "env/GREETING"), timeout=5).text == "docker"
    assert c.resolve(8080) == ("127.0.0.1", port)
    assert "testapp listening on :8080" in c.logs()


def test_default_readiness_is_the_images_exposed_ports(docker_container_factory, testapp):
    # No ports given: the image's EXPOSE 8080 is published, and readiness waits until it really accepts
    # (Docker's proxy accepts on the host port long before the server listens).
    c = docker_container_factory(testapp, env={"DELAY_MS": "1500"})
    assert "testapp listening" in c.logs()
    assert requests.get(c.url(8080), timeout=5).status_code == 200


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_fixed_host_port_and_command(docker_container_factory, testapp):
    unused_tcp_port = _free_port()
    c = docker_container_factory(
        testapp, command=["serve"], env={"PORT": "9090"}, ports={9090: unused_tcp_port}
    )
    assert c.host_port(9090) == unused_tcp_port
    assert requests.get(f"http://127.0.0.1:{unused_tcp_port}/", timeout=5).text == "hello world"


def test_log_readiness_and_logs_after_stop(docker_services: DockerServices, testapp):
    c = docker_services.start(testapp, command=["sleep"], ports=[], wait=wait.for_log("testapp sleeping"))
    name = c.name
    assert docker_services.client.containers.get(name).labels[LABEL_SESSION] == docker_services.session.id
    assert c.stop() == 0  # SIGTERM handled
    assert "testapp stopping" in c.logs()
    assert c.exit_code == 0
    assert name not in [x.name for x in docker_services.client.containers.list(all=True, ignore_removed=True)]


def test_exit_before_ready_is_a_clear_error(docker_container_factory, testapp):
    with pytest.raises(ContainerExitedError) as info:
        docker_container_factory(testapp, command=["exit", "3"], wait=wait.for_http(8080))
    assert info.value.exit_code == 3
    assert "exited with code 3" in str(info.value)
    assert "testapp exiting with 3" in str(info.value)


def test_for_exit_strategy(docker_container_factory, testapp):
    c = docker_container_factory(testapp, command=["exit", "0"], ports=[], wait=wait.for_exit(0))
    assert c.exit_code == 0
    assert "testapp exiting with 0" in c.logs()


def test_healthcheck_readiness(docker_container_factory, testapp):
    c = docker_container_factory(
        testapp,
        env={"DELAY_MS": "1000"},
        healthcheck={
            "test": ["CMD", "/testapp", "check", "http://127.0.0.1:8080/"],
            "interval": "300ms",
            "retries": 20,
        },
    )
    assert c.health == "healthy"
    assert "healthy" in c.health_log()


def test_unhealthy_fails_at_once(docker_container_factory, testapp):
    with pytest.raises(ContainerError, match="unhealthy") as info:
        docker_container_factory(
            testapp,
            healthcheck={
                "test": ["CMD", "/testapp", "check", "http://127.0.0.1:1/"],
                "interval": "200ms",
                "retries": 2,
            },
            startup_timeout=60,
        )
    assert "unhealthy:" in str(info.value)  # the check's own output is shown


def test_readiness_timeout_names_what_was_awaited(docker_container_factory, testapp):
    with pytest.raises(StartupTimeoutError) as info:
        docker_container_factory(
            testapp, command=["sleep"], wait=wait.for_log("never printed"), startup_timeout=1.5
        )
    assert "never printed" in str(info.value)
    assert "testapp sleeping" in str(info.value)


def test_unpublished_port_is_a_clear_error(docker_container_factory, testapp):
    c = docker_container_factory(testapp, ports=[8080])
    with pytest.raises(ContainerError, match="does not publish container port 5432"):
        c.host_port(5432)


def test_missing_image_is_a_clear_error(docker_services: DockerServices):
    # A registry that refuses connections: the pull fails fast and says what to do.
    with pytest.raises(ImageNotFoundError) as info:
        docker_services.start("127.0.0.1:9/nope/missing:1")
    text = str(info.value)
    assert "127.0.0.1:9/nope/missing:1" in text and "pulling it failed" in text
    assert "WASMCONTAINERS_IMAGE_OVERRIDES" in text


def test_missing_image_with_pull_policy_never(docker_services: DockerServices):
    never = DockerServices(docker_services.client, docker_services.session, pull_policy="never")
    with pytest.raises(ImageNotFoundError, match="pull policy is 'never'"):
        never.start("localhost/not-there:1")


def test_image_override_applies(docker_services: DockerServices, testapp):
    services = DockerServices(
        docker_services.client, docker_services.session, image_overrides={"example/web": testapp}
    )
    c = services.start("example/web:2", ports=[8080])
    try:
        assert c.image == testapp
        assert requests.get(c.url(8080), timeout=5).text == "hello world"
    finally:
        services.close()


def test_unreachable_daemon(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no.sock")
    with pytest.raises(DockerUnavailableError) as info:
        docker_client()
    assert f"{tmp_path}/no.sock" in str(info.value)
    assert "DOCKER_HOST" in str(info.value)


def test_wait_for_exit_and_its_timeout(docker_container_factory, testapp):
    c = docker_container_factory(testapp, command=["sleep"], ports=[], wait=wait.for_log("sleeping"))
    with pytest.raises(WaitTimeoutError, match=r"did not exit within 0\.5 s"):
        c.wait(0.5)
    c.stop()
    assert c.wait(1) == 0


def test_missing_sdk_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "docker", None)  # what a missing package looks like to import
    with pytest.raises(DockerUnavailableError, match=r"pip install 'pytest-wasmcontainers\[docker\]'"):
        docker_client()
