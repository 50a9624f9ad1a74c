"""The database and compose fixtures, on the services backend chosen for the session.

``--wasm-services-backend`` (ini ``wasm_services_backend``, env ``WASMCONTAINERS_SERVICES_BACKEND``):
``docker`` runs MariaDB as a container, ``process`` runs the machine's own ``mariadbd``, and ``auto`` (the
default) takes Docker when a daemon answers, else a local server binary when there is one. Split from
``plugin.py``, which re-exports these fixtures so pytest finds them there.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .errors import DockerUnavailableError, WasmContainersError
from .plugin_docker import _docker_state, _unavailable, stashed
from .services import cleanup as _cleanup
from .services import compose as _compose
from .services import docker as _docker
from .services import local as _local
from .services import mariadb as _mariadb
from .session import WasmSession

BACKEND_ENV = "WASMCONTAINERS_SERVICES_BACKEND"
BACKENDS = ("auto", "docker", "process")
LOCAL_KEY = pytest.StashKey["_LocalState"]()
DEFAULT_SOCKET = "/var/run/docker.sock"


def add_backend_options(group: Any) -> None:
    group.addoption(
        "--wasm-services-backend",
        default=None,
        choices=BACKENDS,
        help="where the mariadb fixtures and compose's MariaDB/MySQL services run: docker, process (the "
        "machine's own mariadbd/mysqld, no Docker needed) or auto (Docker if a daemon answers, else a "
        f"local server; the default). ini: wasm_services_backend; env: {BACKEND_ENV}",
    )
    if group.parser is not None:
        group.parser.addini("wasm_services_backend", "auto, docker or process", default="")


def wanted_backend(config: pytest.Config) -> str:
    from .plugin import _setting  # here: plugin.py imports this module at its top

    value = _setting(config, "wasm_services_backend", "wasm_services_backend", BACKEND_ENV) or "auto"
    if value not in BACKENDS:
        raise pytest.UsageError(f"services backend {value!r}: use one of {', '.join(BACKENDS)}")
    return value


class _LocalState:
    """Per process: the local servers of this session, and which backend was chosen."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.services: _local.LocalServices | None = None
        self.backend: str | None = None

    def choose(self) -> str:
        """``docker`` or ``process``; skips (fails in CI) when the wanted backend cannot be had."""
        if self.backend is not None:
            return self.backend
        wanted = wanted_backend(self.config)
        docker_error = ""
        if wanted in ("auto", "docker"):
            try:
                _docker_state(self.config).get()
                self.backend = "docker"
                return "docker"
            except DockerUnavailableError as e:
                docker_error = str(e)
            if wanted == "docker":
                _unavailable(f"Docker is not available: {docker_error}")
        if _local.find_server() is None:
            both = f"no Docker daemon ({docker_error}) and " if docker_error else ""
            _unavailable(
                f"MariaDB cannot start here: {both}no MariaDB/MySQL server binary (mariadbd or mysqld on "
                f"PATH or in /usr/sbin, /usr/libexec, Homebrew, or ${_local.SERVER_ENV}). Start a Docker "
                "daemon (or set DOCKER_HOST), or install mariadb-server"
            )
        self.backend = "process"
        return "process"

    def get(self) -> _local.LocalServices:
        if self.services is None:
            self.services = _local.LocalServices(_cleanup.ServiceSession())
            self.services.on_start = _docker_state(self.config).track
        return self.services

    def close(self) -> None:
        if self.services is not None:
            self.services.close()
            self.services.session.close()
            self.services = None


def _local_state(config: pytest.Config) -> _LocalState:
    return stashed(config, LOCAL_KEY, _LocalState)


def describe_backend(config: pytest.Config) -> str:
    """The header line: which backend ``auto`` would take, without starting anything."""
    wanted = wanted_backend(config)
    server = _local.find_server()
    local = f"process ({server})" if server else "process (no mariadbd/mysqld found)"
    if wanted == "process":
        return f"wasm services: MariaDB on {local}"
    host = os.environ.get("DOCKER_HOST")
    # No probe where no daemon can be (a missing socket): a header must not cost a connect timeout.
    if host and not host.startswith("unix://"):
        socket_path = None  # tcp:// or ssh://: only a probe can tell
    else:
        socket_path = host[len("unix://") :] if host else DEFAULT_SOCKET
    answers = False
    if socket_path is None or os.path.exists(socket_path):
        try:
            _docker.docker_client(timeout=3)
            answers = True
        except DockerUnavailableError:
            pass
    if answers:
        return f"wasm services: MariaDB on docker ({'DOCKER_HOST' if host else 'the default socket'})"
    if wanted == "docker":
        return "wasm services: MariaDB on docker (no daemon answers)"
    return f"wasm services: MariaDB on {local}, as no Docker daemon answers"


