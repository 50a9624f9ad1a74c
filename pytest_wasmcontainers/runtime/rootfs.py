"""A private, writable view of a shared image root, made cheaply.

The view is a hardlink farm: directories are created, files are hard links to the shared root's
inodes, symlinks are copied. Creating, deleting and renaming entries then only touches the private
directories; writing *into* an existing file would change the shared inode, so before the guest
opens one for writing we copy it up (copy, then rename over the link). ``fs.FsGuard`` does that.
"""

from __future__ import annotations

import errno as host_errno
import os
import shutil
from collections.abc import Callable
from pathlib import Path


def make_view(shared_root: Path, target: Path) -> str:
    """Build the farm at ``target``; return "hardlink", or "copy" on another filesystem."""
    target.mkdir(parents=True)
    try:
        _farm(str(shared_root), str(target), "", os.link)
        return "hardlink"
    except OSError as exc:
        if exc.errno not in (host_errno.EXDEV, host_errno.EPERM, host_errno.EMLINK):
            raise
    shutil.rmtree(target)
    target.mkdir()
    _farm(str(shared_root), str(target), "", _copy)
    return "copy"


def _copy(src: str, dst: str) -> None:
    shutil.copy2(src, dst, follow_symlinks=False)


def _farm(src: str, dst: str, rel: str, place: Callable[[str, str], None]) -> None:
    with os.scandir(src) as entries:
        for entry in entries:
            s, d = entry.path, os.path.join(dst, entry.name)
            if entry.is_symlink():
                target = os.readlink(s)
                if os.path.isabs(target):
                    # wasmtime refuses absolute symlinks (they would leave the preopened dir);
                    # in a container they mean the container's root: make them relative
                    target = os.path.relpath(target.lstrip("/") or ".", rel or ".")
                os.symlink(target, d)
            elif entry.is_dir(follow_symlinks=False):
                os.mkdir(d)
                _farm(s, d, os.path.join(rel, entry.name), place)
                shutil.copymode(s, d)
            else:
                place(s, d)


def is_shared(path: str) -> bool:
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return st.st_nlink > 1 and not os.path.islink(path) and os.path.isfile(path)


def copy_up(path: str) -> None:
    """Give ``path`` its own inode (same content, mode and times)."""
    if not is_shared(path):
        return
    tmp = f"{path}.wasmcontainers-copyup"
    shutil.copy2(path, tmp, follow_symlinks=False)
    os.replace(tmp, path)


def resolve_in_root(root: str, path: str) -> str:
    """Follow symlinks inside the guest's root the way the guest sees them (absolute targets are
    relative to the guest's ``/``, not the host's)."""
    for _ in range(16):
        if not os.path.islink(path):
            return path
        target = os.readlink(path)
        if os.path.isabs(target):
            path = os.path.normpath(os.path.join(root, target.lstrip("/")))
        else:
            path = os.path.normpath(os.path.join(os.path.dirname(path), target))
        if not (path == root or path.startswith(root + os.sep)):
            return path
    return path
