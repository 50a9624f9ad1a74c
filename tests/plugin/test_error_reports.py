"""Failure reports a person can read: a plugin error is one short block (what was being done, the error,
what to do, the guest's last log lines, where), not hundreds of lines of plugin/requests/urllib3 frames;
``--wasm-traceback`` and ``--full-trace`` bring the whole chain back. Each case runs a small outside test
file with pytester in a subprocess, against a real local registry where one is needed."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_wasmcontainers.images.auth import HOST_ENV, PASSWORD_ENV, USER_ENV
from pytest_wasmcontainers.images.build import push, write_oci_layout
from tests.support.registry import Registry, RegistryFactory, free_port
from tests.support.toolchains import build_c

from .conftest import push_webapp

pytest_plugins = ["pytester"]

GUESTS = Path(__file__).resolve().parent.parent / "guests"
SHORT = 25  # lines: a report longer than this is not one short block any more
Run = Callable[..., pytest.RunResult]


@pytest.fixture
def run(pytester: pytest.Pytester, wasm_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    """``run(*args)``: pytest in a subprocess, with the shared cache and no registry credentials."""
    for name in (USER_ENV, PASSWORD_ENV, HOST_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(pytester.path / "no-docker-config"))

    def go(*args: str) -> pytest.RunResult:
        return pytester.runpytest_subprocess(
            "-p", "no:cacheprovider", f"--wasm-cache-dir={wasm_cache}", *args
        )

    return go


def section(result: pytest.RunResult, test: str) -> list[str]:
    """The lines pytest printed for one failed or erroring test, from its ``___ name ___`` header up to
    the next header or summary line."""
    lines = result.stdout.lines
    header = re.compile(rf"^_+ (ERROR at \w+ of )?{re.escape(test)} _+$")
    start = next((i for i, line in enumerate(lines) if header.match(line)), None)
    assert start is not None, f"no report for {test}:\n" + "\n".join(lines)
    end = next(
        (i for i in range(start + 1, len(lines)) if re.match(r"^(_{3,} |={3,})", lines[i])), len(lines)
    )
    return lines[start:end]


def assert_short(lines: list[str], *expected: str) -> str:
    text = "\n".join(lines)
    assert len(lines) < SHORT, f"{len(lines)} lines:\n{text}"
    for frame in ("Traceback", "site-packages", "urllib3", "pytest_wasmcontainers/", "_pytest/"):
        assert frame not in text, text
    for part in expected:
        assert part in text, f"{part!r} not in:\n{text}"
    assert "(pytest --wasm-traceback shows the whole traceback)" in text
    return text


# --- errors that need no registry -----------------------------------------------------------------
NO_REGISTRY_TESTS = """
import pytest
from pytest_wasmcontainers.errors import RegistryError

@pytest.mark.wasm_container(image="127.0.0.1:{port}/app/web:1")
def test_unreachable(wasm_container):
    pass

@pytest.mark.wasm_container(image="127.0.0.1:{port}/App/Web:1")
def test_bad_reference(wasm_container):
    pass

def test_unreachable_in_the_body(wasm_container_factory):
    wasm_container_factory("127.0.0.1:{port}/app/web:2")

def test_raises_still_catches_it(wasm_container_factory):
    with pytest.raises(RegistryError, match="connection refused"):
        wasm_container_factory("127.0.0.1:{port}/app/web:3")
