"""A running guest: its thread, its sockets and ports, its log, its exit status."""

from __future__ import annotations

import shutil
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import wasmtime

from ..errors import ContainerExitedError
from .epoch import RETRY
from .faults import Faults
from .logs import ContainerLog
from .network import NameTable, PortMap
from .sockets import SocketTable, StopSignal
from .spec import RunSpec

EXIT_TRAP = 134  # 128 + SIGABRT, as wasmtime's CLI reports a trap
EXIT_KILLED = 137  # 128 + SIGKILL, as runwasi reports a forced stop (and Docker an OOM kill)
_TAIL_LINES = 30


class WasmProcess:
    is_component = False

    def __init__(
        self,
        spec: RunSpec,
        *,
        log: ContainerLog,
        ports: PortMap,
        names: NameTable,
        table: SocketTable,
        stop_event: StopSignal,
        scratch: Path,
        timings: dict[str, Any],
        on_exit: Callable[[WasmProcess], None],
        interrupt: Callable[[], None] = lambda: None,
        faults: Faults | None = None,
    ) -> None:
        self.spec = spec
        self.name = spec.name or spec.module_file.name
        self._log = log
        self._ports = ports
        self._names = names
        self._table = table
        self._stop_event = stop_event
        self._scratch = scratch
        self.timings: dict[str, Any] = timings
        self._on_exit = on_exit
        self._interrupt = interrupt
        self.exit_code: int | None = None
        self.error: str | None = None
        """Why the guest failed: a trap message, a limit, a host error; None after a clean exit."""
        self.oom_killed = False
        self.faults = faults or Faults()
        """Network faults on this guest's connections (faults.py; its socket layer's own rules)."""
        self._stopping = False
        self._host_failure: str | None = None
        self._done = threading.Event()
        self._defer_rmtree = False
        """Remove the scratch dir after publishing the exit (``stop(wait_cleanup=False)``)."""
        self._thread: threading.Thread | None = None
        # set by the runtime before run(): dropped at the end so no wasmtime object outlives the guest
        self._store: wasmtime.Store | None = None
        self._entry: Any = None
        self._memory: wasmtime.Memory | None = None
        self._keep: list[Any] = []
        self._closers: list[Callable[[], None]] = []
        """Run after the store is dropped (the log pump: wasmtime's ends of its pipes are closed)."""

    # ---- lifecycle -----------------------------------------------------------------------------
    def _begin(
        self,
        store: wasmtime.Store,
        entry: Any,
        memory: wasmtime.Memory,
        keep: list[Any],
        closers: list[Callable[[], None]],
    ) -> None:
        self._store, self._entry, self._memory, self._keep = store, entry, memory, keep
        self._closers = closers
        self._thread = threading.Thread(target=self._run, name=f"wasm-{self.name}", daemon=True)
        self._started_at = time.perf_counter()
        self._thread.start()

    def _run(self) -> None:
        code: int
        message: str | None = None
        try:
            code = self._call_entry()
        except wasmtime.ExitTrap as exc:
            code = exc.code
        except BaseException as exc:  # a trap, or a host function that raised (recorded below)
            code, message = EXIT_TRAP, _first_lines(str(exc))
            _drop_frames(exc)
        self.timings["run_s"] = time.perf_counter() - self._started_at
        if self._stopping:
            code, message = EXIT_KILLED, None
        elif self._host_failure is not None:
            message = f"host error: {self._host_failure}"
        elif code != 0 and self.spec.memory_limit is not None:
            message = self._memory_verdict(code, message)
            if self.oom_killed:
                code = EXIT_KILLED  # as Docker reports an OOM kill
        self.error = message
        if message:
            self._log.stderr.append(f"[wasmcontainers] {message}\n".encode())
            self._log.combined.append(f"[wasmcontainers] {message}\n".encode())
        deferred = False
        try:
            self._cleanup()
            deferred = self._defer_rmtree
            if not deferred:
                shutil.rmtree(self._scratch, ignore_errors=True)
        finally:  # whatever happens in cleanup, waiters learn the exit and the runtime its end
            self.exit_code = code
            self._done.set()
            self._ports.wake()
            try:
                if deferred:  # stop(wait_cleanup=False): a third of a stop's time, now off its path
                    shutil.rmtree(self._scratch, ignore_errors=True)
            finally:
                self._on_exit(self)

    def _call_entry(self) -> int:
        """Run the guest to its end; its exit code (a trap raises)."""
        self._entry(self._store)
        return 0

    def _memory_verdict(self, code: int, message: str | None) -> str | None:
        """A failed guest with a limit: when its memory is past half the limit, call it the limit.

        wasmtime does not report the failed ``memory.grow`` (the guest just sees -1 and aborts or
        gives up), and allocators grow in big steps (doubling), so "near the limit" is the signal.
        """
        limit = self.spec.memory_limit or 0
        size = self._memory.data_len(self._store) if self._memory is not None and self._store else 0
        if size * 2 < limit:
            return message
        self.oom_killed = True
        how = f"trapped ({message})" if message else f"exited with code {code}"
        return (
            f"memory limit reached: the guest {how} with its linear memory at {size} bytes of "
            f"its {limit}-byte limit (a memory.grow beyond the limit fails)"
        )

    def _cleanup(self) -> None:
        self._table.close_all()
        for guest_port in list(self._ports.listening):
            self._ports.remove_listener(guest_port)
        self._store = self._entry = self._memory = None
        self._keep = []
        for close in self._closers:
            close()

    def _host_error(self, exc: BaseException) -> None:
        # keep text only: the exception's traceback would keep the store (and its pipes) alive
        if self._host_failure is None:
            self._host_failure = f"{type(exc).__name__}: {exc}"

    def _should_stop(self) -> bool:
        return self._stopping

    # ---- public API ----------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return not self._done.is_set()

    @property
    def scratch_dir(self) -> Path:
        """The container's private directory (root view, log pipes); deleted when it ends."""
        return self._scratch

    @property
    def ports(self) -> dict[int, int]:
        return dict(self._ports.listening)

    def host_port(self, guest_port: int) -> int | None:
        return self._ports.listening.get(guest_port)

    def on_listen(self, callback: Callable[[int, int], None]) -> None:
        self._ports.on_listen(callback)

    def resolve_name(self, name: str) -> list[str]:
        """What the guest gets for ``name`` (virtual address for name-table entries)."""
        return self._names.lookup(name)

    def wait_listening(self, guest_port: int, timeout: float) -> int | None:
        """The host port once the guest listens on ``guest_port``; None if it exits or time runs out."""
        return self._ports.wait(guest_port, timeout, self._done.is_set)

    def wait_for_port(self, guest_port: int, timeout: float = 30.0) -> int:
        host_port = self.wait_listening(guest_port, timeout)
        if host_port is not None:
            return host_port
        if self._done.is_set():
            raise ContainerExitedError(
                f"container {self.name!r} exited with code {self.exit_code} before listening on port "
                f"{guest_port}"
                + (f": {self.error}" if self.error else "")
                + "\n--- log tail ---\n"
                + self.log_tail(),
                exit_code=self.exit_code,
                logs=self.logs(),
            )
        raise TimeoutError(
            f"container {self.name!r} did not listen on port {guest_port} within {timeout:g}s "
            f"(listening: {sorted(self._ports.listening) or 'nothing'})\n--- log tail ---\n{self.log_tail()}"
        )

    def logs(self) -> str:
        return self._log.combined.text()

    def stdout(self) -> str:
        return self._log.stdout.text()

    def stderr(self) -> str:
        return self._log.stderr.text()

    def log_tail(self, lines: int = _TAIL_LINES) -> str:
        return "\n".join(self.logs().splitlines()[-lines:])

    def wait(self, timeout: float | None = None) -> int | None:
        self._done.wait(timeout)
        return self.exit_code

    def stop(self, timeout: float = 5.0, *, wait_cleanup: bool = True) -> int:
        """End the guest now (blocked or spinning); 137 unless it had already exited.

        Its sockets, ports and log are final on return. ``wait_cleanup=False`` returns before its
        scratch dir is removed (the thread does that next; ``Runtime.close`` waits for it)."""
        if not wait_cleanup:
            self._defer_rmtree = True
        if not self._done.is_set():
            # A blocked host call wakes with EINTR and advances the epoch as it returns (see
            # runtime._errnos), so the guest traps there. One that is running is not trapped at
            # once: it gets up to RETRY seconds to reach a blocking call, as a ticking epoch gave it,
            # so what it writes after its listen() is in the logs of a container stopped at once.
            self._stopping = True
            self._stop_event.set()
            self._ports.wake()
        t0 = time.perf_counter()
        end = time.monotonic() + timeout
        if self._thread is not None:
            while True:
                self._done.wait(max(0.0, min(RETRY, end - time.monotonic())))
                if self._done.is_set() or time.monotonic() >= end:
                    break
                self._interrupt()  # a deadline callback that ran meanwhile may have moved past it
        if wait_cleanup and self._done.is_set():
            self.join(max(0.0, end - time.monotonic()) if self._thread is not None else None)
        self.timings.setdefault("stop_s", time.perf_counter() - t0)
        if self._thread is not None and not self._done.is_set():
            self.error = (
                f"the guest did not stop within {timeout:g}s (blocked in a host call that cannot be "
                "interrupted); its thread is left running as a daemon"
            )
            return EXIT_KILLED
        assert self.exit_code is not None
        return self.exit_code

    def join(self, timeout: float | None = None) -> None:
        """Wait for the guest's thread to finish its cleanup (its scratch dir removed)."""
        if self._thread is not None:
            self._thread.join(timeout)

    def __repr__(self) -> str:
        state = "running" if self.running else f"exited({self.exit_code})"
        return f"<WasmProcess {self.name} {state} ports={self.ports}>"


def _drop_frames(exc: BaseException | None) -> None:
    """Clear the finished frames of a trap's traceback (and of the exceptions chained to it):
    wasmtime-py's frames hold the store in a reference cycle that only a full gc would free, and
    the store must go now (its WASI context holds the log pipes)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        traceback.clear_frames(exc.__traceback__)
        exc = exc.__context__


def _first_lines(text: str, n: int = 4) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    head = lines[:n]
    # wasmtime puts the cause last ("Caused by: ... wasm trap: unreachable"): keep it
    tail = [ln.strip() for ln in lines[n:] if "trap" in ln or "Caused by" in ln][-2:]
    return " | ".join(ln.strip() for ln in head + tail)
