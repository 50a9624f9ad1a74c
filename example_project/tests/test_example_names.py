"""How the service finds `db`: DNS over TCP when DNS_SERVER is set (answered in-process from the
container's name table by runtime.dns), sock_getaddrinfo otherwise. No database needed: the name
points at a closed port, so a resolved name shows up as "connection refused" at that address."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import build_image
import pytest
import requests
from orderflow import TIMEOUT

from pytest_wasmcontainers.runtime.runtime import Runtime
from pytest_wasmcontainers.runtime.spec import RunSpec, StaticEndpoint

DNS = "127.0.0.11:53"


@pytest.fixture(scope="module")
def runtime() -> Iterator[Runtime]:
    rt = Runtime()
    try:
        yield rt
    finally:
        rt.close()


@pytest.fixture(scope="module")
def module_file() -> Path:
    return build_image.build_wasm()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def init_error(runtime: Runtime, module_file: Path, url: str, dns: bool) -> str:
    env = {"DATABASE_URL": url}
    if dns:
        env["DNS_SERVER"] = DNS
    spec = RunSpec(
        module_file=module_file,
        argv=["/orderservice.wasm"],
        env=env,
        ports={8080: None},
        hosts={"db": StaticEndpoint("127.0.0.1", {3306: closed_port()})},
        dns_servers=[DNS] if dns else [],
    )
    proc = runtime.start(spec)
    try:
        port = proc.wait_for_port(8080, timeout=30)
        resp = requests.get(f"http://127.0.0.1:{port}/init", timeout=TIMEOUT)
        assert resp.status_code == 500, resp.text
        return str(resp.json()["error"])
    finally:
        proc.stop()


@pytest.mark.parametrize("dns", [True, False], ids=["dns-over-tcp", "getaddrinfo"])
def test_linked_name_resolves_and_connects_to_its_endpoint(
    runtime: Runtime, module_file: Path, dns: bool
) -> None:
    error = init_error(runtime, module_file, "mysql://root:pw@db:3306/mysql", dns)
    assert error.startswith("cannot reach the database at db:3306: connect ")
    assert "refused" in error.lower()


def test_unknown_name_over_dns_is_nxdomain(runtime: Runtime, module_file: Path) -> None:
    error = init_error(runtime, module_file, "mysql://root:pw@nosuch.invalid:3306/mysql", dns=True)
    assert "lookup nosuch.invalid: no such host (NXDOMAIN)" in error
