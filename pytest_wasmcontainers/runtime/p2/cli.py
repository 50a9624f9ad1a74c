"""``wasi:cli``: arguments, environment, exit, stdio and terminals.

stdout and stderr go straight into the container's log (no pipe, no pump thread). ``terminal-*``
answer "a terminal" only for containers started with ``tty=True``, as Docker's ``-t`` does.
"""

from __future__ import annotations

from typing import Any

from ..logs import RingLog
from .cabi import Err
from .context import GuestExit, current
from .host import Interface
from .io import BytesInput, InputStream, OutputStream


class LogOutput(OutputStream):
    def __init__(self, own: RingLog, combined: RingLog) -> None:
        self.own = own
        self.combined = combined

    def _write(self, data: bytes) -> None:
        self.own.append(data)
        self.combined.append(data)


class TerminalInput:
    pass


class TerminalOutput:
    pass


def get_environment() -> list[tuple[str, str]]:
    return list(current().env.items())


def get_arguments() -> list[str]:
    return list(current().args)


def initial_cwd() -> str | None:
    return current().cwd


def exit_(status: Any) -> None:
    raise GuestExit(1 if isinstance(status, Err) else 0)


def exit_with_code(status_code: int) -> None:
    raise GuestExit(status_code)


def get_stdin() -> InputStream:
    ctx = current()
    stream = ctx.data.get("stdin")
    if stream is None:  # one position however often the guest asks
        stream = ctx.data["stdin"] = BytesInput(ctx.stdin or b"")
    return stream


def get_stdout() -> OutputStream:
    log = current().log
    return LogOutput(log.stdout, log.combined)


def get_stderr() -> OutputStream:
    log = current().log
    return LogOutput(log.stderr, log.combined)


def _terminal(cls: type) -> Any:
    return lambda: cls() if current().tty else None


INTERFACES = (
    Interface(
        "wasi:cli/environment",
        funcs={
            "get-environment": get_environment,
            "get-arguments": get_arguments,
            "initial-cwd": initial_cwd,
        },
    ),
    Interface("wasi:cli/exit", funcs={"exit": exit_, "exit-with-code": exit_with_code}),
    Interface("wasi:cli/stdin", funcs={"get-stdin": get_stdin}),
    Interface("wasi:cli/stdout", funcs={"get-stdout": get_stdout}),
    Interface("wasi:cli/stderr", funcs={"get-stderr": get_stderr}),
    Interface("wasi:cli/terminal-input", resources={"terminal-input": TerminalInput}),
    Interface("wasi:cli/terminal-output", resources={"terminal-output": TerminalOutput}),
    Interface("wasi:cli/terminal-stdin", funcs={"get-terminal-stdin": _terminal(TerminalInput)}),
    Interface("wasi:cli/terminal-stdout", funcs={"get-terminal-stdout": _terminal(TerminalOutput)}),
    Interface("wasi:cli/terminal-stderr", funcs={"get-terminal-stderr": _terminal(TerminalOutput)}),
)
