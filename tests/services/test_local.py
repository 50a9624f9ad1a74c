"""MariaDB as a local process (``--wasm-services-backend process``): the machine's own ``mariadbd``, no
Docker. Real servers, real logins, a real Wasm guest dialling ``db:3306``, and a real ``kill -9``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_wasmcontainers.services.cleanup import ServiceSession
from pytest_wasmcontainers.services.local import LocalServices, find_server, stop_dead_servers
from pytest_wasmcontainers.services.mariadb import start_mariadb
from pytest_wasmcontainers.services.mysql_login import MySQLLoginError, mysql_login
from tests.support.services import unavailable

AWKWARD = "p'w\\x\"$HOME`;"


@pytest.fixture(scope="module")
def server() -> Path:
    found = find_server()
    if found is None:
        unavailable("no mariadbd/mysqld on this machine: apt-get install mariadb-server")
    return found


@pytest.fixture
def local(server: Path, tmp_path: Path) -> Iterator[LocalServices]:
    session = ServiceSession(tmp_path / "sessions")
    services = LocalServices(session, server)
    yield services
    services.close()
    session.close()


def test_start_login_and_the_three_settings(local: LocalServices) -> None:
    db = start_mariadb(local, root_password="r00t", database="shop", user="app", password=AWKWARD)
    assert db.backend == "process"
    info = mysql_login("127.0.0.1", db.port, "app", AWKWARD, "shop")
    assert "MariaDB" in info.version or "MySQL" in info.version
    mysql_login("127.0.0.1", db.port, "root", "r00t", "shop")  # root over TCP, as the images allow
    with pytest.raises(MySQLLoginError) as denied:
        mysql_login("127.0.0.1", db.port, "app", AWKWARD, "mysql")  # the user gets its database only
    assert denied.value.code == 1044
    assert db.url() == f"mysql://app:p%27w%5Cx%22%24HOME%60%3B@127.0.0.1:{db.port}/shop"
    assert db.resolve(3306) == ("127.0.0.1", db.port)
    assert "ready for connections" in db.logs()
    rundir = db.container.rundir  # type: ignore[union-attr]
    assert db.stop() == 0
    assert not rundir.exists()
    assert "Shutdown complete" in db.logs()  # kept after the stop, for the report


def test_mysql_spellings_in_env_win_over_the_defaults(local: LocalServices) -> None:
    env = {
        "MYSQL_ROOT_PASSWORD": "rpw",
        "MYSQL_DATABASE": "orders",
        "MYSQL_USER": "u",
        "MYSQL_PASSWORD": "upw",
    }
    db = start_mariadb(local, env=env)
    mysql_login("127.0.0.1", db.port, "u", "upw", "orders")
    mysql_login("127.0.0.1", db.port, "root", "rpw", "orders")
    assert (db.user, db.database) == ("u", "orders")


def test_bad_passwords_and_settings_are_clear_errors(local: LocalServices) -> None:
    db = start_mariadb(local)
    with pytest.raises(MySQLLoginError) as denied:
        mysql_login("127.0.0.1", db.port, "test", "wrong")
    assert denied.value.code == 1045 and "Access denied for user 'test'" in str(denied.value)
    with pytest.raises(ValueError, match="root_password must not be empty"):
        start_mariadb(local, root_password="")
    with pytest.raises(ValueError, match="mem_limit: Docker settings, but MariaDB runs as a local process"):
        start_mariadb(local, mem_limit="1g")


def test_the_app_user_may_be_root(local: LocalServices) -> None:
    db = start_mariadb(local, root_password="only-root", user="", database="")
    assert db.user == "root" and db.password == "only-root"
    mysql_login("127.0.0.1", db.port, "root", "only-root")


FIXTURE_TESTS = """
import subprocess

def test_fixture(mariadb, wasm_container_factory):
    assert mariadb.backend == "process"
    url = f"mysql://{{mariadb.user}}:{{mariadb.password}}@db:3306/{{mariadb.database}}"
    probe = wasm_container_factory({probe!r}, env={{"DATABASE_URL": url}}, links={{"db": mariadb}}, ports=[])
    assert probe.wait(60) == 0, probe.logs()
    assert "server version: " in probe.logs() and "MariaDB" in probe.logs()

def test_factory(mariadb_factory):
    db = mariadb_factory(root_password="r", database="d", user="u", password="p")
    assert db.url() == f"mysql://u:p@127.0.0.1:{{db.port}}/d"

