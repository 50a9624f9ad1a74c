"""The Docker side of the plugin: options, the Docker services fixtures, their reports.

Split from ``plugin.py`` (which re-exports every hook and fixture, so pytest finds them there).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Iterator
from typing import Any, NoReturn, TypeVar

import pytest

from .errors import DockerUnavailableError
from .services import cleanup as _cleanup
from .services import docker as _docker
from .services import mariadb as _mariadb

T = TypeVar("T")
REQUIRE_SERVICES_ENV = "WASMCONTAINERS_REQUIRE_SERVICES"
OVERRIDES_ENV = "WASMCONTAINERS_IMAGE_OVERRIDES"
DOCKER_KEY = pytest.StashKey["_DockerState"]()
DOCKER_CONTAINERS_KEY = pytest.StashKey[list[Any]]()
"""A test's Docker containers and local servers, for its failure report."""


def _add_docker_options(group: Any) -> None:
    """Options of the Docker services and compose fixtures."""
    group.addoption(
        "--wasm-mariadb-image",
        default=None,
        metavar="REF",
        help=f"image of the mariadb fixtures (default {_mariadb.DEFAULT_IMAGE}). ini: wasm_mariadb_image; "
        f"env: {_mariadb.IMAGE_ENV}",
    )
    group.addoption(
        "--wasm-compose-image",
        action="append",
        default=[],
        metavar="OLD=NEW",
        help="run Docker image NEW wherever a compose file or docker_container_factory asks for OLD "
        "(OLD without a tag matches every tag; repeatable). ini: wasm_compose_images; "
        f"env: {OVERRIDES_ENV} (comma-separated)",
    )
    parser = group.parser
    if parser is not None:
        parser.addini("wasm_mariadb_image", "image of the mariadb fixtures", default="")
        parser.addini("wasm_compose_images", "Docker image overrides OLD=NEW, one a line", type="linelist")


def _services_required() -> bool:
    return os.environ.get(REQUIRE_SERVICES_ENV, "").lower() in ("1", "true", "yes")


def _unavailable(reason: str) -> NoReturn:
    """Skip with the reason; fail instead in CI, where a skipped service test would hide a broken setup."""
    if _services_required():
        pytest.fail(
            f"{reason} ({REQUIRE_SERVICES_ENV} is set, so this is a failure, not a skip)", pytrace=False
        )
    pytest.skip(reason)


class _DockerState:
    """Per process (each xdist worker has its own): the Docker client and this session's services."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.services: _docker.DockerServices | None = None
        self.error: str | None = None
        self.current_item: pytest.Item | None = None

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None, Any, None]:
        self.current_item = item
        try:
            yield
        finally:
            self.current_item = None

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item) -> Generator[None, Any, None]:
        """A failed test's report gets the logs of the Docker containers it started."""
        outcome = yield
        report: pytest.TestReport = outcome.get_result()
        if not report.failed:
            return
        for c in item.stash.get(DOCKER_CONTAINERS_KEY, []):
            try:
                code, logs = c.exit_code, c.logs()
            except Exception as e:  # the daemon went away: say so rather than hide the test's failure
                code, logs = None, f"(logs unavailable: {e})"
            state = "running" if code is None else f"exit code {code}"
            kind = "docker container" if isinstance(c, _docker.DockerContainer) else "local server"
            report.sections.append((f"{kind} {c.name} ({c.image}, {state})", logs or "(no output)"))

    def overrides(self) -> dict[str, str]:
        items = [
            *self.config.getini("wasm_compose_images"),
            *os.environ.get(OVERRIDES_ENV, "").replace(",", " ").split(),
            *self.config.getoption("wasm_compose_image"),
        ]
        try:
            return _docker.parse_overrides(items)
        except ValueError as e:
            raise pytest.UsageError(str(e)) from None

    def get(self) -> _docker.DockerServices:
        if self.services is not None:
            return self.services
        if self.error is not None:
            raise DockerUnavailableError(self.error)
        try:
            client = _docker.docker_client()
        except DockerUnavailableError as e:
            self.error = str(e)
            raise
        on_worker = hasattr(self.config, "workerinput")
        session = _cleanup.ServiceSession()
        _cleanup.remove_dead_sessions(client, session)
        self.services = _docker.DockerServices(
            client,
            session,
            image_overrides=self.overrides(),
            progress=None if on_worker else lambda ref: _DockerPullProgress(self.config, ref),
        )
        self.services.on_start = self.track
        return self.services

    def track(self, container: Any) -> None:
        if self.current_item is not None:
            self.current_item.stash.setdefault(DOCKER_CONTAINERS_KEY, []).append(container)

    def close(self) -> None:
        if self.services is not None:
            self.services.close()
            self.services.session.close()
            self.services = None


