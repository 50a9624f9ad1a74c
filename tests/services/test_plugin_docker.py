"""The plugin's Docker fixtures in a pytest run of their own: skip or fail without Docker, options."""

from __future__ import annotations

import pytest

NEEDS_DOCKER = """
def test_container(docker_container_factory):
    pass

def test_db(mariadb):
    pass
"""


@pytest.fixture
def no_docker(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/absent.sock")
    monkeypatch.delenv("WASMCONTAINERS_REQUIRE_SERVICES", raising=False)


def test_skips_with_the_reason_without_docker(pytester, no_docker, tmp_path):
    pytester.makepyfile(NEEDS_DOCKER)
    result = pytester.runpytest_subprocess("-rs", "-p", "no:cacheprovider")
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines(
        [f"*Docker is not available: cannot reach a Docker daemon at unix://{tmp_path}/absent.sock*"]
    )


def test_fails_without_docker_when_services_are_required(pytester, no_docker, monkeypatch):
    monkeypatch.setenv("WASMCONTAINERS_REQUIRE_SERVICES", "1")
    pytester.makepyfile(NEEDS_DOCKER)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(["*Docker is not available*WASMCONTAINERS_REQUIRE_SERVICES is set*"])


def test_wasm_only_compose_runs_without_docker(pytester, no_docker, wasm_images):
    pytester.makefile(
        ".yml",
        **{
            "docker-compose": f"services:\n  web:\n    image: {wasm_images['webapp']}\n    platform: wasi/wasm\n"
        },
    )
    pytester.makepyfile(
        """
        import requests

        def test_web(wasm_compose):
            project = wasm_compose("docker-compose.yml")
            assert requests.get(project.service("web").url(8080), timeout=5).text.startswith("hello")
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_bad_image_override_is_a_usage_error(pytester, no_docker):
    pytester.makepyfile("def test_compose(wasm_compose):\n    wasm_compose('x.yml')\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--wasm-compose-image", "mariadb")
    result.stderr.fnmatch_lines(["*image override 'mariadb' is not OLD=NEW*"])
    assert result.ret == pytest.ExitCode.USAGE_ERROR


def test_mariadb_image_setting_precedence(pytester, monkeypatch):
    pytester.makeini("[pytest]\nwasm_mariadb_image = from-ini:1\n")
    pytester.makepyfile(
        """
        from pytest_wasmcontainers.plugin import _mariadb_image

        def test_image(pytestconfig):
            print("IMAGE=" + _mariadb_image(pytestconfig))
        """
    )
    monkeypatch.delenv("WASMCONTAINERS_MARIADB_IMAGE", raising=False)
    pytester.runpytest_subprocess("-s", "-p", "no:cacheprovider").stdout.fnmatch_lines(["*IMAGE=from-ini:1*"])
    monkeypatch.setenv("WASMCONTAINERS_MARIADB_IMAGE", "from-env:1")
    pytester.runpytest_subprocess("-s", "-p", "no:cacheprovider").stdout.fnmatch_lines(["*IMAGE=from-env:1*"])
    result = pytester.runpytest_subprocess(
        "-s", "-p", "no:cacheprovider", "--wasm-mariadb-image", "from-cli:1"
    )
    result.stdout.fnmatch_lines(["*IMAGE=from-cli:1*"])
