"""Skip-or-fail for tests that need an outside service (registry binary, dockerd, ...).

On a developer laptop a missing service skips the test with the reason; in CI
(``WASMCONTAINERS_REQUIRE_SERVICES=1``) the same condition fails it, so CI can never go green on skips.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

REQUIRE_ENV = "WASMCONTAINERS_REQUIRE_SERVICES"


def services_required() -> bool:
    return os.environ.get(REQUIRE_ENV, "").lower() in ("1", "true", "yes")


def unavailable(reason: str) -> NoReturn:
    if services_required():
        pytest.fail(f"{reason} ({REQUIRE_ENV} is set, so this is a failure, not a skip)", pytrace=False)
    pytest.skip(reason)
