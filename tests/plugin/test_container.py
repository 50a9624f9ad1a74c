"""The container handle and the session, on the real runtime with an image from a real registry."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest
import requests

from pytest_wasmcontainers import wait
from pytest_wasmcontainers.container import ContainerSettings, WaitTimeoutError
from pytest_wasmcontainers.errors import ContainerExitedError, ImageNotFoundError, StartupTimeoutError
from pytest_wasmcontainers.session import WasmSession
from tests.runtime.conftest import c_guest


def closed(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return True
    return False


def eventually_logged(c: wait.Target, text: str) -> None:
    # The runtime drains guest output on a thread of its own, so a line can lag its effects a little.
    wait.wait_until_ready(c, wait.for_log(re.escape(text)), timeout=10)


def test_server_image_is_ready_on_its_exposed_port(session: WasmSession, webapp_image: str) -> None:
    c = session.start(ContainerSettings(webapp_image))
    assert c.running and c.exit_code is None
    port = c.host_port(8080)
    assert c.ports == {8080: port}
    assert c.url(8080, "/hi") == f"http://127.0.0.1:{port}/hi"
    assert requests.get(c.url(8080, "/hi"), timeout=10).text == "hello image /hi\n"
    eventually_logged(c, "webapp: listening on 8080")
    eventually_logged(c, "webapp: GET /hi")
    assert "webapp: GET /hi" in c.stdout()
    assert c.stats.start_seconds > 0 and c.stats.compile_cache_hit is not None
    session.stop(c)
    assert not c.running and c.exit_code == 137
    assert closed(port)


def test_env_command_and_fixed_host_port(session: WasmSession, webapp_image: str) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        fixed = s.getsockname()[1]
    c = session.start(
        ContainerSettings(webapp_image, env={"GREETING": "override", "PORT": "9000"}, ports={9000: fixed})
    )
    assert c.host_port(9000) == fixed
    assert requests.get(c.url(9000), timeout=10).text == "hello override /\n"


def test_command_image_waits_for_exit(session: WasmSession, webapp_image: str) -> None:
    c = session.start(ContainerSettings(webapp_image, command=["echo", "5"], wait=wait.for_exit(5)))
    assert c.exit_code == 5 and not c.running
    assert c.wait() == 5
    assert "arg 1: echo" in c.logs() and "GREETING=image" in c.logs()


def test_wait_returns_the_exit_code_and_times_out_clearly(session: WasmSession, webapp_image: str) -> None:
    c = session.start(ContainerSettings(webapp_image))
    with pytest.raises(WaitTimeoutError, match=r"did not exit within 0\.2 s"):
        c.wait(0.2)
    assert requests.get(c.url(8080, "/exit"), timeout=10).ok
    assert c.wait(20) == 0
    assert "webapp: bye" in c.logs()


def test_guest_exits_before_listening_fails_at_once_with_code_and_logs(
    session: WasmSession, webapp_image: str
) -> None:
    with pytest.raises(ContainerExitedError) as info:
        session.start(ContainerSettings(webapp_image, command=["fail"], startup_timeout=120))
    assert info.value.exit_code == 3
    msg = str(info.value)
    assert "exited with code 3 while waiting for listening on container port(s) 8080" in msg
    assert "| webapp: cannot start: bad config" in msg
    assert session.live == []


def test_host_port_on_a_trapped_guest_raises_with_exit_code(session: WasmSession, webapp_image: str) -> None:
    c = session.start(ContainerSettings(webapp_image))
    with pytest.raises(requests.RequestException):
        requests.get(c.url(8080, "/crash"), timeout=10)
    c.wait(20)
    with pytest.raises(ContainerExitedError) as info:
        c.host_port(8081)
    assert info.value.exit_code == c.exit_code != 0
    assert "before listening on port 8081" in str(info.value)
    assert "| webapp: GET /crash" in str(info.value)


def test_readiness_timeout_says_what_how_long_state_and_logs(session: WasmSession, webapp_image: str) -> None:
    with pytest.raises(StartupTimeoutError) as info:
        # The log line first (latched), so the message has it even when a loaded machine is slow.
        idle = wait.all_of(wait.for_log("idle"), wait.for_ports(8080))
        session.start(ContainerSettings(webapp_image, command=["idle"], wait=idle, startup_timeout=3))
    msg = str(info.value)
    assert "was not ready after 3 s waiting for all of (a log line matching 'idle'; listening on" in msg
    assert "(last: waiting for listening on container port(s) 8080 (last: not listening yet on 8080))" in msg
    assert "State: running" in msg
    assert "| webapp: idle, not listening" in msg
    assert session.live == []  # stopped, not leaked


def test_http_and_log_strategies_on_a_wasm_container(session: WasmSession, webapp_image: str) -> None:
    strategy = wait.all_of(
        wait.for_log(r"listening on 8080"), wait.for_http(8080, "/ready", body="hello image")
    )
    c = session.start(ContainerSettings(webapp_image, env={"DELAY_MS": "300"}, wait=strategy))
    eventually_logged(c, "webapp: GET /ready")


def test_host_port_waits_for_a_port_not_in_the_readiness_check(
    session: WasmSession, webapp_image: str
) -> None:
    no_wait = wait.for_callable(lambda t: True, "nothing")
    c = session.start(ContainerSettings(webapp_image, env={"DELAY_MS": "300"}, wait=no_wait))
    assert c.ports == {}
    assert requests.get(c.url(8080), timeout=10).ok  # waited until the guest listened


def test_missing_image_is_an_image_error(session: WasmSession, webapp_image: str) -> None:
    host = webapp_image.split("/")[0]
    with pytest.raises(ImageNotFoundError):
        session.start(ContainerSettings(f"{host}/plugin/nothing-here:1"))


def test_close_stops_everything_and_releases_the_runtime(wasm_cache: Path, webapp_image: str) -> None:
    from pytest_wasmcontainers.session import SessionConfig

    s = WasmSession(SessionConfig(cache_dir=wasm_cache))
    containers = [s.start(ContainerSettings(webapp_image)) for _ in range(2)]
    ports = [c.host_port(8080) for c in containers]
    s.close()
    assert all(not c.running for c in containers)
    assert all(closed(p) for p in ports)
    assert s.live == []
    with pytest.raises(RuntimeError, match="closed"):
        s.start(ContainerSettings(webapp_image))


def test_a_wasm_container_links_to_another_by_name(session: WasmSession, webapp_image: str) -> None:
    web = session.start(ContainerSettings(webapp_image))
    client = session.start(
        ContainerSettings(
            str(c_guest("client")),
            command=["/client.wasm", "web", "8080", "GET /linked HTTP/1.0\r\n\r\n"],
            links={"web": web},
            wait=wait.for_exit(0),
        )
    )
    assert client.exit_code == 0, client.logs()
    assert "hello image /linked" in client.stdout()


def test_a_container_stopped_directly_leaves_the_session(wasm_cache: Path, webapp_image: str) -> None:
    # A session of many containers stopped with container.stop() grew by ~15 KiB a container
    # (tests/reliability/test_lifecycle.py measured it): the session kept each one, logs and all.
    from pytest_wasmcontainers.session import SessionConfig

    stopped: list[tuple[str, int | None]] = []

    class Hooks:
        def before_start(self, settings: ContainerSettings) -> None: ...
        def ready(self, container: object) -> None: ...
        def image_pulled(self, image: object, stats: object) -> None: ...

        def stopped(self, container: object, exit_code: int | None, logs: str) -> None:
            stopped.append((container.name, exit_code))  # type: ignore[attr-defined]

    s = WasmSession(SessionConfig(cache_dir=wasm_cache), Hooks())  # type: ignore[arg-type]
    try:
        a, b = s.start(ContainerSettings(webapp_image)), s.start(ContainerSettings(webapp_image))
        assert a.stop() == 137
        assert s.live == [b]
        assert a.stop() == 137  # again: nothing more to tell
        s.stop(b)
        assert s.live == []
        assert stopped == [(a.name, 137), (b.name, 137)]  # once each, whichever way it was stopped
    finally:
        s.close()