def test_compose(wasm_compose, tmp_path):
    (tmp_path / "compose.yml").write_text('''
services:
  db:
    image: mariadb:10.9
    environment: {{MYSQL_ROOT_PASSWORD: whalehello}}
    healthcheck: {{test: ["CMD", "healthcheck.sh", "--connect"], interval: 1s}}
  probe:
    image: {probe}
    platform: wasi/wasm
    environment: {{DATABASE_URL: "mysql://root:whalehello@db:3306/mysql"}}
    depends_on: {{db: {{condition: service_healthy}}}}
''')
    project = wasm_compose(tmp_path / "compose.yml")
    db = project.service("db")
    assert type(db).__name__ == "LocalServer", db
    probe = project.service("probe")
    assert probe.wait(60) == 0, probe.logs()
    assert "server version: " in probe.logs()

def test_failure_report_has_the_server_log(mariadb):
    assert False, "fails on purpose"
"""


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rs", *args, timeout=300)


@pytest.mark.slow
def test_fixtures_links_and_compose_on_the_process_backend(
    server: Path, pytester: pytest.Pytester, wasm_images: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WASMCONTAINERS_SESSION_DIR", str(pytester.path / "sessions"))
    pytester.makepyfile(test_outside=FIXTURE_TESTS.format(probe=wasm_images["probe"]))
    result = _run(pytester, "--wasm-services-backend", "process")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["wasm services: MariaDB on process (*mariadbd*)"])
    # The failing test's report carries the server's log, as a Docker container's would be.
    result.stdout.fnmatch_lines(["*- local server wasmc-*-mariadb-* (local mariadbd*, running) -*"])
    result.stdout.fnmatch_lines(["*ready for connections*"])
    assert not list((pytester.path / "sessions" / "local").glob("*.json")), "every server was stopped"


@pytest.mark.slow
def test_auto_takes_the_process_backend_without_a_docker_daemon(
    server: Path, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{pytester.path / 'no-docker.sock'}")
    monkeypatch.setenv("WASMCONTAINERS_SESSION_DIR", str(pytester.path / "sessions"))
    monkeypatch.delenv("WASMCONTAINERS_SERVICES_BACKEND", raising=False)
    pytester.makepyfile("def test_db(mariadb):\n    assert mariadb.backend == 'process'\n")
    result = _run(pytester)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["wasm services: MariaDB on process (*), as no Docker daemon answers"])


def test_neither_backend_names_both_ways_out(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{pytester.path / 'no-docker.sock'}")
    monkeypatch.setenv("WASMCONTAINERS_MARIADB_SERVER", str(pytester.path / "no-mariadbd"))
    monkeypatch.delenv("WASMCONTAINERS_REQUIRE_SERVICES", raising=False)
    pytester.makepyfile("def test_db(mariadb):\n    pass\n")
    result = _run(pytester)
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(
        ["*MariaDB cannot start here: no Docker daemon (cannot reach a Docker daemon at unix://*"]
    )
    result.stdout.fnmatch_lines(["*Start a Docker daemon (or set DOCKER_HOST), or install mariadb-server*"])


def test_a_bad_backend_setting_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = _run(pytester, "-o", "wasm_services_backend=kubernetes")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*services backend 'kubernetes': use one of auto, docker, process*"])


HOLD_TEST = """
import pathlib, time

def test_hold(mariadb):
    pathlib.Path("pid.txt").write_text(f"{mariadb.container.pid} {mariadb.container.rundir}")
    time.sleep(300)
"""


def _alive(pid: int, rundir: str) -> bool:
    try:
        return rundir in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False


@pytest.mark.slow
def test_next_session_stops_what_a_killed_one_left(server: Path, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "WASMCONTAINERS_SESSION_DIR": str(tmp_path / "sessions"),
        "WASMCONTAINERS_SERVICES_BACKEND": "process",
    }
    first = tmp_path / "first"
    first.mkdir()
    (first / "test_hold.py").write_text(HOLD_TEST)
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"]
    proc = subprocess.Popen(cmd, cwd=first, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while not (first / "pid.txt").exists() or not (first / "pid.txt").read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"the holding session started no server:\n{proc.communicate()[0].decode()}")
        time.sleep(0.1)
    pid_text, rundir = (first / "pid.txt").read_text().split(" ", 1)
    pid = int(pid_text)
    try:
        # While its session lives, nobody else's cleanup touches its server.
        assert stop_dead_servers(tmp_path / "sessions") == []
        assert _alive(pid, rundir)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert _alive(pid, rundir), "kill -9 gives the session no chance to stop its server"

    second = tmp_path / "second"
    second.mkdir()
    (second / "test_nothing.py").write_text("def test_nothing():\n    pass\n")
    done = subprocess.run([*cmd, "test_nothing.py"], cwd=second, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert not _alive(pid, rundir), f"mariadbd {pid} of the killed session is still running"
    assert not Path(rundir).exists()
    assert not list((tmp_path / "sessions" / "local").glob("*.json"))