"""


def test_registry_unreachable_and_bad_reference(pytester: pytest.Pytester, run: Run) -> None:
    port = free_port()  # nothing listens there
    pytester.makepyfile(test_outside=NO_REGISTRY_TESTS.format(port=port))
    result = run("-rfE")
    result.assert_outcomes(passed=1, failed=1, errors=2)
    assert_short(
        section(result, "test_unreachable"),
        f"wasm: pulling 127.0.0.1:{port}/app/web:1 failed",
        f"RegistryError: cannot reach registry 127.0.0.1:{port} at http://127.0.0.1:{port}: "
        "connection refused. Is it running and listening there?",
        "What to do: start the registry or fix the reference's host:port",
    )
    assert_short(
        section(result, "test_bad_reference"),
        f"wasm: pulling 127.0.0.1:{port}/App/Web:1 failed",
        "ImageReferenceError: invalid image reference",
        "repository names must be lowercase: 'App'",
        "Expected [host[:port]/]path/name[:tag]",
    )
    body = assert_short(section(result, "test_unreachable_in_the_body"), "connection refused")
    # A call in the test names the user's line instead of the plugin's frames.
    assert re.search(r"^at test_outside\.py:\d+ in test_unreachable_in_the_body$", body, re.M), body
    # -r keeps the error's first line in the summary.
    result.stdout.fnmatch_lines(["ERROR test_outside.py::test_unreachable - RegistryError: cannot reach*"])


@pytest.mark.parametrize("option", ["--wasm-traceback", "--full-trace"])
def test_traceback_options_show_the_whole_chain(pytester: pytest.Pytester, run: Run, option: str) -> None:
    pytester.makepyfile(test_outside=NO_REGISTRY_TESTS.format(port=free_port()))
    result = run(option, "-k", "test_unreachable_in_the_body")
    result.assert_outcomes(failed=1)
    text = "\n".join(section(result, "test_unreachable_in_the_body"))
    assert "The above exception was the direct cause of the following exception" in text
    for part in ("ConnectionRefusedError", "urllib3", "pytest_wasmcontainers/images/registry.py"):
        assert part in text
    assert "RegistryError: cannot reach registry" in text
    assert "(pytest --wasm-traceback shows the whole traceback)" not in text


# --- errors from a real registry and real guests --------------------------------------------------
@pytest.fixture(scope="module")
def images(
    registry: Registry,
    registry_factory: RegistryFactory,
    webapp_module: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, str]:
    work = tmp_path_factory.mktemp("report-layouts")
    locked = registry_factory(htpasswd=("user", "secret"))
    unsupported = build_c(GUESTS / "c" / "unsupported.c")
    write_oci_layout(work / "unsupported", unsupported, module_name="unsupported.wasm")
    push(work / "unsupported", f"{registry.host}/reports/unsupported:1")
    return {
        "web": push_webapp(registry, webapp_module, work, "reports/web", cmd=["serve"], exposed_ports=[8080]),
        # no ExposedPorts: started without a readiness check, so host_port() in the test meets the exit
        "fail": push_webapp(registry, webapp_module, work, "reports/fail", cmd=["fail"]),
        "missing": f"{registry.host}/reports/missing:1",
        "locked": f"{locked.host}/reports/web:1",
        "unsupported": f"{registry.host}/reports/unsupported:1",
    }


REGISTRY_TESTS = """
import pytest
from pytest_wasmcontainers import wait
from pytest_wasmcontainers.errors import ImageNotFoundError

@pytest.mark.wasm_container(image="{missing}")
def test_not_found(wasm_container):
    pass

@pytest.mark.wasm_container(image="{locked}")
def test_unauthorised(wasm_container):
    pass

@pytest.mark.wasm_container(image="{unsupported}")
def test_unsupported_imports(wasm_container):
    pass

@pytest.mark.wasm_container(image="{web}", command=["fail"])
def test_exits_before_ready(wasm_container):
    pass

@pytest.mark.wasm_container(image="{web}", command=["idle"], startup_timeout=1,
                            wait=wait.all_of(wait.for_log("idle"), wait.for_ports(8080)))
def test_never_ready(wasm_container):
    pass

def test_exits_before_listening_in_the_body(wasm_container_factory):
    container = wasm_container_factory("{fail}")
    container.host_port(8080)

def test_long_log(wasm_container_factory):
    wasm_container_factory("{web}", command=["echo", "0", *[f"line{{i}}" for i in range(40)]])

