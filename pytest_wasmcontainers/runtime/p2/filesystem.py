"""``wasi:filesystem``: descriptors over host files and directories, under the container's preopens.

Semantics follow wasmtime's p2 host: paths stay inside their preopen (see fspath.py), data I/O is
positional on the host fd, a read-only preopen refuses every change (``read-only``), and a file of the
shared image root is copied up (``HostContext.copy_up``) before it is opened for writing or its times
change. Each stream owns a ``dup`` of its descriptor's fd, so either may be dropped first.

Where this differs from wasmtime, on purpose: changes under a read-only mount fail with
``read-only`` (EROFS, as in Docker; wasmtime says ``not-permitted``); ``..`` may climb to the
preopen, not only to the descriptor's directory; the ``*-sync`` open flags are honoured; ``link-at``
follows a symlink when asked (wasmtime: ``invalid``).
"""

from __future__ import annotations

import os
import stat
from typing import Any

from .cabi import Err
from .context import current
from .fspath import (
    DirectoryEntryStream,
    FileInput,
    FileOutput,
    Root,
    descriptor_type,
    entry_name_ok,
    fs_errors,
    metadata_hash,
    new_times,
    resolve,
    stat_record,
)
from .host import Interface
from .io import CHUNK, InputStream, IoError, OutputStream

_SYNC_FLAGS = {
    "file-integrity-sync": os.O_SYNC,
    "data-integrity-sync": getattr(os, "O_DSYNC", os.O_SYNC),
    "requested-write-sync": getattr(os, "O_RSYNC", 0),
}
_ADVICE = {
    name: getattr(os, f"POSIX_FADV_{const}", None)
    for name, const in (
        ("normal", "NORMAL"),
        ("sequential", "SEQUENTIAL"),
        ("random", "RANDOM"),
        ("will-need", "WILLNEED"),
        ("dont-need", "DONTNEED"),
        ("no-reuse", "NOREUSE"),
    )
}


