"""The order service's Go unit tests (MySQL protocol pieces, DNS over TCP, JSON), run on the host."""

from __future__ import annotations

import subprocess

import build_image


def test_go_unit_tests_pass() -> None:
    proc = subprocess.run(
        ["go", "test", "-count=1", "./..."],
        cwd=build_image.APP,
        env=build_image.go_env(wasm=False),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "FAIL" not in proc.stdout
    for package in ("orderservice\t", "orderservice/mysql", "orderservice/dnstcp"):
        assert f"ok  \t{package}" in proc.stdout
