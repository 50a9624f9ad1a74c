"""Fixtures for the plugin tests: the webapp guest built from C, packed as a wasi/wasm image and pushed to
a real local registry (``tests/support/registry.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_wasmcontainers.images.build import push, write_oci_layout
from pytest_wasmcontainers.session import SessionConfig, WasmSession
from tests.support.registry import Registry, registry, registry_factory  # noqa: F401  (fixtures)
from tests.support.toolchains import build_c

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def webapp_module() -> Path:
    return build_c(HERE / "guests" / "webapp.c")


def push_webapp(reg: Registry, module: Path, workdir: Path, repo: str, **config: object) -> str:
    layout = workdir / repo.replace("/", "-")
    write_oci_layout(layout, module, module_name="webapp.wasm", **config)  # type: ignore[arg-type]
    ref = f"{reg.host}/{repo}:1"
    push(layout, ref)
    return ref


@pytest.fixture(scope="session")
def webapp_image(
    registry: Registry,  # noqa: F811  (the fixture)
    webapp_module: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> str:
    """A server image: Entrypoint /webapp.wasm, Cmd serve, ExposedPorts 8080, Env GREETING=image."""
    return push_webapp(
        registry,
        webapp_module,
        tmp_path_factory.mktemp("layouts"),
        "plugin/webapp",
        cmd=["serve"],
        env={"GREETING": "image"},
        exposed_ports=[8080],
    )


@pytest.fixture(scope="session")
def wasm_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One image/compiled-module cache for every session these tests make (in-process and pytester)."""
    return tmp_path_factory.mktemp("wasm-cache")


@pytest.fixture
def session(wasm_cache: Path) -> Iterator[WasmSession]:
    s = WasmSession(SessionConfig(cache_dir=wasm_cache, startup_timeout=20))
    yield s
    s.close()
