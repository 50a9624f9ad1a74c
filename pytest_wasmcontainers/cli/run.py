"""``wasmcontainers run``: one container in the foreground, as ``docker run`` without ``-d`` runs one.

No readiness gate: the guest's output streams from its first line, each mapped port's URL is shown
once the guest listens on it, and a guest that exits (a command image) ends the run with its code.
Ctrl-C or SIGTERM stops the guest (WASI has no signals to forward, so there is no grace period to
wait out); a second one exits at once, without waiting for a guest stuck in a host call.
"""

from __future__ import annotations

import argparse
import io
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from ..container import ContainerConfigError, ContainerSettings, VolumeTarget, WasmContainer
from ..session import PULL_POLICIES, SessionConfig, WasmSession
from ..wait import any_of, for_callable, for_exit
from .output import LogFollower, notice, progress_factory

POLL = 0.05
"""How often the log is read again: the latency of streamed output, not a deadline."""
EXIT_FORCED = 137
# Ready as soon as it runs, or when it has already exited: a command image must not fail a port wait.
STARTED = any_of(for_callable(lambda _target: True, "started"), for_exit(None))


def register(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    from . import registry_options

    p = sub.add_parser(
        "run",
        parents=[*parents, registry_options()],
        usage="%(prog)s [options] REF [-- ARGS...]",
        help="run an image in the foreground",
        description="Run an image in the foreground on the embedded runtime. Arguments after -- "
        "replace the image's Cmd. The tool's own messages (URLs, stopping) go to stderr; stdout "
        "carries the container's output.",
    )
    p.add_argument("reference", metavar="REF")
    p.add_argument(
        "-p",
        "--publish",
        action="append",
        default=[],
        metavar="GUEST[:HOST]",
        help="map a container port to a host port (a free one if HOST is left out); repeatable",
    )
    p.add_argument("-e", "--env", action="append", default=[], metavar="K=V", help="set (K alone: pass on)")
    p.add_argument(
        "-v", "--volume", action="append", default=[], metavar="HOST:GUEST[:ro]", help="mount a directory"
    )
    p.add_argument("--tty", action=argparse.BooleanOptionalAction, default=None, help="stdout is a terminal")
    p.add_argument("--name", default=None)
    p.add_argument("-w", "--workdir", default=None, help="the guest's working directory")
    p.add_argument("-m", "--memory", default=None, help="linear memory limit, e.g. 64m")
    p.add_argument("--pull", dest="policy", choices=PULL_POLICIES, default="missing")
    p.set_defaults(func=run, takes_args=True)


def settings_from(args: argparse.Namespace) -> ContainerSettings:
    return ContainerSettings(
        image=args.reference,
        command=list(args.args) or None,
        env=parse_env(args.env),
        ports=parse_publish(args.publish),
        volumes=parse_volumes(args.volume),
        name=args.name,
        working_dir=args.workdir,
        tty=args.tty,
        memory_limit=args.memory,
        wait=STARTED,
    )


def parse_publish(items: list[str]) -> dict[int | str, int | None]:
    out: dict[int | str, int | None] = {}
    for item in items:
        guest, _, host = item.partition(":")
        if host and not host.isdigit():
            raise ContainerConfigError(f"-p {item}: the host port {host!r} is not a number (GUEST[:HOST])")
        out[guest] = int(host) if host else None
    return out


def parse_env(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not key:
            raise ContainerConfigError(f"-e {item!r}: give K=V, or K to pass the variable on")
        if sep:
            out[key] = value
        elif key in os.environ:  # Docker's `-e NAME`: this shell's value
            out[key] = os.environ[key]
    return out


def parse_volumes(items: list[str]) -> dict[str | Path, VolumeTarget]:
    out: dict[str | Path, VolumeTarget] = {}
    for item in items:
        rest, mode = item, "rw"
        if item.endswith((":ro", ":rw")):
            rest, mode = item[:-3], item[-2:]
        host, sep, guest = rest.rpartition(":")
        if not sep or not host or not guest:
            raise ContainerConfigError(f"-v {item!r}: give HOST:GUEST or HOST:GUEST:ro")
        out[Path(host)] = (guest, mode)
    return out


class Interrupted(BaseException):
    """A signal before the container ran (during the pull or the start)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class Signals:
    """SIGINT and SIGTERM: abort the start, then ask for a stop, then force the exit."""

    def __init__(self) -> None:
        self.starting = True
        self.stop = threading.Event()
        self.force = threading.Event()

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self.starting:
            self.starting = False  # a second signal while the start unwinds is only counted
            raise Interrupted(signum)
        (self.force if self.stop.is_set() else self.stop).set()

    def install(self) -> None:
        # Not restored afterwards: a second Ctrl-C that lands after the run returned would raise
        # KeyboardInterrupt on the way out (a traceback). The process ends with the command.
        for s in (signal.SIGINT, signal.SIGTERM):
            signal.signal(s, self._handle)


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    config = SessionConfig(
        cache_dir=args.cache_dir, insecure_registries=tuple(args.insecure), pull_policy=args.policy
    )
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(errors="replace")  # a guest's odd bytes must not end the run
    session = WasmSession(config, progress=progress_factory())
    signals = Signals()
    signals.install()
    try:
        container = session.start(settings)
        signals.starting = False
        return foreground(session, container, signals)
    except Interrupted as e:
        return 128 + e.signum
    finally:
        signals.starting = False
        session.close()


def foreground(session: WasmSession, container: WasmContainer, signals: Signals) -> int:
    follower = LogFollower(container, sys.stdout)
    for port in container.declared_ports:
        threading.Thread(target=_announce, args=(container, port), daemon=True).start()
    while container.running and not signals.stop.is_set():
        follower.pump()
        signals.stop.wait(POLL)
    if not container.running:
        follower.pump(final=True)
        return int(session.stop(container) or 0)  # it exited: stop() returns its code
    notice(f"stopping {container.name} (again to force)")
    codes: list[int | None] = []
    stopper = threading.Thread(target=lambda: codes.append(session.stop(container)), daemon=True)
    stopper.start()
    while stopper.is_alive() and not signals.force.is_set():
        follower.pump()
        stopper.join(POLL)
    follower.pump(final=True)
    if not codes:
        # Forced: the guest is stuck in a host call. Exit without the interpreter's shutdown, which
        # would wait for it; the next runtime start removes its scratch directory (its pid is dead).
        notice(f"{container.name} did not stop; exiting anyway")
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(EXIT_FORCED)
    code = codes[0] if codes[0] is not None else EXIT_FORCED
    notice(f"{container.name} stopped (exit code {code})")
    return code


def _announce(container: WasmContainer, port: int) -> None:
    while container.running:
        container.wait_for_listen((port,), 1.0)
        host = container.listening_port(port)
        if host is not None:
            notice(f"port {port} -> http://127.0.0.1:{host}")
            return
