"""WasmEdge parity for published p1 images, through the fixtures users call: QuickJS's file calls
from the working directory, every line in ``logs()`` with ``tty``, the module as the program of a
Wasm artifact, and relative paths against ``WorkingDir`` for C, Rust std and Go guests."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests

from pytest_wasmcontainers.images.build import push, write_oci_layout
from tests.runtime.conftest import GUESTS, c_guest, go_guest
from tests.support.registry import Registry
from tests.support.toolchains import build_c

pytestmark = pytest.mark.slow

FILES = {
    "/app/data.txt": b"hello from app\n",
    "/app/page.html": b"<p>page</p>",
    "/etc/motd": b"the root motd\n",
    "/data.txt": b"WRONG: the root's data.txt\n",
}
WORKDIR_OUTPUT = "read: hello from app\nstat: 15\ndir: data.txt page.html\nwrote\nabs: the root motd\ndone\n"


@pytest.fixture(scope="module")
def images(
    registry: Registry, webapp_module: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    work = tmp_path_factory.mktemp("parity-layouts")
    layouts: dict[str, tuple[Path, dict[str, object]]] = {
        "artifact": (webapp_module, {"kind": "wasm-artifact", "module_name": "webapp.wasm"}),
        "qjs-site": (
            c_guest("qjs_loop"),
            {
                "module_name": "wasmedge_quickjs.wasm",
                "working_dir": "/site",
                "env": {"DIR": "."},
                "exposed_ports": [8080],
                "extra_files": {"/site/hello.txt": b"<h1>a site</h1>", "/site/b.js": b""},
            },
        ),
        "workdir-c": (build_c(GUESTS / "c" / "workdir.c"), {"working_dir": "/app", "extra_files": FILES}),
        "workdir-rust-std": (
            build_c(GUESTS / "c" / "workdir.c", flags=("-O2", "-DRUST_STD")),
            {"working_dir": "/app", "extra_files": FILES},
        ),
        "workdir-go": (go_guest("go-workdir"), {"working_dir": "/app", "extra_files": FILES}),
    }
    refs = {}
    for name, (module, how) in layouts.items():
        write_oci_layout(work / name, module, **how)  # type: ignore[arg-type]
        refs[name] = f"{registry.host}/parity/{name}:1"
        push(work / name, refs[name])
    return refs


def test_quickjs_site_serves_its_file_from_the_working_directory(wasm_container_factory, images) -> None:  # type: ignore[no-untyped-def]
    """server.js: fs.readFile('./index.html') and fs.readdir('.'), each file opened with fdflag SYNC."""
    site = wasm_container_factory(images["qjs-site"])
    for _ in range(2):
        assert requests.get(site.url(8080), timeout=30).text == "<h1>a site</h1>"
    logs = _wait_for(site, "fs done")
    assert "readdir: b.js hello.txt" in logs
    assert "stat: 15" in logs and "readFile: <h1>a site</h1>" in logs and "writeFile: 7" in logs
    assert "FAIL" not in logs


@pytest.mark.parametrize("guest", ["workdir-c", "workdir-rust-std", "workdir-go"])
def test_relative_paths_resolve_in_the_working_directory(wasm_container_factory, images, guest: str) -> None:  # type: ignore[no-untyped-def]
    c = wasm_container_factory(images[guest])
    assert c.wait(60) == 0, c.logs()
    assert c.logs() == WORKDIR_OUTPUT


@pytest.mark.parametrize("guest", ["workdir-c", "workdir-go"])
def test_a_working_dir_in_a_volume_writes_there(
    wasm_container_factory, images, guest: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "data.txt").write_text("hello from app\n")
    (tmp_path / "page.html").write_text("<p>page</p>")
    c = wasm_container_factory(images[guest], volumes={tmp_path: "/work"}, working_dir="/work")
    assert c.wait(60) == 0, c.logs()
    assert c.logs() == WORKDIR_OUTPUT
    assert (tmp_path / "out.txt").read_text() == "written\n"  # in the volume, seen from the host


def test_with_tty_every_line_reaches_the_log_while_it_runs(wasm_container_factory, webapp_image: str) -> None:  # type: ignore[no-untyped-def]
    """A print-per-request server that never flushes (most programs): wasi-libc buffers its stdout
    fully unless stdout is a terminal."""
    tty = wasm_container_factory(webapp_image, env={"NO_FLUSH": "1"}, tty=True)
    default = wasm_container_factory(webapp_image, env={"NO_FLUSH": "1"}, name="default-tty")
    piped = wasm_container_factory(webapp_image, env={"NO_FLUSH": "1"}, tty=False, name="piped")
    for c in (tty, default, piped):
        for path in ("/a", "/b", "/c"):
            requests.get(c.url(8080, path), timeout=30)
    for c in (tty, default):
        logs = _wait_for(c, "webapp: GET /c")
        assert logs.splitlines()[-3:] == ["webapp: GET /a", "webapp: GET /b", "webapp: GET /c"]
    time.sleep(0.3)  # the log pump would have shown a write by now
    assert "GET /a" not in piped.logs()  # still in libc's buffer: why tty is the default
    assert piped.running


def test_compose_tty_key(wasm_compose, webapp_image: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    service = "    image: {}\n    platform: wasi/wasm\n    environment: {{NO_FLUSH: '1'}}\n    tty: {}\n"
    (tmp_path / "compose.yaml").write_text(
        "services:\n  chatty:\n"
        + service.format(webapp_image, "true")
        + "  piped:\n"
        + service.format(webapp_image, "false")
    )
    project = wasm_compose(tmp_path / "compose.yaml")
    chatty, piped = project.service("chatty"), project.service("piped")
    for c in (chatty, piped):
        requests.get(c.url(8080, "/x"), timeout=30)
    assert _wait_for(chatty, "webapp: GET /x")
    time.sleep(0.3)
    assert "GET /x" not in piped.logs()


def test_an_artifacts_module_is_its_program(wasm_container_factory, images) -> None:  # type: ignore[no-untyped-def]
    """A CNCF Wasm artifact names no entrypoint: command gives the arguments after argv[0]."""
    c = wasm_container_factory(images["artifact"], command=["echo", "hello there"])
    assert c.wait(30) == 0
    assert c.logs().splitlines()[:3] == ["arg 0: /webapp.wasm", "arg 1: echo", "arg 2: hello there"]
    same = wasm_container_factory(images["artifact"], command="/webapp.wasm echo again", name="same")
    assert same.wait(30) == 0
    assert same.logs().splitlines()[:3] == ["arg 0: /webapp.wasm", "arg 1: echo", "arg 2: again"]
    ep = wasm_container_factory(images["artifact"], entrypoint=["prog", "echo"], command=["x"], name="ep")
    assert ep.wait(30) == 0
    assert ep.logs().splitlines()[:3] == ["arg 0: prog", "arg 1: echo", "arg 2: x"]


def _wait_for(container, text: str, timeout: float = 20) -> str:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while text not in (logs := container.logs()):
        assert time.monotonic() < end, f"{text!r} not in the logs within {timeout}s:\n{logs}"
        time.sleep(0.02)
    return str(logs)
