"""Which test session owns a container, and removal of containers whose session died.

Every session holds an exclusive lock on ``<state_dir>/<session id>.lock`` for as long as it runs and
labels its containers with that id. The OS drops the lock when the process dies (even on ``kill -9``),
so "the lock can be taken" means "the session is dead". A live session's lock cannot be taken, so
parallel sessions (xdist workers, other terminals) never lose their containers. Containers of a session
whose lock file is gone are only removed when they were made on this host by a pid that no longer exists.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
import uuid
from pathlib import Path
from typing import Any

import platformdirs
from filelock import FileLock, Timeout

LABEL_MANAGED = "org.wasmcontainers.managed"
LABEL_SESSION = "org.wasmcontainers.session"
LABEL_PID = "org.wasmcontainers.pid"
LABEL_HOST = "org.wasmcontainers.host"


def default_state_dir() -> Path:
    return Path(
        os.environ.get("WASMCONTAINERS_SESSION_DIR")
        or Path(platformdirs.user_cache_dir("pytest-wasmcontainers")) / "sessions"
    )


class ServiceSession:
    """This process's identity towards Docker: a session id, its lock, and the labels to put on containers."""

    def __init__(self, state_dir: Path | None = None) -> None:
        self.state_dir = state_dir or default_state_dir()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.id = uuid.uuid4().hex[:16]
        self.lock_path = self.state_dir / f"{self.id}.lock"
        self._lock = FileLock(str(self.lock_path), thread_local=False)
        self._lock.acquire(timeout=0)

    @property
    def labels(self) -> dict[str, str]:
        return {
            LABEL_MANAGED: "1",
            LABEL_SESSION: self.id,
            LABEL_PID: str(os.getpid()),
            LABEL_HOST: socket.gethostname(),
        }

    def close(self) -> None:
        if self._lock.is_locked:
            with contextlib.suppress(OSError):
                self.lock_path.unlink()
            self._lock.release(force=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def session_is_dead(session_id: str, labels: dict[str, str], state_dir: Path) -> bool:
    lock_path = state_dir / f"{session_id}.lock"
    if lock_path.exists():
        lock = FileLock(str(lock_path), thread_local=False)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            return False
        # Dead: nobody holds it. Drop the file while we hold the lock so no one else trips on it.
        with contextlib.suppress(OSError):
            lock_path.unlink()
        lock.release(force=True)
        return True
    # No lock file (cache wiped, or another machine's session): only judge what we can see.
    if labels.get(LABEL_HOST) != socket.gethostname():
        return False
    try:
        pid = int(labels.get(LABEL_PID, ""))
    except ValueError:
        return False
    return not _pid_alive(pid)


def remove_dead_sessions(
    client: Any, own: ServiceSession | None = None, state_dir: Path | None = None
) -> list[str]:
    """Remove the containers of dead sessions; return their names. ``client`` is a ``docker.DockerClient``."""
    import docker.errors

    state_dir = state_dir or (own.state_dir if own else default_state_dir())
    verdicts: dict[str, bool] = {}
    removed = []
    for c in client.containers.list(all=True, filters={"label": f"{LABEL_MANAGED}=1"}, ignore_removed=True):
        labels = c.labels or {}
        sid = labels.get(LABEL_SESSION, "")
        if not sid or (own is not None and sid == own.id):
            continue
        if sid not in verdicts:
            verdicts[sid] = session_is_dead(sid, labels, state_dir)
        if verdicts[sid]:
            # Another session may be removing it at the same moment (NotFound, or 409 in progress).
            with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                c.remove(force=True, v=True)
                removed.append(c.name)
    sweep_lock_files(state_dir)
    return removed


def sweep_lock_files(state_dir: Path, min_age: float = 60.0) -> None:
    """Delete the lock files of dead sessions that left no containers behind (they would pile up).
    Young files are skipped: their session may be between creating the file and locking it."""
    now = time.time()
    for path in state_dir.glob("*.lock"):
        with contextlib.suppress(OSError):
            if now - path.stat().st_mtime < min_age:
                continue
            session_is_dead(path.stem, {}, state_dir)  # takes, deletes and drops a free lock


def remove_session_containers(client: Any, session: ServiceSession) -> list[str]:
    """Remove whatever this session left running (the per-test teardown normally got them all)."""
    import docker.errors

    removed = []
    for c in client.containers.list(
        all=True, filters={"label": f"{LABEL_SESSION}={session.id}"}, ignore_removed=True
    ):
        with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
            c.remove(force=True, v=True)
            removed.append(c.name)
    return removed