def local_sessionstart(session: pytest.Session) -> None:
    """A bad backend setting is a usage error at once; servers of killed sessions are stopped."""
    wanted_backend(session.config)
    try:
        _local.stop_dead_servers(_cleanup.default_state_dir())
    except Exception:  # never break a session over housekeeping
        return


@pytest.fixture(scope="session")
def local_services(pytestconfig: pytest.Config) -> Iterator[_local.LocalServices]:
    """The session's local server processes (``--wasm-services-backend process``); all stopped at its end."""
    state = _local_state(pytestconfig)
    try:
        services = state.get()
    except _local.ServerNotFoundError as e:
        _unavailable(f"{e}. {e.hint}")
    try:
        yield services
    finally:
        state.close()


def _mariadb_image(config: pytest.Config) -> str:
    from .plugin import _setting

    return (
        _setting(config, "wasm_mariadb_image", "wasm_mariadb_image", _mariadb.IMAGE_ENV)
        or _mariadb.DEFAULT_IMAGE
    )


@pytest.fixture
def mariadb_factory(
    request: pytest.FixtureRequest, pytestconfig: pytest.Config
) -> Iterator[Callable[..., _mariadb.MariaDB]]:
    """``mariadb_factory(root_password=, database=, user=, password=, image=)`` -> a MariaDB ready for a
    login as ``user``, on Docker or as a local process (see ``--wasm-services-backend``); stopped when the
    test ends."""
    started: list[_mariadb.MariaDB] = []
    backend = _local_state(pytestconfig).choose()
    services: _docker.DockerServices | _local.LocalServices = request.getfixturevalue(
        "docker_services" if backend == "docker" else "local_services"
    )

    def start(**settings: Any) -> _mariadb.MariaDB:
        if backend == "docker":
            settings.setdefault("image", _mariadb_image(pytestconfig))
        else:
            settings.pop("image", None)  # the machine's own server runs, whatever image is named
        db = _mariadb.start_mariadb(services, **settings)
        started.append(db)
        return db

    try:
        yield start
    finally:
        stop: Callable[[Any], object] = services.stop  # each backend stops the kind it started
        for db in reversed(started):
            stop(db.container)


@pytest.fixture
def mariadb(mariadb_factory: Callable[..., _mariadb.MariaDB]) -> _mariadb.MariaDB:
    """A MariaDB with database ``test``, user ``test``/``test`` (root password ``root``); ``mariadb.url()``."""
    return mariadb_factory()


@pytest.fixture
def wasm_compose(
    request: pytest.FixtureRequest, wasm_session: WasmSession, pytestconfig: pytest.Config
) -> Iterator[Callable[..., _compose.ComposeProject]]:
    """``wasm_compose(path, fixed_ports=False, startup_timeout=120)`` starts a compose project (Wasm services
    here, MariaDB/MySQL on the services backend, the others on Docker) and returns it; every project is
    torn down when the test ends."""
    projects: list[_compose.ComposeProject] = []
    docker_state = _docker_state(pytestconfig)
    local_state = _local_state(pytestconfig)

    def docker() -> _docker.DockerServices:
        # Only a project with Docker services asks, so a Wasm-only project runs without Docker.
        services: _docker.DockerServices = request.getfixturevalue("docker_services")
        return services

    def local() -> _local.LocalServices | None:
        if local_state.choose() != "process":
            return None
        services: _local.LocalServices = request.getfixturevalue("local_services")
        return services

    def up(path: str | Path, **options: Any) -> _compose.ComposeProject:
        compose_file = _compose.load_compose(path)
        project = _compose.ComposeProject(
            compose_file,
            docker=docker,
            local=local,
            wasm=wasm_session,
            image_overrides=docker_state.overrides(),
            **options,
        )
        projects.append(project)
        return project.up()

    try:
        yield up
    finally:
        errors: list[WasmContainersError | Exception] = []
        for project in reversed(projects):
            try:
                project.down()
            except Exception as e:
                errors.append(e)
        if errors:
            raise errors[0]
