"""``clock=`` through the fixture: a frozen clock the test advances, and the default real clock."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from tests.runtime.conftest import c_guest


def _wait_for(container: Any, pattern: str, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while not re.search(pattern, container.logs()):
        assert time.monotonic() < deadline, container.logs()
        time.sleep(0.02)
    return str(container.logs())


def test_a_frozen_clock_is_advanced_by_the_test(wasm_container_factory: Any) -> None:
    app = wasm_container_factory(str(c_guest("clock_control")), command=["token"], clock="frozen", ports=[])
    _wait_for(app, r"issued \d+")
    time.sleep(0.2)
    before = app.clock.now()
    app.clock.advance(3600)
    assert app.wait(10) == 0, app.logs()
    assert "expired after 3600 s" in app.logs()
    assert (app.clock.now() - before).total_seconds() == pytest.approx(3600)


def test_the_real_clock_cannot_be_moved(wasm_container_factory: Any) -> None:
    app = wasm_container_factory(str(c_guest("clock_control")), command=["now"], ports=[])
    assert app.wait(10) == 0
    seconds = int(re.findall(r"now (\d+)", app.logs())[0])
    assert abs(seconds - time.time()) < 5
    with pytest.raises(ValueError, match="start it with clock='frozen'"):
        app.clock.advance(1)
