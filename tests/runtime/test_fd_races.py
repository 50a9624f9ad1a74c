"""A container's own fds are never used after they are closed: their numbers may already belong
to another container's pipe or socket (stop() racing the guest's exit, a slow log thread)."""

from __future__ import annotations

import os
import select
from pathlib import Path

from pytest_wasmcontainers.runtime.logs import ContainerLog, LogPump
from pytest_wasmcontainers.runtime.sockets import StopSignal


def test_a_stop_after_the_guest_ended_writes_to_no_one_else() -> None:
    signal = StopSignal()
    signal.close()  # the guest thread's cleanup
    r, w = os.pipe()  # takes the freed numbers
    try:
        signal.set()  # a late stop() from the test thread
        assert select.select([r], [], [], 0.05)[0] == [], "stop() wrote into a pipe it does not own"
        signal.close()  # twice: must not close the new pipe either
        os.fstat(r), os.fstat(w)
    finally:
        os.close(r)
        os.close(w)


def test_the_log_thread_closes_its_fifos_itself_when_a_writer_lingers(tmp_path: Path) -> None:
    log = ContainerLog(4096)
    pump = LogPump(log, tmp_path)
    lingering = os.open(pump.paths[0], os.O_WRONLY | os.O_NONBLOCK)  # a store not yet freed
    try:
        os.write(lingering, b"last words\n")
        pump.close(timeout=0)  # returns before the thread is done with its fds
        pump._thread.join(10)
        assert not pump._thread.is_alive(), "the log thread waits forever for a lingering writer"
        assert log.stdout.text() == "last words\n"
        try:
            os.write(lingering, b"x")
            raise AssertionError("the FIFO still has a reader")
        except BrokenPipeError:
            pass  # the thread closed its read end
    finally:
        os.close(lingering)
