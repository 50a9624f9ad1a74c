"""MariaDB/MySQL as a local process, for machines without a Docker daemon (pytest-mysql's way).

Each server runs the machine's own ``mariadbd``/``mysqld`` on a free 127.0.0.1 port, with a private
datadir copied from a template that ``mariadb-install-db`` made once per server binary (a start stays
well under the Docker path's 1.2 s), its socket, pid file and log in a short temp dir. An init file sets
the root password, database and user as the official images' entrypoint does.

Every server has a record under ``<state_dir>/local/``; the next session stops the servers of a killed
one (its session lock is free, see ``cleanup.py``) and never touches a live session's. Knows nothing of
pytest.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import platformdirs
from filelock import FileLock

from ..errors import ContainerError, ContainerExitedError, WasmContainersError
from ..wait import WaitStrategy, last_lines, wait_until_ready
from .cleanup import LABEL_HOST, LABEL_PID, ServiceSession, session_is_dead
from .local_server import PORT, LocalServer, terminate

__all__ = ["PORT", "LocalServer", "LocalServices", "ServerNotFoundError", "find_server", "stop_dead_servers"]

SERVER_ENV = "WASMCONTAINERS_MARIADB_SERVER"
SERVER_NAMES = ("mariadbd", "mysqld")
SEARCH_DIRS = (
    "/usr/sbin",  # Debian, Ubuntu
    "/usr/libexec",  # Fedora, RHEL
    "/usr/local/sbin",
    "/opt/homebrew/opt/mariadb/bin",  # Homebrew on Apple silicon
    "/usr/local/opt/mariadb/bin",  # Homebrew on Intel
    "/opt/homebrew/opt/mysql/bin",
    "/usr/local/opt/mysql/bin",
    "/usr/local/mysql/bin",  # Oracle's macOS package
)
INNODB = ("--innodb-log-file-size=8M",)
"""Server options that the datadir must have been made with: a small redo log is a fast copy."""
_names = itertools.count(1)


class ServerNotFoundError(WasmContainersError):
    """No MariaDB/MySQL server binary on this machine."""

    hint = (
        "start a Docker daemon (or set DOCKER_HOST), or install a MariaDB server "
        "(apt-get install mariadb-server, brew install mariadb) or set WASMCONTAINERS_MARIADB_SERVER"
    )


def find_server() -> Path | None:
    """``$WASMCONTAINERS_MARIADB_SERVER``, else ``mariadbd``/``mysqld`` on PATH, else the usual places."""
    given = os.environ.get(SERVER_ENV)
    if given:
        return Path(given) if os.access(given, os.X_OK) else None
    for name in SERVER_NAMES:
        found = shutil.which(name)
        if found:
            return Path(found)
    for directory in SEARCH_DIRS:
        for name in SERVER_NAMES:
            path = Path(directory) / name
            if os.access(path, os.X_OK):
                return path
    return None


def server_version(server: Path) -> str:
    out = subprocess.run([str(server), "--version"], capture_output=True, text=True, timeout=30)
    return (out.stdout or out.stderr).strip()


def _install_db(server: Path) -> list[str]:
    """The command that makes a fresh datadir (append ``--datadir=``)."""
    for name in ("mariadb-install-db", "mysql_install_db"):
        for where in (server.parent, server.parent.parent / "bin", server.parent.parent / "scripts"):
            if os.access(where / name, os.X_OK):
                return [str(where / name), "--no-defaults", f"--basedir={_basedir(server)}"]
        found = shutil.which(name)
        if found:
            return [found, "--no-defaults"]
    # Oracle's MySQL 5.7+ has no install script: the server initialises its own datadir.
    return [str(server), "--no-defaults", "--initialize-insecure"]


def _basedir(server: Path) -> Path:
    # /usr/sbin/mariadbd -> /usr: install-db finds share/ and the plugins from there
    return server.resolve().parent.parent


def _user_args() -> list[str]:
    # mariadbd refuses to run as root unless told to; as anyone else it runs as that user.
    return ["--user=root"] if os.geteuid() == 0 else []


def _quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def init_sql(root_password: str, database: str, user: str, password: str) -> str:
    """What the official images' entrypoint runs on a fresh datadir, for the same settings."""
    pw = _quote(root_password)
    lines = [
        "SET @@SESSION.SQL_LOG_BIN=0;",
        f"DROP USER IF EXISTS root@'127.0.0.1', root@'::1', root@{_quote(socket.gethostname())};",
        f"ALTER USER 'root'@'localhost' IDENTIFIED BY {pw};",
        f"CREATE USER IF NOT EXISTS 'root'@'%' IDENTIFIED BY {pw};",
        "GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;",
    ]
    if database:
        lines.append(f"CREATE DATABASE IF NOT EXISTS `{database.replace('`', '``')}`;")
    if user and user != "root":
        lines.append(f"CREATE USER {_quote(user)}@'%' IDENTIFIED BY {_quote(password)};")
        if database:
            lines.append(f"GRANT ALL ON `{database.replace('`', '``')}`.* TO {_quote(user)}@'%';")
    lines.append("FLUSH PRIVILEGES;")
    return "\n".join(lines) + "\n"


