"""Options, ini settings, env vars and usage errors, through pytester (no registry or runtime needed)."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

SHOW_CONFIG = """
def test_show(wasm_session):
    c = wasm_session.config
    print("CONFIG", sorted(c.images.items()), c.pull_policy, c.cache_dir, c.insecure_registries, c.startup_timeout)
"""


def test_help_shows_the_options_in_their_own_group(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(["*Wasm containers (pytest-wasmcontainers):*"])
    out = result.stdout.str()
    for option in (
        "--wasm-image=[NAME=]REF",
        "--wasm-pull-policy",
        "--wasm-cache-dir",
        "--wasm-insecure-registry",
        "--wasm-startup-timeout",
    ):
        assert option in out
    for ini in (
        "wasm_image",
        "wasm_pull_policy",
        "wasm_cache_dir",
        "wasm_insecure_registries",
        "wasm_startup_timeout",
    ):
        assert ini in out


def test_command_line_beats_env_beats_ini(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makeini(
        """
        [pytest]
        wasm_image =
            ini.example/default:1
            db=ini.example/db:1
        wasm_pull_policy = never
        wasm_startup_timeout = 5
        wasm_insecure_registries = ini-registry:5000
        """
    )
    pytester.makepyfile(SHOW_CONFIG)
    monkeypatch.setenv("WASMCONTAINERS_STARTUP_TIMEOUT", "7")
    monkeypatch.setenv("WASMCONTAINERS_INSECURE_REGISTRIES", "env-a:1,env-b:2")
    cache = pytester.path / "cache"
    result = pytester.runpytest_subprocess(
        "-s",
        "--wasm-image",
        "app=cli.example/app:2",
        "--wasm-image",
        "cli.example/default:2",
        "--wasm-pull-policy",
        "always",
        "--wasm-cache-dir",
        str(cache),
        "--wasm-insecure-registry",
        "cli:3",
    )
    result.assert_outcomes(passed=1)
    assert (
        "CONFIG [('', 'cli.example/default:2'), ('app', 'cli.example/app:2'), ('db', 'ini.example/db:1')] "
        f"always {cache} ('ini-registry:5000', 'env-a:1', 'env-b:2', 'cli:3') 7.0"
    ) in result.stdout.str()


def test_no_image_is_a_usage_error_not_a_skip(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(wasm_container):\n    pass\n")
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*usage error: no Wasm image given: run pytest with --wasm-image REF (or NAME=REF), set the ini "
            "option wasm_image, or pass image=... to @pytest.mark.wasm_container*"
        ]
    )
    assert "Traceback" not in result.stdout.str()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--wasm-startup-timeout", "soon"], "*wasm startup timeout 'soon' is not a number of seconds*"),
        (["--wasm-startup-timeout", "-1"], "*startup timeout must be a positive number of seconds*"),
        (["--wasm-image", "app="], "*NAME=REF needs a reference after '='*"),
        (["--wasm-pull-policy", "sometimes"], "*invalid choice: 'sometimes'*"),
    ],
)
def test_bad_options_are_usage_errors(pytester: pytest.Pytester, args: list[str], message: str) -> None:
    pytester.makepyfile("def test_x():\n    pass\n")
    result = pytester.runpytest_subprocess(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_bad_ini_pull_policy_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nwasm_pull_policy = sometimes\n")
    pytester.makepyfile("def test_x():\n    pass\n")
    result = pytester.runpytest_subprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*pull policy 'sometimes' is not one of missing, always, never*"])


def test_unknown_marker_setting_is_reported(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.wasm_container(image="x.example/a:1", port=8080)
        def test_x(wasm_container):
            pass
        """
    )
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*usage error: @pytest.mark.wasm_container: unknown setting(s) port; known: *ports*"]
    )


def test_marker_is_registered_for_strict_markers(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.wasm_container(image=None, **settings):*"])


def test_logical_names_resolve_to_references(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_resolve(wasm_session):
            assert wasm_session.resolve("app") == "reg.example/app:1"
            assert wasm_session.resolve(None) == "reg.example/main:1"
            assert wasm_session.resolve("other.example/x:2") == "other.example/x:2"
        """
    )
    result = pytester.runpytest_subprocess(
        "--wasm-image=app=reg.example/app:1", "--wasm-image=reg.example/main:1"
    )
    result.assert_outcomes(passed=1)
