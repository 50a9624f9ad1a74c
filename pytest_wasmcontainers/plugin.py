"""The pytest side: options, ini settings, fixtures, reports. The only module that imports pytest."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from . import hookspecs
from .container import ContainerConfigError, ContainerSettings, WasmContainer
from .errors import ContainerError
from .session import (
    PULL_POLICIES,
    ImageRecord,
    PullStats,
    SessionConfig,
    WasmSession,
    parse_image_option,
)

SESSION_KEY = pytest.StashKey[WasmSession]()
CONTAINERS_KEY = pytest.StashKey[list[WasmContainer]]()
WORKER_RECORDS_KEY = pytest.StashKey[list[ImageRecord]]()
SETTING_NAMES = tuple(f.name for f in fields(ContainerSettings))
PROGRESS_AFTER = 1.0  # seconds: quick pulls stay quiet


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("wasmcontainers", "Wasm containers (pytest-wasmcontainers)")
    group.addoption(
        "--wasm-image",
        action="append",
        default=[],
        metavar="[NAME=]REF",
        help="image of the wasm_container fixture (REF), or a logical image name tests use mapped to a "
        "real reference (NAME=REF). Repeatable. ini: wasm_image; env: WASMCONTAINERS_IMAGE",
    )
    group.addoption(
        "--wasm-pull-policy",
        choices=PULL_POLICIES,
        default=None,
        help="missing (default): pull unless cached; always: pull once per session; never: cache only. "
        "ini: wasm_pull_policy; env: WASMCONTAINERS_PULL_POLICY",
    )
    group.addoption(
        "--wasm-cache-dir",
        default=None,
        metavar="DIR",
        help="image and compiled-module cache, shared by xdist workers. ini: wasm_cache_dir; "
        "env: WASMCONTAINERS_CACHE_DIR",
    )
    group.addoption(
        "--wasm-insecure-registry",
        action="append",
        default=[],
        metavar="HOST[:PORT]",
        help="registry to reach over plain HTTP (repeatable). ini: wasm_insecure_registries; "
        "env: WASMCONTAINERS_INSECURE_REGISTRIES (comma-separated)",
    )
    group.addoption(
        "--wasm-startup-timeout",
        default=None,
        metavar="SECONDS",
        help="default seconds a container may take to become ready (30). ini: wasm_startup_timeout; "
        "env: WASMCONTAINERS_STARTUP_TIMEOUT",
    )
    parser.addini("wasm_image", "image(s) for wasm_container: REF or NAME=REF, one a line", type="linelist")
    parser.addini("wasm_pull_policy", "missing, always or never", default="")
    parser.addini("wasm_cache_dir", "image and compiled-module cache directory", default="")
    parser.addini("wasm_insecure_registries", "registries reached over plain HTTP", type="linelist")
    parser.addini("wasm_startup_timeout", "default container startup timeout in seconds", default="")
    _add_docker_options(group)


def _setting(config: pytest.Config, option: str, ini: str, env: str) -> str:
    """Command line, then environment, then ini file."""
    value = config.getoption(option)
    if value:
        return str(value)
    return os.environ.get(env) or str(config.getini(ini) or "")


def session_config(config: pytest.Config) -> SessionConfig:
    images = [
        *config.getini("wasm_image"),
        *os.environ.get("WASMCONTAINERS_IMAGE", "").split(),
        *config.getoption("wasm_image"),
    ]
    insecure = [
        *config.getini("wasm_insecure_registries"),
        *os.environ.get("WASMCONTAINERS_INSECURE_REGISTRIES", "").replace(",", " ").split(),
        *config.getoption("wasm_insecure_registry"),
    ]
    timeout_text = _setting(
        config, "wasm_startup_timeout", "wasm_startup_timeout", "WASMCONTAINERS_STARTUP_TIMEOUT"
    )
    try:
        timeout = float(timeout_text) if timeout_text else 30.0
    except ValueError:
        raise pytest.UsageError(
            f"wasm startup timeout {timeout_text!r} is not a number of seconds (e.g. --wasm-startup-timeout 60)"
        ) from None
    cache_dir = _setting(config, "wasm_cache_dir", "wasm_cache_dir", "WASMCONTAINERS_CACHE_DIR")
    policy = (
        _setting(config, "wasm_pull_policy", "wasm_pull_policy", "WASMCONTAINERS_PULL_POLICY") or "missing"
    )
    try:
        return SessionConfig(
            images=parse_image_option(images),
            pull_policy=policy,
            cache_dir=Path(cache_dir).expanduser().resolve() if cache_dir else None,
            insecure_registries=tuple(dict.fromkeys(insecure)),
            startup_timeout=timeout,
        )
    except ContainerConfigError as e:
        raise pytest.UsageError(str(e)) from None


class _PytestHooks:
    """Forwards the session's events to the plugin hooks."""

    def __init__(self, config: pytest.Config) -> None:
        self.hook = config.hook

    def before_start(self, settings: ContainerSettings) -> None:
        self.hook.pytest_wasmcontainers_before_start(settings=settings)

    def ready(self, container: WasmContainer) -> None:
        self.hook.pytest_wasmcontainers_ready(container=container)

    def stopped(self, container: WasmContainer, exit_code: int | None, logs: str) -> None:
        self.hook.pytest_wasmcontainers_stopped(container=container, exit_code=exit_code, logs=logs)

    def image_pulled(self, image: Any, stats: PullStats) -> None:
        self.hook.pytest_wasmcontainers_image_pulled(image=image, stats=stats)