def test_raises_still_catches_it(wasm_container_factory):
    with pytest.raises(ImageNotFoundError):
        wasm_container_factory("{missing}")
"""


def test_reports_of_registry_and_container_errors(
    pytester: pytest.Pytester, run: Run, images: dict[str, str]
) -> None:
    pytester.makepyfile(test_outside=REGISTRY_TESTS.format(**images))
    result = run()
    result.assert_outcomes(passed=1, failed=2, errors=5)
    assert_short(
        section(result, "test_not_found"),
        f"wasm: pulling {images['missing']} failed",
        "ImageNotFoundError: registry",
        "(HTTP 404): check the image name and tag",
    )
    assert_short(
        section(result, "test_unauthorised"),
        f"wasm: pulling {images['locked']} failed",
        "RegistryAuthError:",
        "refused access to reports/web (HTTP 401)",
        f"docker login {images['locked'].split('/')[0]}",
    )
    assert_short(
        section(result, "test_unsupported_imports"),
        f"wasm: starting a container of {images['unsupported']} failed",
        "UnsupportedImportsError:",
        "wasi_snapshot_preview1.sock_frobnicate",
        "What to do: build the guest for plain WASI",
    )
    exited = assert_short(
        section(result, "test_exits_before_ready"),
        f"wasm: starting a container of {images['web']} failed",
        "ContainerExitedError: wasm container",
        "exited with code 3 while waiting for listening on container port(s) 8080",
        "What to do: the guest's last log lines say why it stopped",
        "Last log lines:",
        "  | webapp: cannot start: bad config",
    )
    # The whole (one-line) log is in the block: no second copy in a section.
    assert exited.count("webapp: cannot start: bad config") == 1
    assert_short(
        section(result, "test_never_ready"),
        "StartupTimeoutError: wasm container",
        "was not ready after 1 s waiting for all of (a log line matching 'idle'; listening on",
        "What to do: if the guest is only slow, give it longer (startup_timeout=...",
        "  | webapp: idle, not listening",
    )
    body = assert_short(
        section(result, "test_exits_before_listening_in_the_body"),
        "to listen on port 8080 failed",
        "ContainerExitedError:",
        "exited (code 3) before listening on port 8080",
        "  | webapp: cannot start: bad config",
    )
    assert re.search(r"^at test_outside\.py:\d+ in test_exits_before_listening_in_the_body$", body, re.M)
    assert body.count("webapp: cannot start: bad config") == 1  # the handed-out container's log section


def test_long_log_is_cut_in_the_block_and_attached_whole(
    pytester: pytest.Pytester, run: Run, images: dict[str, str]
) -> None:
    pytester.makepyfile(test_outside=REGISTRY_TESTS.format(**images))
    result = run("-k", "test_long_log")
    result.assert_outcomes(failed=1)
    lines = section(result, "test_long_log")
    cut = next(i for i, line in enumerate(lines) if line.startswith("-"))  # the whole log's section
    assert_short(
        lines[:cut],
        "ContainerExitedError:",
        "exited with code 0 while waiting for listening",
        "earlier lines",
        "  | arg 42: line39",
        "  | GREETING=",
    )
    assert "arg 3: line0" not in "\n".join(lines[:cut])
    assert "wasm container that failed to start" in lines[cut]
    assert "arg 3: line0" in "\n".join(lines[cut:])


def test_traceback_option_keeps_the_container_sections(
    pytester: pytest.Pytester, run: Run, images: dict[str, str]
) -> None:
    pytester.makepyfile(test_outside=REGISTRY_TESTS.format(**images))
    result = run("--wasm-traceback", "-k", "test_exits_before_ready")
    result.assert_outcomes(errors=1)
    text = "\n".join(section(result, "test_exits_before_ready"))
    assert "pytest_wasmcontainers/wait.py" in text  # the plugin's frames are back
    assert "wasm container that failed to start" in text
