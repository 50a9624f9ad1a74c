"""``wasmcontainers``: run, pull, list, prune, inspect, build and push Wasm images from a shell.

The same runtime and cache as the pytest plugin, without pytest: ``wasmcontainers run REF -p 8080``
serves an image in the foreground. Also ``python -m pytest_wasmcontainers``.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from ..container import ContainerConfigError
from ..errors import UnsupportedImportsError, WasmContainersError

Register = Callable[
    ["argparse._SubParsersAction[argparse.ArgumentParser]", list[argparse.ArgumentParser]], None
]
ALL = ("run", "pull", "images", "prune", "inspect", "build", "push")


def _registrars() -> dict[str, Register]:
    # Imported here: `wasmcontainers --help` should not load wasmtime.
    from . import cache_cmds, images_cmds, inspect, run

    return {
        "run": run.register,
        "pull": cache_cmds.register_pull,
        "images": cache_cmds.register_images,
        "prune": cache_cmds.register_prune,
        "inspect": inspect.register,
        "build": images_cmds.register_build,
        "push": images_cmds.register_push,
    }


def common_options() -> list[argparse.ArgumentParser]:
    """Options every command takes after its name. SUPPRESS: they may come before the name too."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--cache-dir",
        type=Path,
        default=argparse.SUPPRESS,
        help="image and compiled-module cache (default: $WASMCONTAINERS_CACHE_DIR or the user cache)",
    )
    common.add_argument(
        "--traceback", action="store_true", default=argparse.SUPPRESS, help="show the full error chain"
    )
    return [common]


def registry_options() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument(
        "--insecure",
        action="append",
        default=[],
        metavar="HOST:PORT",
        help="a registry spoken to over plain HTTP (loopback ones always are); repeatable",
    )
    return p


def build_parser(prog: str = "wasmcontainers", commands: Sequence[str] = ALL) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description="Run, pull, list, prune, inspect, build and push WebAssembly container images."
    )
    parser.add_argument("--cache-dir", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--traceback", action="store_true", help="show the full error chain")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    registrars = _registrars()
    for name in commands:
        registrars[name](sub, common_options())
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    prog: str = "wasmcontainers",
    commands: Sequence[str] = ALL,
    fixed: Mapping[str, object] | None = None,
) -> int:
    """Run one command; return the exit status. ``fixed``: values set whatever the command line says."""
    words = list(sys.argv[1:] if argv is None else argv)
    # `run REF -- ARGS`: everything after the first `--` is the container's command, untouched.
    extra: list[str] | None = None
    if "--" in words:
        cut = words.index("--")
        words, extra = words[:cut], words[cut + 1 :]
    parser = build_parser(prog, commands)
    args = parser.parse_args(words)
    if extra is not None and not getattr(args, "takes_args", False):
        parser.error(f"only `run` takes arguments after --, not `{args.command}`")
    args.args = extra or []
    for key, value in (fixed or {}).items():
        setattr(args, key, value)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except (WasmContainersError, OSError) as err:
        if args.traceback:
            traceback.print_exception(err)
        _report(err)
        return 1
    except Exception as err:  # a bug of ours: still one line unless asked
        if args.traceback:
            traceback.print_exception(err)
        print(f"error: internal error: {type(err).__name__}: {err}", file=sys.stderr)
        print("hint: rerun with --traceback and report the output", file=sys.stderr)
        return 1


def _report(err: BaseException) -> None:
    lines = str(err).strip().splitlines() or [type(err).__name__]
    more = " (more with --traceback)" if len(lines) > 1 else ""
    print(f"error: {lines[0]}{more}", file=sys.stderr)
    if h := hint(err):
        print(f"hint: {h}", file=sys.stderr)


def hint(err: BaseException) -> str | None:
    """What to try next: the error's own hint, or the command's for a bad command line."""
    if isinstance(err, ContainerConfigError):
        return "see `wasmcontainers run --help`"
    if isinstance(err, UnsupportedImportsError):
        return "`wasmcontainers inspect REF` lists the module's imports and which are missing"
    return getattr(err, "hint", "") or None