class _PullProgress:
    """Shows per-layer bytes, but only for pulls slow enough (> 1 s) for a person to wonder."""

    def __init__(self, config: pytest.Config, reference: str) -> None:
        self.config, self.reference = config, reference
        self.start = time.monotonic()
        self.last_print = 0.0
        self.shown = False

    def __call__(self, progress: Any) -> None:
        now = time.monotonic()
        if now - self.start < PROGRESS_AFTER or now - self.last_print < 0.5:
            return
        self.last_print = now
        layer = str(_first(progress, "layer", "digest", "blob") or "")[:19]
        done = _first(progress, "done", "downloaded", "bytes_done", "completed") or 0
        total = _first(progress, "total", "size", "bytes_total")
        amount = _mib(done) + (f" / {_mib(total)}" if total else "")
        self._write(f"wasm pull {self.reference}: {layer} {amount}")
        self.shown = True

    def close(self) -> None:
        if self.shown:
            self._write(f"wasm pull {self.reference}: done in {time.monotonic() - self.start:.1f} s")

    def _write(self, line: str) -> None:
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        capman = self.config.pluginmanager.get_plugin("capturemanager")
        if reporter is None:
            return
        if capman is not None:
            with capman.global_and_fixture_disabled():
                reporter.write_line(line)
        else:
            reporter.write_line(line)


def _first(obj: Any, *names: str) -> Any:
    for n in names:
        value = obj.get(n) if isinstance(obj, dict) else getattr(obj, n, None)
        if value is not None:
            return value
    return None


def _mib(n: Any) -> str:
    return f"{float(n) / (1 << 20):.1f} MiB"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "wasm_container(image=None, **settings): settings of the wasm_container fixture for this test "
        "(image, command, entrypoint, env, ports, volumes, wait, name, memory_limit, startup_timeout)",
    )
    on_worker = hasattr(config, "workerinput")

    def progress(reference: str) -> Callable[[Any], None] | None:
        return None if on_worker else _PullProgress(config, reference)

    config.stash[SESSION_KEY] = WasmSession(session_config(config), _PytestHooks(config), progress)
    config.stash[WORKER_RECORDS_KEY] = []


def _session(config: pytest.Config) -> WasmSession:
    try:
        return config.stash[SESSION_KEY]
    except KeyError:
        raise pytest.UsageError("pytest-wasmcontainers is not configured in this run") from None


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    wasm = session.config.stash.get(SESSION_KEY, None)
    if wasm is None:
        return
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["wasmcontainers_records"] = json.dumps([r.to_json() for r in wasm.records.values()])
    wasm.close()


def pytest_unconfigure(config: pytest.Config) -> None:
    # After an interrupted run sessionfinish may not have closed it; closing twice is harmless.
    wasm = config.stash.get(SESSION_KEY, None)
    if wasm is not None:
        wasm.close()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """xdist controller: collect each worker's image timings for the terminal summary."""
    data = getattr(node, "workeroutput", {}).get("wasmcontainers_records")
    if data:
        records = node.config.stash.setdefault(WORKER_RECORDS_KEY, [])
        records.extend(ImageRecord.from_json(r) for r in json.loads(data))


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if config.getoption("verbose") <= 0:
        return
    wasm = config.stash.get(SESSION_KEY, None)
    records = [*(wasm.records.values() if wasm else ()), *config.stash.get(WORKER_RECORDS_KEY, [])]
    if not records:
        return
    terminalreporter.write_sep("=", "wasm containers: pull, compile, start")
    for line in summary_lines(records):
        terminalreporter.write_line(line)


