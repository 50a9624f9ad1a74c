"""``wasi:filesystem`` helpers: guest paths resolved inside a preopen, error codes, stat records, and
the file streams and directory listings that descriptors hand out.

Paths are resolved component by component (``lstat``/``readlink``), never with the host's
``realpath``: a symlink is followed only while it stays inside the preopened directory, and in the
preopen mounted at the guest's ``/`` (an image root) an absolute target means the guest's ``/``.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import os
import stat
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from .cabi import Err
from .io import InputStream, OutputStream, failed

MAX_SYMLINKS = 40
"""As Linux: more symlinks than this in one resolution is a loop."""

_CODES = {
    errno.EACCES: "access",
    errno.EAGAIN: "would-block",
    errno.EALREADY: "already",
    errno.EBADF: "bad-descriptor",
    errno.EBUSY: "busy",
    errno.EDEADLK: "deadlock",
    errno.EDQUOT: "quota",
    errno.EEXIST: "exist",
    errno.EFBIG: "file-too-large",
    errno.EILSEQ: "illegal-byte-sequence",
    errno.EINPROGRESS: "in-progress",
    errno.EINTR: "interrupted",
    errno.EINVAL: "invalid",
    errno.EIO: "io",
    errno.EISDIR: "is-directory",
    errno.ELOOP: "loop",
    errno.EMLINK: "too-many-links",
    errno.EMSGSIZE: "message-size",
    errno.ENAMETOOLONG: "name-too-long",
    errno.ENODEV: "no-device",
    errno.ENOENT: "no-entry",
    errno.ENOLCK: "no-lock",
    errno.ENOMEM: "insufficient-memory",
    errno.ENOSPC: "insufficient-space",
    errno.ENOTDIR: "not-directory",
    errno.ENOTEMPTY: "not-empty",
    errno.ENOTRECOVERABLE: "not-recoverable",
    errno.ENOTSUP: "unsupported",
    errno.EOPNOTSUPP: "unsupported",
    errno.ENOSYS: "unsupported",
    errno.ENOTTY: "no-tty",
    errno.ENXIO: "no-such-device",
    errno.EOVERFLOW: "overflow",
    errno.EPERM: "not-permitted",
    errno.EPIPE: "pipe",
    errno.EROFS: "read-only",
    errno.ESPIPE: "invalid-seek",
    errno.ETXTBSY: "text-file-busy",
    errno.EXDEV: "cross-device",
}


def code_of(exc: OSError) -> str:
    return _CODES.get(exc.errno or 0, "io")


P = ParamSpec("P")
R = TypeVar("R")


def fs_errors(f: Callable[P, R]) -> Callable[P, R]:
    """Host ``OSError``s become the function's ``error-code`` result."""

    @functools.wraps(f)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return f(*args, **kwargs)
        except OSError as exc:
            raise Err(code_of(exc)) from None
        except OverflowError:  # an offset or size beyond what the host's off_t holds
            raise Err("overflow") from None

    return call


@dataclass(frozen=True)
class Root:
    """One preopened directory on the host."""

    host: str
    slash: bool
    """Mounted at the guest's ``/``: absolute symlink targets are relative to it."""
    read_only: bool

    def join(self, rel: Sequence[str]) -> str:
        return os.path.join(self.host, *rel) if rel else self.host


def resolve(root: Root, rel: Sequence[str], path: str, follow: bool) -> tuple[list[str], bool]:
    """``path`` (relative to the directory ``rel`` of ``root``) as components under ``root``, with
    every symlink on the way followed (the last one only if ``follow``), and whether ``path`` ends
    with a slash. Raises ``Err`` when it would leave the root."""
    if not path:
        raise Err("no-entry")
    if path.startswith("/"):
        raise Err("not-permitted")
    if "\0" in path:
        raise Err("invalid")
    trailing = path.endswith("/")
    follow = follow or trailing  # "link/" names what the link points to, as in POSIX
    stack = list(rel)
    pending = deque(c for c in path.split("/") if c and c != ".")
    links = 0
    while pending:
        name = pending.popleft()
        if name == "..":
            if not stack:
                raise Err("not-permitted")
            stack.pop()  # every entry of the stack was checked to be a directory
            continue
        stack.append(name)
        last = not pending
        if last and not follow:
            break
        host = root.join(stack)
        try:
            st = os.lstat(host)
        except FileNotFoundError:
            if last:  # may be about to be created
                break
            raise Err("no-entry") from None
        except OSError as exc:
            raise Err(code_of(exc)) from None
        if stat.S_ISLNK(st.st_mode):
            links += 1
            if links > MAX_SYMLINKS:
                raise Err("loop")
            target = os.readlink(host)
            stack.pop()
            if target.startswith("/"):
                if not root.slash:
                    raise Err("not-permitted")
                stack = []
            pending.extendleft(reversed([c for c in target.split("/") if c and c != "."]))
        elif not last and not stat.S_ISDIR(st.st_mode):
            raise Err("not-directory")
    return stack, trailing


def entry_name_ok(path: str) -> None:
    """Operations that remove or replace an entry cannot name ``.`` or ``..`` (nor the preopen)."""
    if path.rstrip("/").rsplit("/", 1)[-1] in ("", ".", ".."):
        raise Err("invalid")


