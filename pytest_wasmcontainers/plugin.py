"""The pytest side: options, ini settings, fixtures, reports. With its ``plugin_*`` modules, the only code
that imports pytest; their hooks and fixtures are imported here, where pytest looks for them."""

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
from .errors import WasmContainersError
from .plugin_docker import (  # noqa: F401  (hooks and fixtures: pytest finds them in this module)
    DockerContainerFactory,
    _add_docker_options,
    docker_container_factory,
    docker_services,
    docker_sessionstart,
)
from .plugin_reports import add_report_options, finish_report, mib, note_doing, summary_lines
from .plugin_services import (  # noqa: F401  (likewise)
    _mariadb_image,
    add_backend_options,
    describe_backend,
    local_services,
    local_sessionstart,
    mariadb,
    mariadb_factory,
    wasm_compose,
)
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
    add_report_options(group)
    _add_docker_options(group)
    add_backend_options(group)


def pytest_sessionstart(session: pytest.Session) -> None:
    """Check the services options; stop what killed sessions left behind (containers, local servers)."""
    docker_sessionstart(session)
    local_sessionstart(session)


def pytest_report_header(config: pytest.Config) -> str | None:
    """Which backend the MariaDB fixtures take, once per run (not per xdist worker)."""
    if hasattr(config, "workerinput"):
        return None
    return describe_backend(config)


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
        amount = mib(done) + (f" / {mib(total)}" if total else "")
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


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if report.failed:
        finish_report(item, call, report, item.stash.get(CONTAINERS_KEY, []))


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
        wanted = _settings(image, settings, "wasm_container_factory")
        try:
            container = self.session.start(wanted)
        except WasmContainersError as e:
            # start() resolved a logical name in place, so the report names the real reference.
            note_doing(e, wanted.image or "the default image")
            raise
        self.containers.append(container)
        if self.on_start is not None:
            self.on_start(container)
        return container

    def stop_all(self) -> None:
        errors = []
        for container in reversed(self.containers):
            try:
                # Ports and logs are final at once; the scratch dir goes on the guest's thread (a
                # third of a stop), and the session waits for it at its end.
                self.session.stop(container, wait_cleanup=False)
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
