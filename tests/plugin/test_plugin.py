"""The plugin as users meet it: pytester runs in a subprocess against a real registry and the real runtime."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from tests.support.registry import Registry

from .conftest import HERE, push_webapp

pytest_plugins = ["pytester"]


@pytest.fixture
def run(pytester: pytest.Pytester, wasm_cache: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """``run(*args)``: pytest in a subprocess with the shared cache and the leak checker loaded."""
    out = pytester.path / "leakcheck.json"
    monkeypatch.setenv("LEAKCHECK_OUT", str(out))
    monkeypatch.setenv("PYTHONPATH", str(HERE), prepend=":")

    def go(*args: str) -> tuple[pytest.RunResult, dict[str, object]]:
        result = pytester.runpytest_subprocess(
            "-p", "leakcheck", "-p", "no:cacheprovider", f"--wasm-cache-dir={wasm_cache}", *args
        )
        report = json.loads(out.read_text()) if out.exists() else {}
        return result, report

    return go


def assert_no_leaks(report: dict[str, object], containers: int) -> None:
    assert report["containers"] == containers
    assert report["running"] == [] and report["open_ports"] == [] and report["guest_threads"] == []


def test_outside_project_with_only_a_test_file(
    pytester: pytest.Pytester,
    run,
    webapp_image: str,  # type: ignore[no-untyped-def]
) -> None:
    pytester.makepyfile(
        test_outside="""
        import requests

        def test_x(wasm_container):
            r = requests.get(wasm_container.url(8080))
            assert r.status_code == 200
            assert r.text == "hello image /\\n"
        """
    )
    result, report = run("--wasm-image", webapp_image)
    result.assert_outcomes(passed=1)
    assert_no_leaks(report, containers=1)
    assert len(report["ports"]) == 1  # type: ignore[arg-type]


def test_factory_logical_names_marker_and_settings(pytester: pytest.Pytester, run, webapp_image: str) -> None:  # type: ignore[no-untyped-def]
    pytester.makepyfile(
        """
        import pytest, requests
        from pytest_wasmcontainers import wait

        def test_factory(wasm_container_factory):
            a = wasm_container_factory("app", env={"GREETING": "a"})
            b = wasm_container_factory("app", env={"GREETING": "b"}, name="second")
            assert a.host_port(8080) != b.host_port(8080)
            assert requests.get(a.url(8080, "/x")).text == "hello a /x\\n"
            assert requests.get(b.url(8080)).text == "hello b /\\n"
            assert b.name == "second"

        def test_command_image(wasm_container_factory):
            c = wasm_container_factory("app", command="echo hi", wait=wait.for_exit(0))
            assert c.exit_code == 0 and "arg 2: hi" in c.logs()

        @pytest.mark.wasm_container(image="app", env={"GREETING": "marked"},
                                    wait=wait.for_http(8080, "/health", body="marked"))
        def test_marker(wasm_container):
            # guest output reaches logs() through a pipe the runtime drains, so poll for the line
            wait.wait_until_ready(wasm_container, wait.for_log("GET /health"), 10)
            assert requests.get(wasm_container.url(8080)).text == "hello marked /\\n"
        """
    )
    result, report = run("--wasm-image", f"app={webapp_image}")
    result.assert_outcomes(passed=3)
    assert_no_leaks(report, containers=4)


def test_failing_test_shows_container_logs(pytester: pytest.Pytester, run, webapp_image: str) -> None:  # type: ignore[no-untyped-def]
    pytester.makepyfile(
        """
        import requests
        from pytest_wasmcontainers import wait

        def test_fails(wasm_container):
            requests.get(wasm_container.url(8080, "/seen-in-report"))
            wait.wait_until_ready(wasm_container, wait.for_log("GET /seen-in-report"), 10)
            assert False, "boom"

        def test_passes(wasm_container):
            pass
        """
    )
    result, report = run("--wasm-image", webapp_image)
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    assert re.search(r"-+ wasm container webapp-\d+ \(.*plugin/webapp:1, (running|exit code \d+)\) -+", out)
    assert "webapp: GET /seen-in-report" in out
    assert out.count("webapp: listening on 8080") == 1  # only the failing test's logs
    assert_no_leaks(report, containers=2)


def test_error_paths(pytester: pytest.Pytester, run, webapp_image: str, registry: Registry) -> None:  # type: ignore[no-untyped-def]
    pytester.makepyfile(
        f"""
        import pytest
        from pytest_wasmcontainers import wait

        def test_exits_before_listening(wasm_container_factory):
            wasm_container_factory("app", command=["fail"], startup_timeout=120)

        @pytest.mark.wasm_container(image="app", command=["idle"], startup_timeout=3,
                                    wait=wait.all_of(wait.for_log("idle"), wait.for_ports(8080)))
        def test_never_ready(wasm_container):
            pass

        def test_missing_image(wasm_container_factory):
            wasm_container_factory("{registry.host}/plugin/missing:1")
        """
    )
    # --wasm-traceback: the classic report (test_error_reports.py checks the short one)
    result, report = run("--wasm-image", f"app={webapp_image}", "--tb=short", "--wasm-traceback")
    result.assert_outcomes(failed=2, errors=1)
    out = result.stdout.str()
    assert "ContainerExitedError: wasm container" in out
    assert "exited with code 3 while waiting for listening on container port(s) 8080" in out
    assert "| webapp: cannot start: bad config" in out
    assert "StartupTimeoutError: wasm container" in out
    assert "was not ready after 3 s waiting for all of (a log line matching 'idle'; listening on" in out
    assert "| webapp: idle, not listening" in out
    assert "plugin/missing:1" in out and "ImageNotFoundError" in out
    # The whole log of a container that never became ready is attached to the report too.
    assert out.count("wasm container that failed to start") == 2
    assert_no_leaks(report, containers=0)


def test_hooks_from_a_small_plugin(pytester: pytest.Pytester, run, webapp_image: str) -> None:  # type: ignore[no-untyped-def]
    pytester.makeconftest(
        """
        events = []

        def pytest_wasmcontainers_before_start(settings):
            events.append(("before_start", settings.image))
            settings.env = {**(settings.env or {}), "GREETING": "from-hook"}

        def pytest_wasmcontainers_image_pulled(image, stats):
            events.append(("image_pulled", image.reference, type(stats.seconds).__name__))

        def pytest_wasmcontainers_ready(container):
            events.append(("ready", container.name, container.running))

        def pytest_wasmcontainers_stopped(container, exit_code, logs):
            events.append(("stopped", container.name, exit_code, "listening on 8080" in logs))

        def pytest_sessionfinish(session):
            print("EVENTS", events)
        """
    )
    pytester.makepyfile(
        """
        import requests

        def test_one(wasm_container):
            assert requests.get(wasm_container.url(8080)).text == "hello from-hook /\\n"

        def test_two(wasm_container_factory):
            wasm_container_factory(name="two")
        """
    )
    result, _ = run("--wasm-image", webapp_image, "-s")
    result.assert_outcomes(passed=2)
    found = re.search(r"EVENTS (\[.*\])", result.stdout.str())
    assert found, result.stdout.str()
    events = ast.literal_eval(found.group(1))
    first = events[2][1]
    assert events == [
        ("before_start", webapp_image),
        ("image_pulled", webapp_image, "float"),
        ("ready", first, True),
        ("stopped", first, 137, True),
        ("before_start", webapp_image),
        ("ready", "two", True),
        ("stopped", "two", 137, True),
    ]


def test_session_factory_shares_a_container_and_verbose_summary(
    pytester: pytest.Pytester,
    run,
    webapp_image: str,  # type: ignore[no-untyped-def]
) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.fixture(scope="session")
        def shared(wasm_container_session_factory):
            return wasm_container_session_factory("app")

        PORTS = []

        def test_a(shared):
            PORTS.append(shared.host_port(8080))

        def test_b(shared):
            PORTS.append(shared.host_port(8080))
            assert PORTS[0] == PORTS[1] and shared.running
        """
    )
    result, report = run("--wasm-image", f"app={webapp_image}", "-v")
    result.assert_outcomes(passed=2)
    assert_no_leaks(report, containers=1)
    result.stdout.fnmatch_lines(
        [
            "*= wasm containers: pull, compile, start =*",
            f"{webapp_image}  sha256:*",
            "  pull * s (*)",
            "  1 container(s): compile or cache load * s (*/1 from cache), start * s, ready * s",
        ]
    )


