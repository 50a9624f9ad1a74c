"""The working directory of a WASI p1 guest, as Docker's ``WorkingDir`` sets it.

WASI p1 has no cwd. wasi-libc (C, and Rust std, which opens files through it) starts at "/" and
hands ``open("x")`` to the host exactly as ``open("/x")``: the root preopen and the path ``x``.
So on the root preopen a path is looked up in the working directory first and then in the root:
an existing entry is taken where it is; a new one is made in the working directory when its parent
directory is there. ``"."`` (and so ``"/"`` too, which wasi-libc also sends as ``"."``) is the
working directory. Go's wasip1 keeps its own cwd from ``PWD`` and sends absolute paths, which the
root answers as before.

The working directory is one more preopen, at the last fd, that the guest is not told about
(``fd_prestat_get`` answers BADF, which ends every libc's preopen scan). It is inside the root
view or a volume, so the guest sees nothing of the host it could not see before.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from .memory import read

ROOT_FD = 3

# name -> the (dirfd, path_ptr, path_len) argument positions of each path the function takes
PATH_ARGS: dict[str, tuple[tuple[int, int, int], ...]] = {
    "path_open": ((0, 2, 3),),
    "path_filestat_get": ((0, 2, 3),),
    "path_filestat_set_times": ((0, 2, 3),),
    "path_create_directory": ((0, 1, 2),),
    "path_remove_directory": ((0, 1, 2),),
    "path_unlink_file": ((0, 1, 2),),
    "path_readlink": ((0, 1, 2),),
    "path_rename": ((0, 1, 2), (3, 4, 5)),
    "path_link": ((0, 2, 3), (4, 5, 6)),
    "path_symlink": ((2, 3, 4),),
}


class WorkDir:
    def __init__(self, fd: int, host: str, root_host: str, memory: Callable[[Any], Any]) -> None:
        self.fd = fd
        """The hidden preopen of the working directory."""
        self.host = host
        self.root_host = root_host
        self._view = memory

    def dirfd(self, caller: Any, dirfd: int, path_ptr: int, path_len: int) -> int:
        """The preopen that a path on the root preopen resolves in."""
        if dirfd != ROOT_FD:
            return dirfd
        rel = read(self._view(caller), path_ptr, path_len).decode("utf-8", "replace")
        if rel in ("", "."):
            return self.fd
        here = os.path.normpath(os.path.join(self.host, rel))
        if not here.startswith(self.host + os.sep):
            return dirfd  # ".." out of the working directory: the root's own lookup decides
        if os.path.lexists(here):
            return self.fd
        if os.path.lexists(os.path.join(self.root_host, rel)):
            return dirfd
        return self.fd if os.path.isdir(os.path.dirname(here)) else dirfd

    def wrap(self, name: str, impl: Callable[..., int]) -> Callable[..., int]:
        """``impl`` (wasmtime's function or ours), with each root-preopen path sent where it resolves."""
        spots = PATH_ARGS[name]

        def call(caller: Any, *args: int) -> int:
            if ROOT_FD not in (args[d] for d, _, _ in spots):
                return impl(caller, *args)
            fixed = list(args)
            for d, p, n in spots:
                fixed[d] = self.dirfd(caller, args[d], args[p], args[n])
            return impl(caller, *fixed)

        return call


def host_dir(working_dir: str, root: str, mounts: list[tuple[str, str]]) -> str:
    """The host directory the guest's working directory is: in the deepest volume that holds it,
    else in the root view (made there if the image lacks it, as Docker does)."""
    guest = os.path.normpath("/" + working_dir.lstrip("/"))
    best: tuple[str, str] | None = None
    for host, at in mounts:
        at = os.path.normpath(at)
        if (guest == at or guest.startswith(at.rstrip("/") + "/")) and (
            best is None or len(at) > len(best[1])
        ):
            best = (host, at)
    if best is not None:
        path = os.path.join(best[0], os.path.relpath(guest, best[1]))
    else:
        path = os.path.join(root, guest.lstrip("/"))
    os.makedirs(path, exist_ok=True)
    return os.path.normpath(path)
