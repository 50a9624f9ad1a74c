from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pytest_wasmcontainers.images import ImageCache
from pytest_wasmcontainers.images.build import push, write_oci_layout
from tests.support.oci_build import noop_module
from tests.support.registry import Registry, registry, registry_factory  # noqa: F401  (fixtures)

_names = itertools.count()

Publish = Callable[..., str]


@pytest.fixture
def cache(tmp_path: Path) -> ImageCache:
    return ImageCache(tmp_path / "cache")


@pytest.fixture
def module(request: pytest.FixtureRequest) -> bytes:
    return noop_module(request.node.nodeid)


@pytest.fixture
def publish(registry: Registry, tmp_path: Path, module: bytes) -> Publish:  # noqa: F811
    """Build a layout with write_oci_layout(**kw) and push it; return the reference pulled back."""

    def _publish(
        repo: str | None = None, *, tag: str = "v1", target: Registry | None = None, **kw: Any
    ) -> str:
        reg = target or registry
        name = repo or f"test/app{next(_names)}"
        layout = tmp_path / f"layout-{name.replace('/', '-')}-{tag}"
        kw.setdefault("module", module)
        write_oci_layout(layout, tag=tag, **kw)
        ref = f"{reg.host}/{name}:{tag}"
        push(layout, ref)
        return ref

    return _publish
