"""Readiness strategies against real host processes, sockets and HTTP servers."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
import requests

from pytest_wasmcontainers import wait
from pytest_wasmcontainers.errors import ContainerExitedError, StartupTimeoutError

from .localproc import LocalProcess

# An HTTP server on argv[1] that starts listening after a short sleep; /health answers as $STATUS.
HTTP_SERVER = """
import http.server, sys, time, os
print("booting", flush=True)
time.sleep(0.3)
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        status = int(os.environ.get("STATUS", "200")) if self.path == "/health" else 404
        body = b"state: ok" if status == 200 else b"state: starting"
        self.send_response(status); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
srv = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H)
print("ready to serve", flush=True)
srv.serve_forever()
"""

Start = Callable[..., LocalProcess]


@pytest.fixture
def start() -> Iterator[Start]:
    procs: list[LocalProcess] = []

    def run(script: str, ports: tuple[int, ...] = (), status: int = 200) -> LocalProcess:
        script = f"import os; os.environ['STATUS'] = {str(status)!r}\n" + script
        proc = LocalProcess(script, ports)
        procs.append(proc)
        return proc

    yield run
    for p in procs:
        p.close()


def test_ports_waits_until_the_process_listens(start: Start) -> None:
    proc = start(HTTP_SERVER, ports=(8080,))
    wait.wait_until_ready(proc, wait.for_ports(8080), timeout=30)
    assert requests.get(f"http://127.0.0.1:{proc.port_map[8080]}/health", timeout=5).text == "state: ok"


def test_http_status_and_body_regex_and_predicate(start: Start) -> None:
    proc = start(HTTP_SERVER, ports=(8080,))
    wait.wait_until_ready(proc, wait.for_http(8080, "/health", body=r"state: \w+"), timeout=30)
    wait.wait_until_ready(proc, wait.for_http(8080, "/nope", status={404, 410}), timeout=5)
    wait.wait_until_ready(proc, wait.for_http(8080, "/health", body=lambda t: t.endswith("ok")), timeout=5)
    wait.wait_until_ready(proc, wait.for_http(8080, "/health", status=lambda s: s < 300), timeout=5)


def test_http_timeout_says_what_was_awaited_and_the_last_answer(start: Start) -> None:
    proc = start(HTTP_SERVER, ports=(8080,), status=503)
    wait.wait_until_ready(proc, wait.for_ports(8080), timeout=30)  # a loaded machine starts it slowly
    with pytest.raises(StartupTimeoutError) as info:
        wait.wait_until_ready(proc, wait.for_http(8080, "/health"), timeout=1.5)
    msg = str(info.value)
    assert "was not ready after 1.5 s" in msg
    assert "HTTP GET /health on container port 8080 -> 200" in msg
    assert "(last: got HTTP 503)" in msg
    assert "State: running" in msg
    assert "| ready to serve" in msg
    assert info.value.exit_code is None
    assert "booting" in info.value.logs


def test_log_line_regex_and_count(start: Start) -> None:
    proc = start("import time\nfor i in range(3):\n    print('tick', i, flush=True)\ntime.sleep(60)")
    wait.wait_until_ready(proc, wait.for_log(r"^tick 2$"), timeout=30)
    wait.wait_until_ready(proc, wait.for_log(re.compile("tick"), times=3), timeout=5)
    with pytest.raises(StartupTimeoutError, match=r"3 of 4 matches so far"):
        wait.wait_until_ready(proc, wait.for_log("tick", times=4), timeout=0.5)


def test_exit_with_expected_code(start: Start) -> None:
    proc = start("print('done')")
    wait.wait_until_ready(proc, wait.for_exit(0), timeout=30)
    assert proc.exit_code == 0
    proc2 = start("import sys; sys.exit(4)")
    wait.wait_until_ready(proc2, wait.for_exit(None), timeout=30)
    assert proc2.exit_code == 4


def test_exit_with_another_code_fails_with_that_code(start: Start) -> None:
    proc = start("import sys; print('bad config', flush=True); sys.exit(3)")
    with pytest.raises(ContainerExitedError) as info:
        wait.wait_until_ready(proc, wait.for_exit(0), timeout=30)
    assert info.value.exit_code == 3
    assert "exited with code 3, expected 0" in str(info.value)
    assert "| bad config" in str(info.value)


def test_early_exit_fails_at_once_not_after_the_timeout(start: Start) -> None:
    proc = start("import sys; print('cannot bind', flush=True); sys.exit(2)", ports=(8080,))
    # A timeout error here would mean the exit was not noticed; the wait is long enough to tell.
    with pytest.raises(ContainerExitedError) as info:
        wait.wait_until_ready(proc, wait.for_ports(8080), timeout=120)
    assert info.value.exit_code == 2
    msg = str(info.value)
    assert "exited with code 2 while waiting for listening on container port(s) 8080" in msg
    assert "| cannot bind" in msg


def test_a_log_line_from_a_process_that_already_exited_is_not_ready(start: Start) -> None:
    proc = start("print('listening', flush=True)")
    proc.proc.wait()
    with pytest.raises(ContainerExitedError):
        wait.wait_until_ready(proc, wait.for_log("listening"), timeout=30)
    # ...unless an exit is what is awaited too.
    wait.wait_until_ready(proc, wait.all_of(wait.for_log("listening"), wait.for_exit(0)), timeout=30)


def test_callable_reports_its_last_exception(start: Start) -> None:
    proc = start(HTTP_SERVER, ports=(8080,))
    calls = []

    def probe(target: wait.Target) -> bool:
        calls.append(1)
        port = target.listening_port(8080)
        if port is None:
            raise ConnectionError("no port yet")
        return requests.get(f"http://127.0.0.1:{port}/health", timeout=5).ok

    wait.wait_until_ready(proc, wait.for_callable(probe, "health is ok"), timeout=30)
    assert calls
    with pytest.raises(StartupTimeoutError, match=r"waiting for never \(last: ValueError: nope\)"):
        wait.wait_until_ready(proc, wait.for_callable(_raise, "never"), timeout=0.3)


def _raise(target: wait.Target) -> bool:
    raise ValueError("nope")


def test_all_of_and_any_of(start: Start) -> None:
    proc = start(HTTP_SERVER, ports=(8080,))
    both = wait.all_of(wait.for_log("ready to serve"), wait.for_http(8080, "/health"))
    wait.wait_until_ready(proc, both, timeout=30)
    either = wait.any_of(wait.for_log("never printed"), wait.for_ports(8080))
    wait.wait_until_ready(proc, either, timeout=5)
    with pytest.raises(StartupTimeoutError) as info:
        wait.wait_until_ready(proc, wait.any_of(wait.for_log("x{3}"), wait.for_ports(9)), timeout=0.3)
    assert "any of (a log line matching 'x{3}'; listening on container port(s) 9)" in str(info.value)
    # A strategy object can be reused: its latched state is reset for each wait.
    wait.wait_until_ready(proc, both, timeout=5)


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda: wait.for_ports(), "at least one container port"),
        (lambda: wait.for_ports(0), "1..65535"),
        (lambda: wait.for_http(8080, "health"), "must start with '/'"),
        (lambda: wait.for_log("x", times=0), ">= 1"),
        (lambda: wait.all_of(), "at least one strategy"),
        (lambda: wait.any_of("8080"), "takes strategies"),  # type: ignore[arg-type]
    ],
)
def test_bad_arguments_say_what_is_wrong(make: Callable[[], object], error: str) -> None:
    with pytest.raises((ValueError, TypeError), match=re.escape(error)):
        make()