def summary_lines(records: list[ImageRecord]) -> Iterator[str]:
    """Per image: each pull (one per xdist worker) and its containers' times, all workers together."""
    merged: dict[str, list[ImageRecord]] = {}
    for r in records:
        merged.setdefault(r.reference, []).append(r)
    for ref, group in merged.items():
        digest = next((r.digest for r in group if r.digest), "")
        yield f"{ref}  {digest[:19]}"
        for r in group:
            if r.pull is not None:
                hit = {True: "cache hit", False: "downloaded", None: "cache ?"}[r.pull.cache_hit]
                size = f", {_mib(r.pull.bytes_downloaded)}" if r.pull.bytes_downloaded else ""
                yield f"  pull {r.pull.seconds:.2f} s ({hit}{size})"
        count = sum(r.containers for r in group)
        if count:
            compile_s = [s for r in group for s in r.compile_seconds]
            hits = sum(r.compile_hits for r in group)
            start = [s for r in group for s in r.start_seconds]
            ready = [s for r in group for s in r.ready_seconds]
            yield (
                f"  {count} container(s): compile or cache load {_avg(compile_s)} ({hits}/{count} from cache), "
                f"start {_avg(start)}, ready {_avg(ready)}"
            )


def _avg(values: list[float]) -> str:
    if not values:
        return "-"
    mean = sum(values) / len(values)
    return f"{mean:.2f} s" if len(values) == 1 else f"{mean:.2f} s avg, {max(values):.2f} s max"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if not report.failed:
        return
    for container in item.stash.get(CONTAINERS_KEY, []):
        code = container.exit_code
        state = "running" if code is None else f"exit code {code}"
        report.sections.append(
            (
                f"wasm container {container.name} ({container.image.reference}, {state})",
                container.logs() or "(no output)",
            )
        )
    # A container that never became ready is not handed out, but its whole log explains the error.
    error = call.excinfo.value if call.excinfo is not None else None
    if isinstance(error, ContainerError) and error.logs:
        report.sections.append(("wasm container that failed to start", error.logs))


# --- fixtures -------------------------------------------------------------------------------------
def _settings(image: str | None, kwargs: dict[str, Any], where: str) -> ContainerSettings:
    unknown = sorted(set(kwargs) - set(SETTING_NAMES))
    if unknown:
        raise TypeError(
            f"{where}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(SETTING_NAMES[1:])}"
        )
    return ContainerSettings(image=image or "", **kwargs)


@pytest.fixture(scope="session")
def wasm_session(pytestconfig: pytest.Config) -> WasmSession:
    """The session's runtime, image cache and pulled images (one per xdist worker)."""
    return _session(pytestconfig)


class ContainerFactory:
    """Starts containers and stops all of them when its scope ends."""

    def __init__(self, session: WasmSession, on_start: Callable[[WasmContainer], None] | None = None) -> None:
        self.session = session
        self.on_start = on_start
        self.containers: list[WasmContainer] = []

    def __call__(self, image: str | None = None, **settings: Any) -> WasmContainer:
        container = self.session.start(_settings(image, settings, "wasm_container_factory"))
        self.containers.append(container)
        if self.on_start is not None:
            self.on_start(container)
        return container

    def stop_all(self) -> None:
        errors = []
        for container in reversed(self.containers):
            try:
                self.session.stop(container)
            except Exception as e:
                errors.append(e)
        self.containers.clear()
        if errors:
            raise errors[0]


def _track(item: pytest.Item) -> Callable[[WasmContainer], None]:
    return lambda container: item.stash.setdefault(CONTAINERS_KEY, []).append(container)


@pytest.fixture
def wasm_container_factory(
    wasm_session: WasmSession, request: pytest.FixtureRequest
) -> Iterator[ContainerFactory]:
    """``wasm_container_factory(image, command=..., env=..., ports=..., wait=...)``: start a container and
    get it once ready; every container it made is stopped when the test ends."""
    factory = ContainerFactory(wasm_session, _track(request.node))
    try:
        yield factory
    finally:
        factory.stop_all()


@pytest.fixture(scope="session")
def wasm_container_session_factory(wasm_session: WasmSession) -> Iterator[ContainerFactory]:
    """Like ``wasm_container_factory``, but its containers live until the session ends (share them)."""
    factory = ContainerFactory(wasm_session)
    try:
        yield factory
    finally:
        factory.stop_all()


