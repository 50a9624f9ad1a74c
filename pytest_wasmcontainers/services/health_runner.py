"""Run a container's healthcheck from here when the engine does not.

Podman schedules healthchecks with systemd timers; without systemd (CI containers, sandboxes) the status
stays ``starting`` forever with an empty log. Then we run the check ourselves with ``exec`` and judge it
as Docker does: the first probe one interval after the start, then one interval after each probe ends;
``healthy`` after one pass; failures during ``start_period`` do not count (while nothing has passed);
``unhealthy`` after ``retries`` consecutive counted failures; a probe longer than ``timeout`` fails.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from ..errors import ContainerError
from ..wait import WaitStrategy, last_lines

# Docker's defaults (0 or missing in the API means "default").
DEFAULT_INTERVAL = 30.0
DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRIES = 3
MAX_LOG = 5  # Docker keeps the last five probes
MAX_OUTPUT = 4096  # ... and 4 KiB of each probe's output
STALL_GRACE = 5.0
"""Seconds past interval+timeout (+start_period) with no probe logged before we decide nobody runs it."""


def healthcheck_config(attrs: Mapping[str, Any]) -> dict[str, Any] | None:
    """The effective ``Healthcheck`` of an inspected container, or None when it has none (or NONE)."""
    config = (attrs.get("Config") or {}).get("Healthcheck") or {}
    test = list(config.get("Test") or [])
    if not test or test[0] == "NONE":
        return None
    return dict(config)


def engine_runs_healthchecks(client: Any) -> bool:
    """False for a local Podman without systemd (its healthchecks are systemd timers); True otherwise.

    A remote engine is trusted; ``stalled`` catches one that still does not run them.
    """
    try:
        version = client.version()
    except Exception:
        return True
    names = [str(c.get("Name", "")) for c in version.get("Components") or []]
    if not any("podman" in n.lower() for n in names):
        return True
    local = getattr(getattr(client, "api", None), "base_url", "") == "http+docker://localhost"  # unix socket
    return not local or os.path.isdir("/run/systemd/system")  # sd_booted()'s test


def _seconds(ns: Any, default: float) -> float:
    return float(ns) / 1e9 if ns else default


def stalled(config: Mapping[str, Any], health: Mapping[str, Any] | None, running_for: float) -> bool:
    """The engine has had time for a probe and logged none: it is not running the healthcheck."""
    if health and health.get("Log"):
        return False
    budget = (
        _seconds(config.get("StartPeriod"), 0.0)
        + _seconds(config.get("Interval"), DEFAULT_INTERVAL)
        + _seconds(config.get("Timeout"), DEFAULT_TIMEOUT)
    )
    return running_for > budget + STALL_GRACE


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


class HealthRunner:
    """Runs ``config``'s test in ``container`` (a ``docker`` SDK container) on a daemon thread."""

    def __init__(self, container: Any, config: Mapping[str, Any], started: float | None = None) -> None:
        self.container = container
        test = [str(t) for t in config["Test"]]
        self.argv = ["/bin/sh", "-c", " ".join(test[1:])] if test[0] == "CMD-SHELL" else test[1:]
        self.interval = _seconds(config.get("Interval"), DEFAULT_INTERVAL)
        self.timeout = _seconds(config.get("Timeout"), DEFAULT_TIMEOUT)
        self.start_period = _seconds(config.get("StartPeriod"), 0.0)
        self.retries = int(config.get("Retries") or DEFAULT_RETRIES)
        self.started = time.monotonic() if started is None else started
        self.status = "starting"
        self.failing_streak = 0
        self.log: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"healthcheck {container.name}", daemon=True)

    def start(self) -> HealthRunner:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def state(self) -> dict[str, Any]:
        """The ``State.Health`` object Docker would report."""
        with self._lock:
            return {"Status": self.status, "FailingStreak": self.failing_streak, "Log": list(self.log)}

    def _loop(self) -> None:
        first = self.started + self.interval - time.monotonic()
        if self._stop.wait(max(first, 0.0)):
            return
        while not self._stop.is_set():
            start = _now()
            result = self.probe()
            if result is None:  # the container is gone or stopped: Docker stops probing too
                return
            self.record(*result, start=start)
            if self._stop.wait(self.interval):
                return

    def probe(self) -> tuple[int, str] | None:
        """One run of the test: (exit code, output); -1 and a message when it exceeds the timeout."""
        import docker.errors

        box: list[tuple[int, str] | BaseException] = []

        def run() -> None:
            try:
                code, out = self.container.exec_run(self.argv, stdout=True, stderr=True)
                box.append(
                    (int(code if code is not None else -1), bytes(out or b"").decode("utf-8", "replace"))
                )
            except BaseException as e:
                box.append(e)

        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        worker.join(self.timeout)
        if not box:
            return -1, f"Health check exceeded timeout ({self.timeout:g}s)"
        got = box[0]
        if isinstance(got, docker.errors.NotFound):
            return None
        if isinstance(got, docker.errors.APIError):
            # 409: not running any more; anything else is the probe failing to start, as in Docker.
            if getattr(got, "status_code", None) == 409:
                return None
            return -1, str(got)
        if isinstance(got, BaseException):
            return -1, f"{type(got).__name__}: {got}"
        return got

    def record(self, code: int, output: str, start: str | None = None) -> None:
        """Judge one probe as Docker does."""
        entry = {"Start": start or _now(), "End": _now(), "ExitCode": code, "Output": output[:MAX_OUTPUT]}
        with self._lock:
            self.log = [*self.log, entry][-MAX_LOG:]
            if code == 0:
                self.status, self.failing_streak = "healthy", 0
                return
            in_start_period = time.monotonic() - self.started < self.start_period
            if in_start_period and self.status == "starting":
                return
            self.failing_streak += 1
            if self.failing_streak >= self.retries:
                self.status = "unhealthy"


class _Healthy(WaitStrategy):
    """Docker's own healthcheck reports ``healthy`` (``unhealthy`` fails at once)."""

    def describe(self) -> str:
        return "the Docker healthcheck to report healthy"

    def check(self, target: Any) -> bool:
        status = target.health
        if status == "unhealthy":
            raise ContainerError(
                f"{target.description} is unhealthy (its healthcheck failed its retries).\n"
                f"Healthcheck runs:\n{target.health_log() or '  (none)'}\n"
                f"Last log lines:\n{last_lines(target.logs())}",
                logs=target.logs(),
            )
        self.last_failure = f"health: {status}" if status != "healthy" else ""
        return bool(status == "healthy")


def for_docker_health() -> WaitStrategy:
    """Ready when the container's Docker healthcheck (image's or given) reports ``healthy``."""
    return _Healthy()
