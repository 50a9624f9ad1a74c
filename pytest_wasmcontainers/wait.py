"""Readiness checks: when is a container ready for the test to use it?

A strategy is polled until it passes, the container exits, or the startup timeout runs out. Strategies
look at a small :class:`Target` protocol, so the same checks work for Wasm containers and for Docker
containers. They know nothing of pytest.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Container, Iterable
from typing import Protocol, runtime_checkable

from .errors import ContainerExitedError, StartupTimeoutError

LOG_TAIL_LINES = 30
LOG_HEADING = "Last log lines:"
"""Starts the log tail of container error messages (failure reports cut it shorter)."""
POLL_INTERVAL = 0.05


@runtime_checkable
class Target(Protocol):
    """What a readiness check may look at. ``WasmContainer`` and the Docker container handle have it."""

    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str:
        """Human words for error messages, e.g. ``wasm container 'web' (image localhost:5000/web:1)``."""
        ...

    @property
    def exit_code(self) -> int | None:
        """None while running."""
        ...

    @property
    def running(self) -> bool: ...

    def logs(self) -> str:
        """stdout and stderr so far."""
        ...

    def listening_port(self, container_port: int) -> int | None:
        """The host port if the container listens on ``container_port`` *now*, else None. Never blocks."""
        ...


@runtime_checkable
class ListenEvents(Protocol):
    """Optional for a :class:`Target`: a wait that wakes the moment a port listens. A Wasm container
    has it (the runtime knows when the guest listens); a Docker container does not, and is polled."""

    def wait_for_listen(self, container_ports: tuple[int, ...], timeout: float) -> None:
        """Return once every one of ``container_ports`` listens or the container exits, or after
        ``timeout`` seconds, whichever comes first. Raises nothing."""
        ...


class WaitStrategy:
    """One readiness condition. Subclasses implement :meth:`check` (one non-blocking poll)."""

    #: True when it is fine for the container to have exited once the check passes (command images).
    accepts_exit = False
    #: Why the last poll failed (shown in the timeout error), e.g. ``HTTP 503``.
    last_failure = ""

    def describe(self) -> str:
        raise NotImplementedError

    def check(self, target: Target) -> bool:
        raise NotImplementedError

    def reset(self) -> None:
        """Forget latched state, so one strategy object can be used for several containers."""
        self.last_failure = ""

    def __repr__(self) -> str:
        return f"<wait: {self.describe()}>"


class _Ports(WaitStrategy):
    def __init__(self, ports: tuple[int, ...]) -> None:
        if not ports:
            raise ValueError("wait.for_ports() needs at least one container port, e.g. for_ports(8080)")
        for p in ports:
            _check_port(p)
        self.ports = ports

    def describe(self) -> str:
        return "listening on container port(s) " + ", ".join(map(str, self.ports))

    def check(self, target: Target) -> bool:
        missing = [p for p in self.ports if target.listening_port(p) is None]
        self.last_failure = "not listening yet on " + ", ".join(map(str, missing)) if missing else ""
        return not missing

    def nap(self, target: Target) -> Callable[[float], None] | None:
        """Block until something may have changed, when the target can tell (see ListenEvents)."""
        if not isinstance(target, ListenEvents):
            return None
        return lambda seconds: target.wait_for_listen(self.ports, seconds)


BodyCheck = Callable[[str], bool] | str | re.Pattern[str]


class _Http(WaitStrategy):
    def __init__(
        self,
        port: int,
        path: str,
        status: int | Container[int] | Callable[[int], bool],
        body: BodyCheck | None,
        method: str,
        request_timeout: float,
    ) -> None:
        _check_port(port)
        if not path.startswith("/"):
            raise ValueError(f"wait.for_http path must start with '/', got {path!r}")
        self.port, self.path, self.status, self.method = port, path, status, method.upper()
        self.request_timeout = request_timeout
        self.body: Callable[[str], bool] | None
        if body is None or callable(body):
            self.body = body
        else:
            pattern = re.compile(body)
            self.body = lambda text: pattern.search(text) is not None
        self._body_text = "" if body is None else f" and a body matching {body!r}"

    def describe(self) -> str:
        status = self.status if isinstance(self.status, int) else "an accepted status"
        return f"HTTP {self.method} {self.path} on container port {self.port} -> {status}{self._body_text}"

    def _status_ok(self, code: int) -> bool:
        if isinstance(self.status, int):
            return code == self.status
        if callable(self.status):
            return bool(self.status(code))
        return code in self.status

    def check(self, target: Target) -> bool:
        host_port = target.listening_port(self.port)
        if host_port is None:
            self.last_failure = f"not listening yet on {self.port}"
            return False
        url = f"http://127.0.0.1:{host_port}{self.path}"
        import requests  # here: 0.1 s to import, for the strategies that speak HTTP only

        try:
            resp = requests.request(self.method, url, timeout=self.request_timeout, allow_redirects=False)
        except requests.RequestException as e:
            self.last_failure = f"{type(e).__name__}: {e}"
            return False
        if not self._status_ok(resp.status_code):
            self.last_failure = f"got HTTP {resp.status_code}"
            return False
        if self.body is not None and not self.body(resp.text):
            self.last_failure = f"body did not match: {resp.text[:200]!r}"
            return False
        return True


class _Log(WaitStrategy):
    def __init__(self, pattern: str | re.Pattern[str], times: int) -> None:
        self.pattern = re.compile(pattern, re.MULTILINE) if isinstance(pattern, str) else pattern
        if times < 1:
            raise ValueError("wait.for_log times must be >= 1")
        self.times = times

    def describe(self) -> str:
        times = "" if self.times == 1 else f" {self.times} times"
        return f"a log line matching {self.pattern.pattern!r}{times}"

    def check(self, target: Target) -> bool:
        found = sum(1 for _ in self.pattern.finditer(target.logs()))
        self.last_failure = f"{found} of {self.times} matches so far" if found < self.times else ""
        return found >= self.times


class _Exit(WaitStrategy):
    accepts_exit = True

    def __init__(self, code: int | None) -> None:
        self.code = code

    def describe(self) -> str:
        return "exit" if self.code is None else f"exit with code {self.code}"

    def check(self, target: Target) -> bool:
        code = target.exit_code
        if code is None:
            self.last_failure = "still running"
            return False
        if self.code is not None and code != self.code:
            raise ContainerExitedError(
                _message(target, f"exited with code {code}, expected {self.code}"),
                exit_code=code,
                logs=target.logs(),
            )
        return True


class _Callable(WaitStrategy):
    def __init__(self, fn: Callable[[Target], object], description: str) -> None:
        self.fn, self.description = fn, description

    def describe(self) -> str:
        return self.description

    def check(self, target: Target) -> bool:
        # An exception means "not ready yet" (a refused connection, say); the last one is reported.
        try:
            ok = bool(self.fn(target))
        except Exception as e:
            self.last_failure = f"{type(e).__name__}: {e}"
            return False
        self.last_failure = "" if ok else "returned False"
        return ok


class _AllOf(WaitStrategy):
    def __init__(self, parts: tuple[WaitStrategy, ...]) -> None:
        self.parts = _strategies(parts, "all_of")
        self.accepts_exit = any(p.accepts_exit for p in self.parts)
        self._done: set[int] = set()

    def describe(self) -> str:
        return "all of (" + "; ".join(p.describe() for p in self.parts) + ")"

    def reset(self) -> None:
        super().reset()
        self._done.clear()
        for p in self.parts:
            p.reset()

    def check(self, target: Target) -> bool:
        # Latch each part once it passed: a log line seen stays seen, in the order given.
        for i, part in enumerate(self.parts):
            if i in self._done:
                continue
            if not part.check(target):
                self.last_failure = f"waiting for {part.describe()}" + _why(part)
                return False
            self._done.add(i)
        return True


class _AnyOf(WaitStrategy):
    def __init__(self, parts: tuple[WaitStrategy, ...]) -> None:
        self.parts = _strategies(parts, "any_of")
        self.accepts_exit = any(p.accepts_exit for p in self.parts)

    def describe(self) -> str:
        return "any of (" + "; ".join(p.describe() for p in self.parts) + ")"

    def reset(self) -> None:
        super().reset()
        for p in self.parts:
            p.reset()

    def check(self, target: Target) -> bool:
        for part in self.parts:
            if part.check(target):
                return True
        self.last_failure = "; ".join(f"{p.describe()}{_why(p)}" for p in self.parts)
        return False


def for_ports(*ports: int) -> WaitStrategy:
    """Ready when the container listens on every one of these container ports."""
    return _Ports(tuple(ports))


def for_http(
    port: int,
    path: str = "/",
    status: int | Container[int] | Callable[[int], bool] = 200,
    body: BodyCheck | None = None,
    *,
    method: str = "GET",
    request_timeout: float = 2.0,
) -> WaitStrategy:
    """Ready when an HTTP request to ``path`` on ``port`` answers ``status`` (an int, a set of ints or a
    predicate) and, if given, a body for which ``body`` (a predicate or a regex searched for) holds."""
    return _Http(port, path, status, body, method, request_timeout)


def for_log(pattern: str | re.Pattern[str], *, times: int = 1) -> WaitStrategy:
    """Ready when stdout+stderr has ``times`` matches of the regex (``re.MULTILINE``)."""
    return _Log(pattern, times)


def for_exit(code: int | None = 0) -> WaitStrategy:
    """Ready when the container has exited with ``code`` (any code if None); another code fails at once."""
    return _Exit(code)


def for_callable(fn: Callable[[Target], object], description: str) -> WaitStrategy:
    """Ready when ``fn(container)`` returns true. Exceptions count as "not yet" and are reported."""
    return _Callable(fn, description)


def all_of(*strategies: WaitStrategy) -> WaitStrategy:
    """Ready when every strategy has passed (each is checked until it passes, in order)."""
    return _AllOf(strategies)


def any_of(*strategies: WaitStrategy) -> WaitStrategy:
    """Ready as soon as one of the strategies passes."""
    return _AnyOf(strategies)


def wait_until_ready(
    target: Target, strategy: WaitStrategy, timeout: float, *, interval: float = POLL_INTERVAL
) -> float:
    """Poll ``strategy`` until it passes; return the seconds it took.

    Raises ``ContainerExitedError`` as soon as the container exits (unless the strategy waits for an
    exit), and ``StartupTimeoutError`` after ``timeout`` seconds, saying what was awaited.
    """
    strategy.reset()
    delay = min(0.005, interval)
    # Port waits on a Wasm container block until the guest listens or exits, instead of sleeping
    # through a backoff step: the first check almost always runs before the guest's listen().
    nap = strategy.nap(target) if isinstance(strategy, _Ports) else None
    start = time.monotonic()
    deadline = start + timeout
    while True:
        # Read the exit state before checking, so a check that passes on a dying container's last
        # output does not count as ready.
        code = target.exit_code
        if strategy.check(target) and (code is None or strategy.accepts_exit):
            return time.monotonic() - start
        if code is not None:
            raise ContainerExitedError(
                _message(target, f"exited with code {code} while waiting for {strategy.describe()}"),
                exit_code=code,
                logs=target.logs(),
            )
        if time.monotonic() >= deadline:
            raise StartupTimeoutError(
                _message(
                    target,
                    f"was not ready after {timeout:g} s waiting for {strategy.describe()}{_why(strategy)}",
                ),
                logs=target.logs(),
            )
        if nap is not None:
            nap(max(0.0, min(interval, deadline - time.monotonic())))
            continue
        time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 2, interval)  # quick first polls: most guests are ready in milliseconds


def last_lines(text: str, n: int = LOG_TAIL_LINES) -> str:
    lines = text.rstrip("\n").splitlines()
    if not lines:
        return "  (no output)"
    more = f"  ... {len(lines) - n} earlier lines\n" if len(lines) > n else ""
    return more + "\n".join("  | " + line for line in lines[-n:])


def _message(target: Target, what: str) -> str:
    code = target.exit_code
    state = "running" if code is None else f"exited with code {code}"
    return f"{target.description} {what}.\nState: {state}\n{LOG_HEADING}\n{last_lines(target.logs())}"


def _why(strategy: WaitStrategy) -> str:
    return f" (last: {strategy.last_failure})" if strategy.last_failure else ""


def _check_port(port: int) -> None:
    if not isinstance(port, int) or not 0 < port < 65536:
        raise ValueError(f"container port must be an int in 1..65535, got {port!r}")


def _strategies(parts: Iterable[WaitStrategy], fn: str) -> tuple[WaitStrategy, ...]:
    out = tuple(parts)
    if not out:
        raise ValueError(f"wait.{fn}() needs at least one strategy")
    for p in out:
        if not isinstance(p, WaitStrategy):
            raise TypeError(f"wait.{fn}() takes strategies such as wait.for_ports(8080), got {p!r}")
    return out