class Descriptor:
    """An open file or directory: a host fd and where it is under its preopen."""

    def __init__(
        self,
        fd: int,
        root: Root,
        rel: list[str],
        is_dir: bool,
        mode: frozenset[str],
        sync_flags: frozenset[str] = frozenset(),
    ) -> None:
        self.fd = fd
        self.root = root
        self.rel = rel
        """Components under the preopen (for paths relative to a directory, and for copy-up)."""
        self.is_dir = is_dir
        self.mode = mode
        """What it was opened for: "read" and/or "write"."""
        self.sync_flags = sync_flags
        """The ``*-sync`` descriptor flags it was opened with (Linux's O_RSYNC is O_SYNC: kept here)."""

    # ---- checks ----------------------------------------------------------------------------
    def _file(self) -> int:
        if self.is_dir or self.fd < 0:
            raise Err("bad-descriptor")
        return self.fd

    def _dir(self) -> None:
        if not self.is_dir:
            raise Err("not-directory")
        if self.fd < 0:
            raise Err("bad-descriptor")

    def _mutable(self) -> None:
        if self.root.read_only:
            raise Err("read-only")

    def _at(self, path: str, follow: bool) -> str:
        stack, trailing = resolve(self.root, self.rel, path, follow)
        host = self.root.join(stack)
        return host + "/" if trailing else host

    def _entry(self, path: str) -> str:
        """The host path of an entry that is about to be created, removed or replaced."""
        self._dir()
        self._mutable()
        host = self._at(path, False)
        entry_name_ok(path)
        return host

    @staticmethod
    def _copy_up(host: str) -> None:
        copy_up = current().copy_up
        if copy_up is not None:
            copy_up(host.rstrip("/"))

    # ---- data ------------------------------------------------------------------------------
    @fs_errors
    def read_via_stream(self, offset: int) -> InputStream:
        fd = self._file()
        if "read" not in self.mode:
            raise Err("bad-descriptor")
        return FileInput(os.dup(fd), offset)

    @fs_errors
    def write_via_stream(self, offset: int) -> OutputStream:
        fd = self._file()
        if "write" not in self.mode:
            raise Err("bad-descriptor")
        return FileOutput(os.dup(fd), offset)

    @fs_errors
    def append_via_stream(self) -> OutputStream:
        fd = self._file()
        if "write" not in self.mode:
            raise Err("bad-descriptor")
        return FileOutput(os.dup(fd), None)

    @fs_errors
    def read(self, length: int, offset: int) -> tuple[bytes, bool]:
        data = os.pread(self._file(), min(length, CHUNK), offset)
        return data, not data

    @fs_errors
    def write(self, buffer: bytes, offset: int) -> int:
        return os.pwrite(self._file(), buffer, offset)

    @fs_errors
    def advise(self, offset: int, length: int, advice: str) -> None:
        fd = self._file()
        value = _ADVICE.get(advice)
        if value is not None and hasattr(os, "posix_fadvise"):
            os.posix_fadvise(fd, offset, length, value)

    @fs_errors
    def set_size(self, size: int) -> None:
        fd = self._file()
        self._mutable()
        os.ftruncate(fd, size)

    @fs_errors
    def sync_data(self) -> None:
        self._valid()
        (getattr(os, "fdatasync", None) or os.fsync)(self.fd)

    @fs_errors
    def sync(self) -> None:
        self._valid()
        os.fsync(self.fd)

    def _valid(self) -> None:
        if self.fd < 0:
            raise Err("bad-descriptor")

    # ---- metadata --------------------------------------------------------------------------
    @fs_errors
    def get_flags(self) -> set[str]:
        self._valid()
        if self.is_dir:
            return {"read"} if self.root.read_only else {"read", "mutate-directory"}
        return set(self.mode | self.sync_flags)

    @fs_errors
    def get_type(self) -> str:
        self._valid()
        return "directory" if self.is_dir else descriptor_type(os.fstat(self.fd).st_mode)

    @fs_errors
    def stat(self) -> dict[str, Any]:
        self._valid()
        return stat_record(os.fstat(self.fd))

    @fs_errors
    def stat_at(self, path_flags: set[str], path: str) -> dict[str, Any]:
        self._dir()
        host = self._at(path, "symlink-follow" in path_flags)
        return stat_record(os.stat(host, follow_symlinks=False))

    @fs_errors
    def set_times(self, data_access_timestamp: Any, data_modification_timestamp: Any) -> None:
        self._valid()
        self._mutable()
        target: int | str = self.fd
        if not self.is_dir:
            host = self.root.join(self.rel)
            ours = _identity(os.fstat(self.fd))
            if _identity(_lstat(host)) == ours:  # still its path (not renamed away)
                self._copy_up(host)
                if _identity(_lstat(host)) != ours:
                    target = host  # copied up: the fd still names the shared inode, the path its copy
        ns = new_times(data_access_timestamp, data_modification_timestamp, lambda: os.fstat(self.fd))
        if ns is None:
            os.utime(target)
        else:
            os.utime(target, ns=ns)

    @fs_errors
    def set_times_at(
        self, path_flags: set[str], path: str, data_access_timestamp: Any, data_modification_timestamp: Any
    ) -> None:
        self._dir()
        self._mutable()
        host = self._at(path, "symlink-follow" in path_flags)
        self._copy_up(host)
        ns = new_times(
            data_access_timestamp, data_modification_timestamp, lambda: os.stat(host, follow_symlinks=False)
        )
        if ns is None:
            os.utime(host, follow_symlinks=False)
        else:
            os.utime(host, ns=ns, follow_symlinks=False)

    def is_same_object(self, other: Descriptor) -> bool:
        if self.fd < 0 or other.fd < 0:
            return False
        try:
            return _identity(os.fstat(self.fd)) == _identity(os.fstat(other.fd))
        except OSError:
            return False

    @fs_errors
    def metadata_hash(self) -> dict[str, int]:
        self._valid()
        return metadata_hash(os.fstat(self.fd))

    @fs_errors
    def metadata_hash_at(self, path_flags: set[str], path: str) -> dict[str, int]:
        self._dir()
        host = self._at(path, "symlink-follow" in path_flags)
        return metadata_hash(os.stat(host, follow_symlinks=False))

    # ---- directories -----------------------------------------------------------------------
    @fs_errors
    def open_at(self, path_flags: set[str], path: str, open_flags: set[str], flags: set[str]) -> Descriptor:
        self._dir()
        if "directory" in open_flags and open_flags & {"create", "exclusive", "truncate"}:
            raise Err("invalid")
        writes = "write" in flags or bool(open_flags & {"create", "truncate"})
        if writes:
            self._mutable()
        follow = "symlink-follow" in path_flags
        stack, trailing = resolve(self.root, self.rel, path, follow)
        host = self.root.join(stack)
        # as wasmtime: without "write" a file is opened for reading, so that stat etc. work
        reads = "read" in flags or "write" not in flags
        how = os.O_RDWR if reads and writes else os.O_WRONLY if writes else os.O_RDONLY
        how |= os.O_CLOEXEC | (0 if follow else os.O_NOFOLLOW)
        for name, bit in (
            ("create", os.O_CREAT),
            ("exclusive", os.O_EXCL),
            ("truncate", os.O_TRUNC),
            ("directory", os.O_DIRECTORY),
        ):
            if name in open_flags:
                how |= bit
        sync = frozenset(flags & _SYNC_FLAGS.keys())
        for name in sync:
            how |= _SYNC_FLAGS[name]
        if writes and "directory" not in open_flags:
            self._copy_up(host)
        fd = os.open(host + "/" if trailing else host, how, 0o666)
        try:
            is_dir = stat.S_ISDIR(os.fstat(fd).st_mode)
        except OSError:
            os.close(fd)
            raise
        mode = frozenset(m for m, on in (("read", reads), ("write", writes)) if on)
        return Descriptor(fd, self.root, stack, is_dir, mode, sync)

    @fs_errors
    def read_directory(self) -> DirectoryEntryStream:
        self._dir()
        return DirectoryEntryStream(self.fd)

    @fs_errors
    def create_directory_at(self, path: str) -> None:
        self._dir()
        self._mutable()
        os.mkdir(self._at(path, False))

    @fs_errors
    def readlink_at(self, path: str) -> str:
        self._dir()
        return os.readlink(self._at(path, False))

    @fs_errors
    def remove_directory_at(self, path: str) -> None:
        os.rmdir(self._entry(path))

    @fs_errors
    def unlink_file_at(self, path: str) -> None:
        os.unlink(self._entry(path))

    @fs_errors
    def rename_at(self, old_path: str, new_descriptor: Descriptor, new_path: str) -> None:
        old = self._entry(old_path)
        os.rename(old, new_descriptor._entry(new_path))

    @fs_errors
    def link_at(
        self, old_path_flags: set[str], old_path: str, new_descriptor: Descriptor, new_path: str
    ) -> None:
        self._dir()
        self._mutable()
        old = self._at(old_path, "symlink-follow" in old_path_flags)
        os.link(old, new_descriptor._entry(new_path), follow_symlinks=False)

    @fs_errors
    def symlink_at(self, old_path: str, new_path: str) -> None:
        if "\0" in old_path or not old_path:
            raise Err("no-entry" if not old_path else "invalid")
        os.symlink(old_path, self._entry(new_path))

    def drop(self) -> None:
        fd, self.fd = self.fd, -1
        if fd >= 0:
            os.close(fd)


def _lstat(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except OSError:
        return None


def _identity(st: os.stat_result | None) -> tuple[int, int] | None:
    return (st.st_dev, st.st_ino) if st is not None else None


# ---- free functions ------------------------------------------------------------------------------
def filesystem_error_code(err: IoError) -> str | None:
    return err.code if err.kind == "filesystem" and isinstance(err.code, str) else None


def get_directories() -> list[tuple[Descriptor, str]]:
    out: list[tuple[Descriptor, str]] = []
    try:
        for p in current().preopens:
            fd = os.open(p.host_path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            root = Root(p.host_path, p.guest_path == "/", p.read_only)
            out.append((Descriptor(fd, root, [], True, frozenset({"read"})), p.guest_path))
    except BaseException:
        for d, _ in out:
            d.drop()
        raise
    return out


TYPES = Interface(
    "wasi:filesystem/types",
    resources={"descriptor": Descriptor, "directory-entry-stream": DirectoryEntryStream},
    funcs={"filesystem-error-code": filesystem_error_code},
)
PREOPENS = Interface("wasi:filesystem/preopens", funcs={"get-directories": get_directories})
INTERFACES = (TYPES, PREOPENS)