# ---- stat ----------------------------------------------------------------------------------------
def descriptor_type(mode: int) -> str:
    if stat.S_ISREG(mode):
        return "regular-file"
    if stat.S_ISDIR(mode):
        return "directory"
    if stat.S_ISLNK(mode):
        return "symbolic-link"
    if stat.S_ISCHR(mode):
        return "character-device"
    if stat.S_ISBLK(mode):
        return "block-device"
    if stat.S_ISFIFO(mode):
        return "fifo"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "unknown"


def datetime(ns: int) -> dict[str, int] | None:
    if ns < 0:  # before 1970: a datetime cannot say it (wasmtime answers none too)
        return None
    return {"seconds": ns // 1_000_000_000, "nanoseconds": ns % 1_000_000_000}


def stat_record(st: os.stat_result) -> dict[str, Any]:
    return {
        "type": descriptor_type(st.st_mode),
        "link-count": st.st_nlink,
        "size": st.st_size,
        "data-access-timestamp": datetime(st.st_atime_ns),
        "data-modification-timestamp": datetime(st.st_mtime_ns),
        "status-change-timestamp": datetime(st.st_ctime_ns),
    }


def metadata_hash(st: os.stat_result) -> dict[str, int]:
    digest = hashlib.blake2b(f"{st.st_dev}:{st.st_ino}".encode(), digest_size=16).digest()
    return {"lower": int.from_bytes(digest[:8], "little"), "upper": int.from_bytes(digest[8:], "little")}


def _case(v: Any) -> str:
    return v if isinstance(v, str) else str(v[0])


def new_times(atime: Any, mtime: Any, current: Callable[[], os.stat_result]) -> tuple[int, int] | None:
    """``new-timestamp`` pair -> ``ns`` for ``os.utime``; None for "both now" (utime's default)."""
    ca, cm = _case(atime), _case(mtime)
    if ca == "now" and cm == "now":
        return None
    st = current() if "no-change" in (ca, cm) else None
    now = time.time_ns()

    def pick(case: str, v: Any, kept: int) -> int:
        if case == "now":
            return now
        if case == "timestamp":
            return int(v[1]["seconds"]) * 1_000_000_000 + int(v[1]["nanoseconds"])
        return kept

    return (
        pick(ca, atime, st.st_atime_ns if st else 0),
        pick(cm, mtime, st.st_mtime_ns if st else 0),
    )


# ---- streams -------------------------------------------------------------------------------------
class FileInput(InputStream):
    def __init__(self, fd: int, offset: int) -> None:
        self.fd = fd
        self.pos = offset

    def _read(self, n: int, block: bool) -> bytes | None:
        if self.fd < 0:
            return None
        try:
            data = os.pread(self.fd, n, self.pos)
        except OSError as exc:
            raise failed(str(exc), code_of(exc), "filesystem") from None
        except OverflowError:
            raise failed("offset out of range", "overflow", "filesystem") from None
        if not data:
            return None
        self.pos += len(data)
        return data

    def drop(self) -> None:
        fd, self.fd = self.fd, -1
        if fd >= 0:
            os.close(fd)


_append_flag: int | None = getattr(os, "RWF_APPEND", None)


class FileOutput(OutputStream):
    def __init__(self, fd: int, offset: int | None) -> None:
        self.fd = fd
        self.pos = offset
        """None: append at the end of the file, as it is at each write."""

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:
                n = self._append(view) if self.pos is None else os.pwrite(self.fd, view, self.pos)
                if self.pos is not None:
                    self.pos += n
                view = view[n:]
        except OSError as exc:
            self.closed = True  # as wasmtime: a failed write ends the stream
            raise failed(str(exc), code_of(exc), "filesystem") from None
        except OverflowError:
            self.closed = True
            raise failed("offset out of range", "overflow", "filesystem") from None

    def _append(self, view: memoryview) -> int:
        global _append_flag
        if _append_flag is not None:
            try:
                return os.pwritev(self.fd, [view], 0, _append_flag)
            except OSError as exc:  # an old kernel or a filesystem without RWF_APPEND
                if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
                    raise
                _append_flag = None
        return os.pwrite(self.fd, view, os.fstat(self.fd).st_size)

    def drop(self) -> None:
        self.closed = True
        fd, self.fd = self.fd, -1
        if fd >= 0:
            os.close(fd)


# ---- directory listings --------------------------------------------------------------------------
class DirectoryEntryStream:
    """The entries of a directory as they were when it was listed (``.`` and ``..`` excluded)."""

    def __init__(self, fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        self.entries: list[dict[str, Any] | Err] = []
        with os.scandir(fd) as it:
            for entry in it:
                self.entries.append(_entry(entry))
        self.entries.reverse()

    def read_directory_entry(self) -> dict[str, Any] | None:
        if not self.entries:
            return None
        e = self.entries.pop()
        if isinstance(e, Err):
            raise e
        return e

    def drop(self) -> None:
        self.entries.clear()


def _entry(entry: os.DirEntry[str]) -> dict[str, Any] | Err:
    try:
        entry.name.encode("utf-8")
    except UnicodeEncodeError:  # not UTF-8 on the host: a WIT string cannot carry it
        return Err("illegal-byte-sequence")
    try:
        if entry.is_symlink():
            kind = "symbolic-link"
        elif entry.is_dir(follow_symlinks=False):
            kind = "directory"
        elif entry.is_file(follow_symlinks=False):
            kind = "regular-file"
        else:
            kind = descriptor_type(entry.stat(follow_symlinks=False).st_mode)
    except OSError:
        kind = "unknown"  # removed meanwhile
    return {"type": kind, "name": entry.name}