@pytest.fixture
def wasm_container(wasm_container_factory: ContainerFactory, request: pytest.FixtureRequest) -> WasmContainer:
    """A running, ready container of ``--wasm-image`` (or of ``@pytest.mark.wasm_container(image=...)``)."""
    marker = request.node.get_closest_marker("wasm_container")
    kwargs: dict[str, Any] = dict(marker.kwargs) if marker else {}
    if marker and marker.args:
        kwargs.setdefault("image", marker.args[0])
    image = kwargs.pop("image", None)
    try:
        settings = _settings(image, kwargs, "@pytest.mark.wasm_container")
        wasm_container_factory.session.resolve(settings.image)
    except (ContainerConfigError, TypeError) as e:
        pytest.fail(f"usage error: {e}", pytrace=False)
    return wasm_container_factory(settings.image, **{k: getattr(settings, k) for k in kwargs})


# --- Docker services and compose ---
from typing import NoReturn  # noqa: E402

from .errors import DockerUnavailableError, WasmContainersError  # noqa: E402
from .services import cleanup as _cleanup  # noqa: E402
from .services import compose as _compose  # noqa: E402
from .services import docker as _docker  # noqa: E402
from .services import mariadb as _mariadb  # noqa: E402

REQUIRE_SERVICES_ENV = "WASMCONTAINERS_REQUIRE_SERVICES"
OVERRIDES_ENV = "WASMCONTAINERS_IMAGE_OVERRIDES"
DOCKER_KEY = pytest.StashKey["_DockerState"]()
DOCKER_CONTAINERS_KEY = pytest.StashKey[list[_docker.DockerContainer]]()


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
            report.sections.append((f"docker container {c.name} ({c.image}, {state})", logs or "(no output)"))

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

    def track(self, container: _docker.DockerContainer) -> None:
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
        self.inner = _PullProgress(config, f"docker {reference}")

    def __call__(self, event: Any) -> None:
        detail = event.get("progressDetail") or {}
        if detail.get("current"):
            self.inner(
                {"layer": event.get("id", ""), "done": detail["current"], "total": detail.get("total")}
            )

    def close(self) -> None:
        self.inner.close()


def _docker_state(config: pytest.Config) -> _DockerState:
    state = config.stash.get(DOCKER_KEY, None)
    if state is None:
        state = config.stash[DOCKER_KEY] = _DockerState(config)
    return state


def pytest_sessionstart(session: pytest.Session) -> None:
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


def _mariadb_image(config: pytest.Config) -> str:
    return (
        _setting(config, "wasm_mariadb_image", "wasm_mariadb_image", _mariadb.IMAGE_ENV)
        or _mariadb.DEFAULT_IMAGE
    )


@pytest.fixture
def mariadb_factory(
    docker_services: _docker.DockerServices, pytestconfig: pytest.Config
) -> Iterator[Callable[..., _mariadb.MariaDB]]:
    """``mariadb_factory(root_password=, database=, user=, password=, image=)`` -> a MariaDB ready for a
    login as ``user``; removed when the test ends."""
    started: list[_mariadb.MariaDB] = []

    def start(**settings: Any) -> _mariadb.MariaDB:
        settings.setdefault("image", _mariadb_image(pytestconfig))
        db = _mariadb.start_mariadb(docker_services, **settings)
        started.append(db)
        return db

    try:
        yield start
    finally:
        for db in reversed(started):
            docker_services.stop(db.container)


@pytest.fixture
def mariadb(mariadb_factory: Callable[..., _mariadb.MariaDB]) -> _mariadb.MariaDB:
    """A MariaDB with database ``test``, user ``test``/``test`` (root password ``root``); ``mariadb.url()``."""
    return mariadb_factory()


@pytest.fixture
def wasm_compose(
    request: pytest.FixtureRequest, wasm_session: WasmSession, pytestconfig: pytest.Config
) -> Iterator[Callable[..., _compose.ComposeProject]]:
    """``wasm_compose(path, fixed_ports=False, startup_timeout=120)`` starts a compose project (Wasm services
    here, the others on Docker) and returns it; every project is torn down when the test ends."""
    projects: list[_compose.ComposeProject] = []
    state = _docker_state(pytestconfig)

    def docker() -> _docker.DockerServices:
        # Only a project with Docker services asks, so a Wasm-only project runs without Docker.
        services: _docker.DockerServices = request.getfixturevalue("docker_services")
        return services

    def up(path: str | Path, **options: Any) -> _compose.ComposeProject:
        compose_file = _compose.load_compose(path)
        project = _compose.ComposeProject(
            compose_file, docker=docker, wasm=wasm_session, image_overrides=state.overrides(), **options
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