class _DockerPullProgress:
    """Feeds Docker's pull events (per layer) to the same progress lines as Wasm pulls."""

    def __init__(self, config: pytest.Config, reference: str) -> None:
        from .plugin import _PullProgress  # here: plugin.py imports this module at its top

        self.inner = _PullProgress(config, f"docker {reference}")

    def __call__(self, event: Any) -> None:
        detail = event.get("progressDetail") or {}
        if detail.get("current"):
            self.inner(
                {"layer": event.get("id", ""), "done": detail["current"], "total": detail.get("total")}
            )

    def close(self) -> None:
        self.inner.close()


def stashed(config: pytest.Config, key: pytest.StashKey[T], make: Callable[[pytest.Config], T]) -> T:
    """The per-process state under ``key``, made on first use."""
    state = config.stash.get(key, None)
    if state is None:
        state = config.stash[key] = make(config)
    return state


def _docker_state(config: pytest.Config) -> _DockerState:
    return stashed(config, DOCKER_KEY, _DockerState)


def docker_sessionstart(session: pytest.Session) -> None:
    """Check the Docker options; remove containers that killed sessions left behind, when a Docker daemon
    is plainly there."""
    state = _docker_state(session.config)
    state.overrides()  # a malformed override is a usage error, at once
    if not session.config.pluginmanager.is_registered(state):
        session.config.pluginmanager.register(state, "wasmcontainers-docker")
    if not (os.environ.get("DOCKER_HOST") or os.path.exists("/var/run/docker.sock")):
        return
    try:
        client = _docker.docker_client(timeout=10)
        _cleanup.remove_dead_sessions(client)
    except Exception:  # never break a session over housekeeping
        return


@pytest.fixture(scope="session")
def docker_services(pytestconfig: pytest.Config) -> Iterator[_docker.DockerServices]:
    """The session's Docker side (skips, or fails under WASMCONTAINERS_REQUIRE_SERVICES=1, without Docker).
    Containers it starts carry the session's labels and are all removed when the session ends."""
    state = _docker_state(pytestconfig)
    try:
        services = state.get()
    except DockerUnavailableError as e:
        _unavailable(f"Docker is not available: {e}")
    try:
        yield services
    finally:
        state.close()


class DockerContainerFactory:
    """``docker_container_factory(image, env=..., ports=..., wait=..., healthcheck=...)``."""

    def __init__(self, services: _docker.DockerServices) -> None:
        self.services = services
        self.containers: list[_docker.DockerContainer] = []

    def __call__(self, image: str, **settings: Any) -> _docker.DockerContainer:
        container = self.services.start(image, **settings)
        self.containers.append(container)
        return container

    def stop_all(self) -> None:
        for c in reversed(self.containers):
            self.services.stop(c)
        self.containers.clear()


@pytest.fixture
def docker_container_factory(docker_services: _docker.DockerServices) -> Iterator[DockerContainerFactory]:
    """Start ordinary Docker containers (ports published on 127.0.0.1); removed when the test ends."""
    factory = DockerContainerFactory(docker_services)
    try:
        yield factory
    finally:
        factory.stop_all()
