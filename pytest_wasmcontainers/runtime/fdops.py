"""WASI fd and path functions that must know about sockets and about the copy-up root.

Calls on fds that are not sockets go to wasmtime's WASI (``real``). ``path_open`` and the
set-times calls first copy up a file of the shared image root that is about to be changed in place.
"""

from __future__ import annotations

import os
import struct
import time
from collections.abc import Callable
from typing import Any

from . import errno, rootfs
from .memory import GuestMemory, check, put_u32, read, u32
from .sockets import FDFLAG_NONBLOCK, Sockets, SocketTable

FILETYPE_DIRECTORY, FILETYPE_SOCKET_DGRAM, FILETYPE_SOCKET_STREAM = 3, 5, 6
OFLAG_DIRECTORY, OFLAG_TRUNC = 2, 8
FDFLAG_SYNCS = 2 | 8 | 16  # DSYNC, RSYNC, SYNC: wasmtime answers NOTSUP, WasmEdge opens with O_*SYNC
FILETYPE_CHARACTER_DEVICE = 2
# WasmEdge's rights for a terminal's stdout/stderr: no seek or tell, so wasi-libc's isatty() is true
TTY_RIGHTS = (1 << 0) | (1 << 3) | (1 << 4) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 21) | (1 << 27)
RIGHT_FD_WRITE, RIGHT_FD_ALLOCATE = 1 << 6, 1 << 8
FST_ATIM, FST_ATIM_NOW, FST_MTIM, FST_MTIM_NOW = 1, 2, 4, 8
ALL_RIGHTS = (1 << 64) - 1
_FDSTAT = struct.Struct("<BxHxxxxQQ")

Real = Callable[..., int]


