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
    # auto would run MariaDB as a local process where mariadbd is installed (tests/services/test_local.py)
    monkeypatch.setenv("WASMCONTAINERS_SERVICES_BACKEND", "docker")


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
    from pytest_wasmcontainers.plugin import _mariadb_image

    monkeypatch.delenv("WASMCONTAINERS_MARIADB_IMAGE", raising=False)
    assert _mariadb_image(pytester.parseconfig()) == "mariadb:10.11"
    pytester.makeini("[pytest]\nwasm_mariadb_image = from-ini:1\n")
    assert _mariadb_image(pytester.parseconfig()) == "from-ini:1"
    monkeypatch.setenv("WASMCONTAINERS_MARIADB_IMAGE", "from-env:1")
    assert _mariadb_image(pytester.parseconfig()) == "from-env:1"
    assert _mariadb_image(pytester.parseconfig("--wasm-mariadb-image", "from-cli:1")) == "from-cli:1"


def test_failed_test_report_shows_container_logs(pytester, testapp):
    pytester.makepyfile(
        f"""
        def test_fails(docker_container_factory):
            docker_container_factory({testapp!r}, env={{"GREETING": "visible-in-report"}})
            assert False, "on purpose"
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*docker container wasmc-*testapp*running*", "*testapp listening on :8080*"])


def test_session_end_removes_what_tests_left_running(pytester, testapp, docker_services):
    # Started on the session's services directly (not a per-test factory): the session's end removes it.
    pytester.makepyfile(
        f"""
        import pathlib

        def test_leaves_one(docker_services):
            c = docker_services.start({testapp!r}, command=["sleep"], ports=[])
            pathlib.Path("name.txt").write_text(c.name)
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    name = (pytester.path / "name.txt").read_text()
    assert name and name not in [
        c.name for c in docker_services.client.containers.list(all=True, ignore_removed=True)
    ]