class LocalServices:
    """Starts local servers for one test session and stops them all at the end."""

    def __init__(
        self, session: ServiceSession, server: Path | None = None, template_root: Path | None = None
    ) -> None:
        found = server or find_server()
        if found is None:
            raise ServerNotFoundError(
                f"no MariaDB/MySQL server binary: none of {', '.join(SERVER_NAMES)} on PATH or in "
                f"{', '.join(SEARCH_DIRS[:3])}, ... (nor ${SERVER_ENV})"
            )
        self.server = found
        self.session = session
        self.records = session.state_dir / "local"
        self.records.mkdir(parents=True, exist_ok=True)
        self.template_root = (
            template_root or Path(platformdirs.user_cache_dir("pytest-wasmcontainers")) / "mariadb"
        )
        self.servers: list[LocalServer] = []
        self.on_start: Callable[[LocalServer], None] | None = None
        stop_dead_servers(session.state_dir, own=session)

    def template(self) -> Path:
        """A fresh datadir for this server binary, made once (per binary and version) and then copied."""
        stat = self.server.resolve().stat()
        facts = f"{self.server.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{INNODB}"
        key = hashlib.sha256(facts.encode()).hexdigest()
        done = self.template_root / f"template-{key[:16]}"
        if (done / ".complete").exists():
            return done
        self.template_root.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.template_root / f"template-{key[:16]}.lock")):
            if (done / ".complete").exists():
                return done
            work = Path(tempfile.mkdtemp(prefix="template-", dir=self.template_root))
            cmd = [
                *_install_db(self.server),
                f"--datadir={work / 'data'}",
                *_user_args(),
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                "--skip-name-resolve",
                *INNODB,
            ]
            if "--initialize-insecure" in cmd:  # MySQL: none of install-db's own options
                cmd = [*cmd[:3], f"--datadir={work / 'data'}", *_user_args(), *INNODB]
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=work)
            if out.returncode != 0:
                shutil.rmtree(work, ignore_errors=True)
                raise ContainerError(
                    f"{' '.join(cmd[:1])} could not make a MariaDB datadir (exit {out.returncode}):\n"
                    f"{last_lines(out.stdout + out.stderr)}"
                )
            (work / "data" / ".complete").touch()
            shutil.rmtree(done, ignore_errors=True)
            os.replace(work / "data", done)
            shutil.rmtree(work, ignore_errors=True)
        return done

    def start_mariadb(
        self,
        *,
        root_password: str,
        database: str,
        user: str,
        password: str,
        wait: WaitStrategy,
        port: int | None = None,
        name: str | None = None,
        startup_timeout: float | None = 120.0,
    ) -> LocalServer:
        """Start a server with these settings; return it once ``wait`` passes."""
        template = self.template()
        name = name or f"wasmc-{self.session.id[:8]}-mariadb-{next(_names)}"
        for attempt in range(3):
            server = self._spawn(name, template, init_sql(root_password, database, user, password), port)
            if self.on_start is not None:
                self.on_start(server)
            try:
                wait_until_ready(server, wait, startup_timeout or server.startup_timeout, interval=0.05)
            except ContainerExitedError:
                # Another process took the free port between our check and the server's bind.
                lost_race = port is None and "already in use" in server.logs() and attempt < 2
                self.stop(server)
                if lost_race:
                    continue
                raise
            except BaseException:
                self.stop(server)
                raise
            return server
        raise AssertionError("unreachable")

    def _spawn(self, name: str, template: Path, init: str, port: int | None) -> LocalServer:
        rundir = Path(tempfile.mkdtemp(prefix="wasmc-db-"))  # short: a socket path has ~100 bytes
        shutil.copytree(template, rundir / "data", symlinks=True)
        (rundir / "init.sql").write_text(init)
        (rundir / "init.sql").chmod(0o600)
        port = port or _free_port()
        cmd = [
            str(self.server),
            "--no-defaults",
            f"--datadir={rundir / 'data'}",
            f"--socket={rundir / 'server.sock'}",
            f"--pid-file={rundir / 'server.pid'}",
            f"--init-file={rundir / 'init.sql'}",
            "--bind-address=127.0.0.1",
            f"--port={port}",
            "--skip-name-resolve",
            *INNODB,
            *_user_args(),  # no --log-error: the log goes to stderr, which is server.log
        ]
        with open(rundir / "server.log", "wb") as log:
            # Its own session: Ctrl-C in the terminal reaches pytest, which then stops it cleanly.
            proc = subprocess.Popen(
                cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True
            )
        record = self.records / f"{self.session.id}-{proc.pid}.json"
        record.write_text(
            json.dumps(
                {
                    "session": self.session.id,
                    "labels": {LABEL_HOST: socket.gethostname(), LABEL_PID: str(os.getpid())},
                    "pid": proc.pid,
                    "rundir": str(rundir),
                    "name": name,
                }
            )
        )
        server = LocalServer(name, self.server, rundir, port, proc, record)
        self.servers.append(server)
        return server

    def stop(self, server: LocalServer) -> int | None:
        code = server.stop()
        with contextlib.suppress(ValueError):
            self.servers.remove(server)
        return code

    def close(self) -> None:
        for s in reversed(self.servers):
            with contextlib.suppress(Exception):
                s.stop(timeout=5)
        self.servers.clear()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop_dead_servers(state_dir: Path, own: ServiceSession | None = None) -> list[str]:
    """Stop the servers of sessions that died (``kill -9``) and remove their data; return their names."""
    stopped = []
    verdicts: dict[str, bool] = {}
    for record in sorted((state_dir / "local").glob("*.json")):
        try:
            data: dict[str, Any] = json.loads(record.read_text())
            sid, pid, rundir = str(data["session"]), int(data["pid"]), str(data["rundir"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if own is not None and sid == own.id:
            continue
        if sid not in verdicts:
            verdicts[sid] = session_is_dead(sid, dict(data.get("labels") or {}), state_dir)
        if not verdicts[sid]:
            continue
        terminate(pid, rundir)
        shutil.rmtree(rundir, ignore_errors=True)
        record.unlink(missing_ok=True)
        stopped.append(str(data.get("name", pid)))
    return stopped