class FdOps:
    def __init__(self, table: SocketTable, sockets: Sockets) -> None:
        self.table = table
        self.sockets = sockets
        self.memory: GuestMemory | None = None
        self.real: dict[str, Real] = {}
        self.root: str | None = None
        """Host path of the private root view (copy-up applies only inside it)."""
        self.dirs: dict[int, str] = {}
        """wasmtime dir fd -> host path, for preopens and opened directories."""
        self.files: dict[int, str] = {}
        self.hidden_fd: int | None = None
        """The working directory's preopen (workdir.py): the guest is not told of it."""
        self.tty = False
        """Present fds 1 and 2 as a terminal (Docker's -t): libc then flushes stdout at each line."""
        self.sync_flags: dict[int, int] = {}
        """fd -> the SYNC flags it was opened with, which wasmtime refuses and we report back."""

    def view(self, caller: Any) -> Any:
        assert self.memory is not None
        return self.memory.view(caller)

    # ---- socket-aware fd calls -------------------------------------------------------------
    def fd_close(self, caller: Any, fd: int) -> int:
        if self.table.close(fd):
            return 0
        self.dirs.pop(fd, None)
        self.files.pop(fd, None)
        self.sync_flags.pop(fd, None)
        return self.real["fd_close"](caller, fd)

    def fd_read(self, caller: Any, fd: int, iovs: int, count: int, nread_ptr: int) -> int:
        gs = self.table.fds.get(fd)
        if gs is None:
            return self.real["fd_read"](caller, fd, iovs, count, nread_ptr)
        view, mv = self.sockets.buffers(caller)
        got, _ = self.sockets._recv(gs, view, mv, iovs, count, 0)
        put_u32(view, nread_ptr, got)
        return 0

    def fd_write(self, caller: Any, fd: int, iovs: int, count: int, nwritten_ptr: int) -> int:
        gs = self.table.fds.get(fd)
        if gs is None:
            return self.real["fd_write"](caller, fd, iovs, count, nwritten_ptr)
        view, mv = self.sockets.buffers(caller)
        put_u32(view, nwritten_ptr, self.sockets._send(gs, view, mv, iovs, count, None))
        return 0

    def fd_fdstat_get(self, caller: Any, fd: int, out: int) -> int:
        gs = self.table.fds.get(fd)
        if gs is None:
            if self.tty and fd in (1, 2):
                view = self.view(caller)
                check(view, out, 24)
                _FDSTAT.pack_into(view, out, FILETYPE_CHARACTER_DEVICE, 0, TTY_RIGHTS, TTY_RIGHTS)
                return 0
            rc = self.real["fd_fdstat_get"](caller, fd, out)
            if rc == 0 and fd in self.sync_flags:
                view = self.view(caller)
                flags = view[out + 2] | view[out + 3] << 8 | self.sync_flags[fd]
                view[out + 2], view[out + 3] = flags & 0xFF, flags >> 8
            return rc
        view = self.view(caller)
        check(view, out, 24)
        kind = FILETYPE_SOCKET_STREAM if gs.stream else FILETYPE_SOCKET_DGRAM
        _FDSTAT.pack_into(view, out, kind, FDFLAG_NONBLOCK if gs.nonblock else 0, ALL_RIGHTS, ALL_RIGHTS)
        return 0

    def fd_fdstat_set_flags(self, caller: Any, fd: int, flags: int) -> int:
        gs = self.table.fds.get(fd)
        if gs is None:
            # WasmEdge accepts the SYNC flags (Linux's F_SETFL ignores them); wasmtime says INVAL
            return self.real["fd_fdstat_set_flags"](caller, fd, flags & ~FDFLAG_SYNCS)
        gs.nonblock = bool(flags & FDFLAG_NONBLOCK)
        return 0

    def fd_prestat_get(self, caller: Any, fd: int, out: int) -> int:
        if fd in self.table.fds or fd == self.hidden_fd:
            return errno.BADF  # as wasmtime answers for --tcplisten sockets: ends the preopen scan
        return self.real["fd_prestat_get"](caller, fd, out)

    def fd_prestat_dir_name(self, caller: Any, fd: int, path: int, length: int) -> int:
        if fd in self.table.fds or fd == self.hidden_fd:
            return errno.BADF
        return self.real["fd_prestat_dir_name"](caller, fd, path, length)

    def fd_filestat_get(self, caller: Any, fd: int, out: int) -> int:
        gs = self.table.fds.get(fd)
        if gs is None:
            rc = self.real["fd_filestat_get"](caller, fd, out)
            if rc == 0 and self.tty and fd in (1, 2):
                self.view(caller)[out + 16] = FILETYPE_CHARACTER_DEVICE
            return rc
        view = self.view(caller)
        check(view, out, 64)
        view[out : out + 64] = bytes(64)
        view[out + 16] = FILETYPE_SOCKET_STREAM if gs.stream else FILETYPE_SOCKET_DGRAM
        return 0

    def fd_renumber(self, caller: Any, fd: int, to: int) -> int:
        if fd in self.table.fds or to in self.table.fds:
            gs = self.table.fds.pop(fd, None)
            if gs is None:
                return errno.BADF
            self.table.close(to)
            self.table.add(gs, to)
            return 0
        rc = self.real["fd_renumber"](caller, fd, to)
        if rc == 0:
            for d in (self.dirs, self.files):
                d.pop(to, None)
                if fd in d:
                    d[to] = d.pop(fd)
        return rc

    def socket_guard(self, name: str) -> Callable[..., int]:
        """For other fd-first calls while listeners sit at low fds: never let a socket fd number
        reach wasmtime's WASI (it could name one of wasmtime's own fds)."""
        real = self.real

        def call(caller: Any, fd: int, *args: int) -> int:
            if fd in self.table.fds:
                return (
                    errno.SPIPE if name in ("fd_seek", "fd_tell", "fd_pread", "fd_pwrite") else errno.NOTSUP
                )
            return real[name](caller, fd, *args)

        return call

    # ---- copy-up ---------------------------------------------------------------------------
    def _host_path(self, caller: Any, dirfd: int, path_ptr: int, path_len: int) -> str | None:
        base = self.dirs.get(dirfd)
        if base is None or self.root is None:
            return None
        rel = read(self.view(caller), path_ptr, path_len).decode("utf-8", "replace")
        path = os.path.normpath(os.path.join(base, rel))
        if not (path == self.root or path.startswith(self.root + os.sep)):
            return None
        return rootfs.resolve_in_root(self.root, path)

    def path_open(
        self,
        caller: Any,
        dirfd: int,
        dirflags: int,
        path_ptr: int,
        path_len: int,
        oflags: int,
        rights: int,
        inheriting: int,
        fdflags: int,
        fd_ptr: int,
    ) -> int:
        host = self._host_path(caller, dirfd, path_ptr, path_len)
        writing = oflags & OFLAG_TRUNC or rights & (RIGHT_FD_WRITE | RIGHT_FD_ALLOCATE)
        if host is not None and writing and not oflags & OFLAG_DIRECTORY:
            rootfs.copy_up(host)
        rc = self.real["path_open"](
            caller,
            dirfd,
            dirflags,
            path_ptr,
            path_len,
            oflags,
            rights,
            inheriting,
            fdflags & ~FDFLAG_SYNCS,
            fd_ptr,
        )
        if rc != 0:
            return rc
        fd = u32(self.view(caller), fd_ptr)
        if fdflags & FDFLAG_SYNCS:
            self.sync_flags[fd] = fdflags & FDFLAG_SYNCS
        if host is None:
            host = self._any_host_path(caller, dirfd, path_ptr, path_len)
        if host is not None:
            (self.dirs if os.path.isdir(host) else self.files)[fd] = host
        return rc

    def _any_host_path(self, caller: Any, dirfd: int, path_ptr: int, path_len: int) -> str | None:
        """The host path of a path under any known dir (a volume too), for fd_allocate and symlinks."""
        base = self.dirs.get(dirfd)
        if base is None:
            return None
        rel = read(self.view(caller), path_ptr, path_len).decode("utf-8", "replace")
        path = os.path.realpath(os.path.join(base, rel))
        return path if path == base or path.startswith(base.rstrip(os.sep) + os.sep) else None

    def fd_allocate(self, caller: Any, fd: int, offset: int, length: int) -> int:
        """WasmEdge calls posix_fallocate; wasmtime answers NOTSUP. Grow the file as it would."""
        if fd in self.table.fds:
            return errno.SPIPE
        host = self.files.get(fd)
        if host is None:
            return self.real["fd_allocate"](caller, fd, offset, length)
        if offset < 0 or length <= 0:
            return errno.INVAL
        if os.path.getsize(host) < offset + length:
            os.truncate(host, offset + length)
        return 0

    def path_symlink(
        self, caller: Any, old_ptr: int, old_len: int, dirfd: int, new_ptr: int, new_len: int
    ) -> int:
        """An absolute target names a path in the guest's root: WasmEdge makes the link as given,
        wasmtime refuses it. Make it relative to the link's place, as the root view's links are."""
        target = read(self.view(caller), old_ptr, old_len).decode("utf-8", "replace")
        base = self.dirs.get(dirfd)
        if not target.startswith("/") or base is None or self.root is None:
            return self.real["path_symlink"](caller, old_ptr, old_len, dirfd, new_ptr, new_len)
        rel = read(self.view(caller), new_ptr, new_len).decode("utf-8", "replace")
        link = os.path.normpath(os.path.join(base, rel))
        if not link.startswith(self.root + os.sep):
            return self.real["path_symlink"](caller, old_ptr, old_len, dirfd, new_ptr, new_len)
        dest = os.path.join(self.root, target.lstrip("/"))
        os.symlink(os.path.relpath(dest, os.path.dirname(link)), link)
        return 0

    def path_filestat_set_times(
        self,
        caller: Any,
        dirfd: int,
        flags: int,
        path_ptr: int,
        path_len: int,
        atim: int,
        mtim: int,
        fst: int,
    ) -> int:
        host = self._host_path(caller, dirfd, path_ptr, path_len)
        if host is not None:
            rootfs.copy_up(host)
        return self.real["path_filestat_set_times"](caller, dirfd, flags, path_ptr, path_len, atim, mtim, fst)

    def fd_filestat_set_times(self, caller: Any, fd: int, atim: int, mtim: int, fst: int) -> int:
        host = self.files.get(fd)
        if fd in self.table.fds:
            return errno.NOTSUP
        if host is None or not rootfs.is_shared(host):
            return self.real["fd_filestat_set_times"](caller, fd, atim, mtim, fst)
        # The fd still points at the shared inode: give the path its own copy and set its times.
        rootfs.copy_up(host)
        st = os.stat(host)
        now = None
        if fst & (FST_ATIM_NOW | FST_MTIM_NOW):
            now = time.time_ns()
        a = now if fst & FST_ATIM_NOW else atim if fst & FST_ATIM else st.st_atime_ns
        m = now if fst & FST_MTIM_NOW else mtim if fst & FST_MTIM else st.st_mtime_ns
        os.utime(host, ns=(a or 0, m or 0))
        return 0
