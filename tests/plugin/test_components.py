"""WASI 0.2 components as images, through the session and the pytest fixtures: the same contract
as p1 images (url, host_port, logs, stop, links), in each image format that carries a component."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from pytest_wasmcontainers import ContainerSettings, wait
from pytest_wasmcontainers.errors import WasmRuntimeError
from pytest_wasmcontainers.images.build import push, write_oci_layout
from pytest_wasmcontainers.session import WasmSession
from tests.runtime_p2.conftest import c_command, proxy_guest
from tests.support.registry import Registry

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def images(registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The proxy component in every format, pushed to a real registry."""
    work = tmp_path_factory.mktemp("component-layouts")
    refs = {}
    formats = {
        "docker-wasm-wasip2": {"kind": "docker-wasm", "platform": "wasip2/wasm"},
        "docker-wasm-wasi": {"kind": "docker-wasm", "platform": "wasi/wasm"},
        "component-layer": {"kind": "component-layer"},
        "wasm-artifact": {"kind": "wasm-artifact"},
        "exposes-80": {"kind": "docker-wasm", "platform": "wasip2/wasm", "exposed_ports": [80]},
    }
    for name, how in formats.items():
        layout = work / name
        write_oci_layout(layout, proxy_guest(), module_name="proxy.wasm", **how)  # type: ignore[arg-type]
        refs[name] = f"{registry.host}/components/{name}:1"
        push(layout, refs[name])
    return refs


@pytest.mark.parametrize(
    "fmt", ["docker-wasm-wasip2", "docker-wasm-wasi", "component-layer", "wasm-artifact"]
)
def test_proxy_image_formats(session: WasmSession, images: dict[str, str], fmt: str) -> None:
    c = session.start(ContainerSettings(images[fmt], env={"GREETING": fmt}))
    port = c.host_port(8080)  # ready on 8080 without being told: it is a proxy
    assert c.ports == {8080: port}
    assert requests.get(c.url(8080, "/env?name=GREETING"), timeout=30).text == fmt
    doc = requests.get(c.url(8080, "/info"), timeout=30).json()
    assert doc["authority"] == f"127.0.0.1:{port}"
    session.stop(c)
    assert not c.running and c.exit_code == 137


def test_a_proxy_calls_another_container_by_name(session: WasmSession, images: dict[str, str]) -> None:
    backend = session.start(ContainerSettings(images["component-layer"], env={"GREETING": "from backend"}))
    front = session.start(ContainerSettings(images["docker-wasm-wasip2"], links={"backend": backend}))
    got = requests.get(front.url(8080, "/fetch?url=http://backend:8080/env%3Fname=GREETING"), timeout=30)
    doc = json.loads(got.text)
    assert doc["status"] == 200 and doc["body"] == "from backend"


def test_command_component_file(session: WasmSession) -> None:
    comp = c_command()
    settings = ContainerSettings(
        str(comp), command=[f"/{comp.name}", "echo", "hi"], env={"FOO": "x"}, wait=wait.for_exit(0)
    )
    c = session.start(settings)
    assert c.exit_code == 0, c.logs()
    assert "arg[1]=echo\narg[2]=hi\n" in c.stdout() and "FOO=x" in c.stdout()


def test_the_fixture_serves_a_proxy(
    pytester: pytest.Pytester, images: dict[str, str], wasm_cache: Path
) -> None:
    pytester.makepyfile(
        f"""
        import requests

        def test_it(wasm_container_factory):
            c = wasm_container_factory({images["component-layer"]!r}, env={{"GREETING": "fixture"}})
            assert requests.get(c.url(8080, "/env?name=GREETING"), timeout=30).text == "fixture"
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", f"--wasm-cache-dir={wasm_cache}")
    result.assert_outcomes(passed=1)


def test_a_proxy_is_ready_on_8080_whatever_the_image_exposes(
    session: WasmSession, images: dict[str, str]
) -> None:
    c = session.start(ContainerSettings(images["exposes-80"], env={"GREETING": "exposed"}))
    assert requests.get(c.url(8080, "/env?name=GREETING"), timeout=30).text == "exposed"


def test_mapping_another_port_of_a_proxy_is_a_clear_error(
    session: WasmSession, images: dict[str, str]
) -> None:
    with pytest.raises(
        WasmRuntimeError, match=r"served on guest port 8080 only, so guest port\(s\) 80 can never"
    ):
        session.start(ContainerSettings(images["component-layer"], ports={80: None}))
