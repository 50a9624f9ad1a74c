"""A wasi:cli command for the filesystem tests (componentize-py: wasip2 libc, no adapter).

argv[1] is a directory; the command works in it through Python's os and prints one line per step.
"""

import os
import shutil
import sys

from wit_world import exports


def step(name: str, f) -> None:  # type: ignore[no-untyped-def]
    try:
        print(f"{name}: {f()}")
    except OSError as exc:
        print(f"{name}: {type(exc).__name__} {exc.errno and os.strerror(exc.errno)}")


def read(path: str) -> str:
    with open(path) as f:
        return f.read().replace("\n", ";")


class Run(exports.Run):
    def run(self) -> None:
        d = sys.argv[1]
        os.makedirs(os.path.join(d, "a", "b"), exist_ok=True)
        p = os.path.join(d, "a", "b", "f.txt")
        with open(p, "w") as f:
            f.write("one\n")
        with open(p, "a") as f:
            f.write("two\n")
        with open(p, "r+b") as f:
            f.seek(1)
            f.write(b"N")
        step("read", lambda: read(p))
        os.symlink("b/f.txt", os.path.join(d, "a", "ln"))
        step("readlink", lambda: os.readlink(os.path.join(d, "a", "ln")))
        step("via-link", lambda: read(os.path.join(d, "a", "ln")))
        os.rename(p, os.path.join(d, "a", "g.txt"))
        step("dangling", lambda: os.path.exists(os.path.join(d, "a", "ln")))
        os.utime(os.path.join(d, "a", "g.txt"), (1_000_000, 2_000_000))
        step("mtime", lambda: int(os.stat(os.path.join(d, "a", "g.txt")).st_mtime))
        step(
            "scandir",
            lambda: ",".join(
                sorted(
                    f"{e.name}:{'l' if e.is_symlink() else 'd' if e.is_dir() else 'f'}"
                    for e in os.scandir(os.path.join(d, "a"))
                )
            ),
        )
        step("escape", lambda: read(os.path.join(d, "..", "..", "..", "etc", "hostname")))
        shutil.rmtree(os.path.join(d, "a"))
        step("gone", lambda: os.listdir(d))
        sys.stdout.flush()