def test_ctrl_c_stops_containers(pytester: pytest.Pytester, run, webapp_image: str) -> None:  # type: ignore[no-untyped-def]
    pytester.makepyfile(
        """
        def test_interrupted(wasm_container_factory):
            wasm_container_factory("app")
            wasm_container_factory("app")
            raise KeyboardInterrupt
        """
    )
    result, report = run("--wasm-image", f"app={webapp_image}")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert_no_leaks(report, containers=2)


def test_xdist_four_workers_share_one_cache(
    pytester: pytest.Pytester,
    run,
    webapp_module: Path,
    registry: Registry,
    tmp_path: Path,
) -> None:
    # A fresh image so the four workers race to pull it into the one cache.
    ref = push_webapp(registry, webapp_module, tmp_path, "plugin/xdist", cmd=["serve"], exposed_ports=[8080])
    pytester.makepyfile(
        """
        import os, pytest, requests

        @pytest.mark.parametrize("n", range(8))
        def test_serve(wasm_container, n):
            port = wasm_container.host_port(8080)
            assert requests.get(wasm_container.url(8080, f"/{n}")).text == f"hello world /{n}\\n"
            print("PORT", os.environ["PYTEST_XDIST_WORKER"], port)
        """
    )
    cache = tmp_path / "empty-cache"
    result, _ = run("--wasm-image", ref, "-n", "4", "-v", "-s", f"--wasm-cache-dir={cache}")
    result.assert_outcomes(passed=8)
    images = [p for p in (cache / "images").iterdir() if p.is_dir()]
    assert len(images) == 1  # one unpacked image in the shared cache, not one per worker
    result.stdout.fnmatch_lines(["*= wasm containers: pull, compile, start =*", f"{ref}  sha256:*"])
    pulls = [line for line in result.stdout.lines if line.startswith("  pull ")]
    assert len(pulls) == 4  # one per worker, merged into the controller's summary
    assert sum("downloaded" in line for line in pulls) == 1  # only one worker downloaded it


