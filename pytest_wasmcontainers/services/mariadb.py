"""A MariaDB/MySQL preset: the official images' settings, ready when a real login from the host works."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from ..wait import WaitStrategy, for_callable
from .docker import DockerContainer, DockerServices
from .local import LocalServer, LocalServices
from .mysql_login import mysql_login

DEFAULT_IMAGE = "mariadb:10.11"
IMAGE_ENV = "WASMCONTAINERS_MARIADB_IMAGE"
PORT = 3306


def default_image() -> str:
    return os.environ.get(IMAGE_ENV) or DEFAULT_IMAGE


def mariadb_env(root_password: str, database: str, user: str, password: str) -> dict[str, str]:
    """Both spellings: MariaDB images read ``MARIADB_*`` (then ``MYSQL_*``), MySQL images only ``MYSQL_*``."""
    env = {"ROOT_PASSWORD": root_password, "DATABASE": database}
    if user and user != "root":  # the images refuse to create "root" a second time
        env.update(USER=user, PASSWORD=password)
    return {f"{prefix}_{k}": v for prefix in ("MARIADB", "MYSQL") for k, v in env.items() if v}


def settings_from_env(env: Mapping[str, str]) -> tuple[str, str, str, str]:
    """Root password, database, user and password as the images read them: ``MARIADB_*`` first, then
    ``MYSQL_*``."""

    def get(key: str) -> str:
        return env.get(f"MARIADB_{key}") or env.get(f"MYSQL_{key}") or ""

    root_password = get("ROOT_PASSWORD")
    if not root_password:
        raise ValueError(
            "MariaDB needs a root password: set MARIADB_ROOT_PASSWORD or MYSQL_ROOT_PASSWORD "
            "(an empty or random root password is not supported on the process backend)"
        )
    user = get("USER")
    return root_password, get("DATABASE"), user, get("PASSWORD") if user else ""


def for_mysql_login(user: str, password: str, database: str | None = None) -> WaitStrategy:
    """Ready when ``user`` can log in (into ``database``) over TCP from the host.

    Log in as the application user, not root: the images create it after root, and a test wants the
    account it will use.
    """
    where = f" into {database!r}" if database else ""

    def login(target: Any) -> bool:
        port = target.listening_port(PORT) if hasattr(target, "listening_port") else None
        if port is None:
            raise ConnectionError(f"port {PORT} not accepting connections yet")
        mysql_login("127.0.0.1", port, user, password, database, timeout=3.0)
        return True

    return for_callable(login, f"a MySQL login as {user!r}{where}")


@dataclass
class MariaDB:
    """A running MariaDB/MySQL (a Docker container or a local server process) and the credentials it was
    started with."""

    container: DockerContainer | LocalServer
    root_password: str
    database: str
    user: str
    password: str

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def port(self) -> int:
        return self.container.host_port(PORT)

    def url(self, user: str | None = None) -> str:
        """``mysql://user:password@127.0.0.1:<port>/<database>`` (root with ``user="root"``)."""
        u = user or self.user
        pw = self.root_password if u == "root" else self.password
        return f"mysql://{quote(u, safe='')}:{quote(pw, safe='')}@127.0.0.1:{self.port}/{self.database}"

    def resolve(self, port: int) -> tuple[str, int]:
        """Name-table ``Endpoint``: lets a Wasm guest dial ``db:3306``."""
        return self.container.resolve(port)

    def logs(self) -> str:
        return self.container.logs()

    def stop(self) -> int | None:
        return self.container.stop()

    @property
    def backend(self) -> str:
        """``docker`` or ``process``."""
        return "process" if isinstance(self.container, LocalServer) else "docker"


def start_mariadb(
    services: DockerServices | LocalServices,
    *,
    image: str | None = None,
    root_password: str = "root",
    database: str = "test",
    user: str = "test",
    password: str = "test",
    env: Mapping[str, str] | None = None,
    port: int | None = None,
    startup_timeout: float | None = 120.0,
    **docker_kwargs: Any,
) -> MariaDB:
    """Start MariaDB (``image`` default: ``$WASMCONTAINERS_MARIADB_IMAGE`` or ``mariadb:10.11``) and
    return it once ``user`` can log in. ``port`` fixes the host port (default: a free one).

    On ``LocalServices`` the machine's own server runs instead of an image; ``env`` may carry the
    images' ``MARIADB_*``/``MYSQL_*`` settings there too, and Docker-only settings are refused."""
    if not root_password:
        raise ValueError("root_password must not be empty (the images refuse to start without one)")
    environment = mariadb_env(root_password, database, user, password)
    environment.update(env or {})
    # A setting given in env wins over the keyword's default in both spellings (the images read MARIADB_*
    # first, so a MYSQL_* one alone would otherwise lose to the default MARIADB_* one).
    for key in ("ROOT_PASSWORD", "DATABASE", "USER", "PASSWORD"):
        given = (env or {}).get(f"MARIADB_{key}", (env or {}).get(f"MYSQL_{key}"))
        if given is not None:
            environment[f"MARIADB_{key}"] = environment[f"MYSQL_{key}"] = given
    if isinstance(services, LocalServices):
        if docker_kwargs:
            raise ValueError(
                f"{', '.join(sorted(docker_kwargs))}: Docker settings, but MariaDB runs as a local process "
                "here (--wasm-services-backend process); drop them or use the docker backend"
            )
        root_password, database, user, password = settings_from_env(environment)
        handle: DockerContainer | LocalServer = start_local(
            services, root_password, database, user, password, port=port, startup_timeout=startup_timeout
        )
    else:
        handle = services.start(
            image or default_image(),
            env=environment,
            ports={PORT: port},
            wait=_login_wait(root_password, database, user, password),
            startup_timeout=startup_timeout,
            **docker_kwargs,
        )
    return MariaDB(handle, root_password, database, user or "root", password if user else root_password)


def _login_wait(root_password: str, database: str, user: str, password: str) -> WaitStrategy:
    """Ready when the application user (root when there is none) logs in to its database."""
    login_user, login_pw = (user, password) if user else ("root", root_password)
    return for_mysql_login(login_user, login_pw, database or None)


def start_local(
    local: LocalServices,
    root_password: str,
    database: str,
    user: str,
    password: str,
    *,
    port: int | None = None,
    name: str | None = None,
    startup_timeout: float | None = 120.0,
) -> LocalServer:
    """A local server with the images' settings, ready once its user logs in (the fixtures' and
    compose's way in)."""
    return local.start_mariadb(
        root_password=root_password,
        database=database,
        user=user,
        password=password,
        wait=_login_wait(root_password, database, user, password),
        port=port,
        name=name,
        startup_timeout=startup_timeout,
    )
