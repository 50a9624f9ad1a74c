"""What a person reads when a test with containers fails, and the ``-v`` timing summary.

A plugin error (any ``WasmContainersError``) has one clear cause, so its report is one short block: what
the plugin was doing, the error, what to do, the container's last log lines and where in the user's code
it happened. The frames inside the plugin, requests and urllib3 would bury that sentence under hundreds
of lines, so they are left out unless ``--wasm-traceback`` or ``--full-trace`` asks for them. The
exception itself is untouched: ``pytest.raises(ImageNotFoundError)`` works as before.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from _pytest._code.code import ReprExceptionInfo, ReprFileLocation, ReprTracebackNative

from .container import WasmContainer
from .errors import ContainerError, ImageError, WasmContainersError
from .session import ImageRecord
from .wait import LOG_HEADING, last_lines

REPORT_TAIL = 10
"""Log lines in a failure block; a longer log is attached whole in its own section too."""
USER_FRAMES = 3
"""Innermost frames of the user's own code named in a failure block."""
_PACKAGE = Path(__file__).resolve().parent


def add_report_options(group: Any) -> None:
    group.addoption(
        "--wasm-traceback",
        action="store_true",
        default=False,
        help="show plugin errors (image pulls, container start-up) with their whole traceback and "
        "exception chain instead of a short block (pytest's --full-trace does too)",
    )


def full_traceback(config: pytest.Config) -> bool:
    return bool(config.getoption("wasm_traceback", False) or config.getoption("fulltrace", False))


def note_doing(error: WasmContainersError, reference: str) -> None:
    """Say what failed, for the report's first line; the innermost caller that knows wins."""
    if not error.doing:
        what = "pulling" if isinstance(error, ImageError) else "starting a container of"
        error.doing = f"{what} {reference}"


# --- failing tests --------------------------------------------------------------------------------
def finish_report(
    item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport, containers: list[WasmContainer]
) -> None:
    """A failed test's report: the short block for a plugin error, then the logs of its containers."""
    excinfo = call.excinfo
    error = excinfo.value if excinfo is not None else None
    shown = ""  # a log the block already shows whole: not repeated in a section
    if excinfo is not None and isinstance(error, WasmContainersError) and not full_traceback(item.config):
        report.longrepr = short_repr(item, excinfo, error)
        logs = error.logs if isinstance(error, ContainerError) else ""
        if logs and len(logs.rstrip("\n").splitlines()) <= REPORT_TAIL:
            shown = logs
    logged = set()
    for container in containers:
        code, logs = container.exit_code, container.logs()
        logged.add(logs)
        if shown and logs == shown and code is not None:
            continue  # the container the error is about, exited: its whole log is in the block
        state = "running" if code is None else f"exit code {code}"
        title = f"wasm container {container.name} ({container.image.reference}, {state})"
        report.sections.append((title, logs or "(no output)"))
    # A container that never became ready is not handed out, but its whole log explains the error.
    if isinstance(error, ContainerError) and error.logs and error.logs not in (shown, *logged):
        report.sections.append(("wasm container that failed to start", error.logs))


def short_repr(
    item: pytest.Item, excinfo: pytest.ExceptionInfo[BaseException], error: WasmContainersError
) -> Any:
    """The block, shaped like pytest's own ``--tb=native`` report so that xdist ships it and ``-r``
    and ``--tb=line`` still show the error's first line."""
    frames = list(_user_frames(excinfo, item.config.rootpath))
    lines = failure_block(error, [f"{path}:{lineno} in {name}" for path, lineno, name in frames])
    if frames:
        path, lineno = str(frames[-1][0]), frames[-1][1]
    else:
        path, lineno = item.location[0], (item.location[1] or 0) + 1
    first = str(error).strip().splitlines()[0] if str(error).strip() else ""
    crash = ReprFileLocation(path=path, lineno=lineno, message=f"{type(error).__name__}: {first}")
    return ReprExceptionInfo(
        reprtraceback=ReprTracebackNative([line + "\n" for line in lines]), reprcrash=crash
    )


def failure_block(error: WasmContainersError, where: Iterable[str] = ()) -> list[str]:
    """What was being done, what went wrong, what to do, the last log lines, where."""
    message = str(error).strip() or "(no message)"
    logs = error.logs if isinstance(error, ContainerError) else ""
    head, has_tail, _ = message.partition("\n" + LOG_HEADING)
    lines = [f"wasm: {error.doing} failed"] if error.doing else []
    lines.append(f"{type(error).__name__}: {head if has_tail else message}")
    if error.hint:
        lines.append(f"What to do: {error.hint}")
    if has_tail:
        # Re-cut from the error's whole log: the message keeps 30 lines, a short report fewer.
        lines += [LOG_HEADING, *last_lines(logs, REPORT_TAIL).splitlines()]
    lines += [f"at {w}" for w in where]
    lines.append("(pytest --wasm-traceback shows the whole traceback)")
    return lines


def _user_frames(excinfo: pytest.ExceptionInfo[BaseException], root: Path) -> Iterator[tuple[Path, int, str]]:
    """The innermost frames in the user's files (under the rootdir, outside this package and any
    installed library): where their code called into the plugin."""
    found = []
    for entry in excinfo.traceback:
        path = Path(entry.path)
        if not path.is_absolute() or _PACKAGE in path.parents or "site-packages" in path.parts:
            continue
        if root not in path.parents or any(p in path.parents for p in _library_dirs()):
            continue
        try:
            shown = path.relative_to(root)
        except ValueError:
            shown = path
        found.append((shown, entry.lineno + 1, entry.name))
    yield from found[-USER_FRAMES:]


def _library_dirs() -> list[Path]:
    # A virtualenv inside the project (.venv) is under the rootdir but is not the user's code.
    return [Path(p).resolve() for p in {sys.prefix, sys.base_prefix, sys.exec_prefix}]


# --- the -v summary -------------------------------------------------------------------------------
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
                size = f", {mib(r.pull.bytes_downloaded)}" if r.pull.bytes_downloaded else ""
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


def mib(n: Any) -> str:
    return f"{float(n) / (1 << 20):.1f} MiB"