def test_slow_pulls_show_layer_progress(
    pytester: pytest.Pytester,
    run,
    webapp_module: Path,
    registry: Registry,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    # Loopback pulls are never slow, so the threshold is lowered to 0 for this run.
    ref = push_webapp(
        registry, webapp_module, tmp_path, "plugin/progress", cmd=["serve"], exposed_ports=[8080]
    )
    pytester.makeconftest("import pytest_wasmcontainers.plugin as p\np.PROGRESS_AFTER = 0.0\n")
    pytester.makepyfile("def test_x(wasm_container):\n    assert wasm_container.running\n")
    result, _ = run("--wasm-image", ref, f"--wasm-cache-dir={tmp_path / 'fresh-cache'}")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"wasm pull {ref}: sha256:* * MiB / * MiB", f"wasm pull {ref}: done in * s"])


def test_quick_pulls_stay_quiet(pytester: pytest.Pytester, run, webapp_image: str) -> None:  # type: ignore[no-untyped-def]
    pytester.makepyfile("def test_x(wasm_container):\n    assert wasm_container.running\n")
    result, _ = run("--wasm-image", webapp_image)
    result.assert_outcomes(passed=1)
    assert "wasm pull" not in result.stdout.str()


def test_pull_policy_reaches_the_pull(
    pytester: pytest.Pytester, run, webapp_image: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    pytester.makepyfile("def test_x(wasm_container):\n    pass\n")
    empty = tmp_path / "never-filled"
    result, report = run(
        "--wasm-image", webapp_image, "--wasm-pull-policy=never", f"--wasm-cache-dir={empty}"
    )
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*is not in the image cache*the pull policy is 'never'*"])
    assert_no_leaks(report, containers=0)
