"""``wasi:filesystem`` (runtime/p2/filesystem.py): real guests through libc, and the host API directly.

The guests are tests/guests/c/p2_fs.c (wasip1 libc + the preview-1 adapter, which turns each libc
call into wasi:filesystem calls) and tests/guests/py/fs_ops (componentize-py, wasip2 libc).
"""

from __future__ import annotations

import errno
import functools
import os
import re
import shlex
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_wasmcontainers.errors import UnsupportedImportsError
from pytest_wasmcontainers.runtime import Runtime
from pytest_wasmcontainers.runtime.logs import ContainerLog
from pytest_wasmcontainers.runtime.network import NameTable, PortMap
from pytest_wasmcontainers.runtime.p2 import filesystem, fspath, io
from pytest_wasmcontainers.runtime.p2.cabi import Err
from pytest_wasmcontainers.runtime.p2.context import HostContext, Preopen
from pytest_wasmcontainers.runtime.p2.fspath import code_of
from pytest_wasmcontainers.runtime.sockets import StopSignal
from pytest_wasmcontainers.runtime.spec import Mount, RunSpec
from tests.support.components import GUESTS, adapt, build_py
from tests.support.toolchains import build_c

Result = tuple[int | None, str, str]


@functools.cache
def fs_guest() -> Path:
    return adapt(build_c(GUESTS / "c" / "p2_fs.c"))


def spec(ops: str, **kw: Any) -> RunSpec:
    """p2_fs.c running ``ops`` ("write /data/f 'two words' cat /data/f")."""
    return RunSpec(fs_guest(), ["p2_fs", *shlex.split(ops)], **kw)


# ---- running a command: the one place that knows how -----------------------------------------
@pytest.fixture
def run(runtime: Runtime) -> Callable[[RunSpec], Result]:
    """Run a command component to its end through the runtime: (exit code, stdout, stderr)."""

    def go(s: RunSpec) -> Result:
        proc = runtime.start(s)
        code = proc.wait(120)
        return code, proc.stdout(), proc.stderr()

    return go


def ok(result: Result, mtime: bool = False) -> list[str]:
    """The guest's lines (without stat's mtimes unless asked) after it ended well."""
    code, out, err = result
    assert code == 0, out + err
    return out.splitlines() if mtime else [re.sub(r" mtime=\d+", "", line) for line in out.splitlines()]


Steps = list[tuple[str, str]]
"""(operation of p2_fs.c, the line it must print)"""


def script(run: Callable[[RunSpec], Result], steps: Steps, mtime: bool = False, **kw: Any) -> None:
    """Run every step in one guest; each must print what it says."""
    lines = ok(run(spec(" ".join(op for op, _ in steps), **kw)), mtime)
    assert list(zip([op for op, _ in steps], lines, strict=True)) == steps


Runner = Callable[[RunSpec], Result]


# ---- through libc --------------------------------------------------------------------------------
def test_write_read_append_and_offsets(run: Runner, tmp_path: Path) -> None:
    vol = tmp_path / "vol"
    vol.mkdir()
    steps = [
        ("write /data/f hello", "write: ok 5"),
        ("cat /data/f", "cat: hello"),
        ("append /data/f ' world'", "append: ok 6"),
        ("cat /data/f", "cat: hello world"),
        ("pread /data/f 6 5", "pread: 5 world"),
        ("pread /data/f 20 5", "pread: 0 "),
        ("pwrite /data/f 0 J", "pwrite: ok 1"),
        ("cat /data/f", "cat: Jello world"),
        ("seek /data/s", "seek: end=10 read=234 cur=10"),
        ("truncate /data/f 5", "truncate: ok"),
        ("fstat /data/f", "fstat: reg size=5 nlink=1"),
        ("create /data/f x", "create: EEXIST"),
        ("overwrite /data/none x", "overwrite: ENOENT"),
        ("fdflags /data/f", "fdflags: wronly append"),
        ("fsync /data/f", "fsync: ok"),
        ("cat /data", "cat: EBADF"),  # read() of a directory
    ]
    script(run, steps, mounts=[Mount(vol, "/data")])
    assert (vol / "f").read_text() == "Jello"
    assert (vol / "s").read_text() == "01234567XY"


def test_directory_listing_has_names_and_types(run: Runner, tmp_path: Path) -> None:
    image = tmp_path / "image"
    (image / "sub" / "deeper").mkdir(parents=True)
    (image / "a.txt").write_text("a")
    (image / "sub" / "b.txt").write_text("b")
    (image / "ln").symlink_to("a.txt")
    (image / "dangling").symlink_to("nowhere")
    steps = [
        ("ls /", "ls: a.txt:reg dangling:lnk ln:lnk sub:dir"),  # no "." nor ".."
        ("ls /sub", "ls: b.txt:reg deeper:dir"),
        ("ls /a.txt", "ls: ENOTDIR"),
        ("ls /nope", "ls: ENOENT"),
    ]
    script(run, steps, rootfs=image)


def test_directories_and_symlinks(run: Runner, tmp_path: Path) -> None:
    vol = tmp_path / "vol"
    vol.mkdir()
    steps = [
        ("mkdir /data/d", "mkdir: ok"),
        ("mkdir /data/d", "mkdir: EEXIST"),
        ("write /data/d/f x", "write: ok 1"),
        ("rmdir /data/d", "rmdir: ENOTEMPTY"),
        ("unlink /data/d", "unlink: EISDIR"),
        ("mkdir /data/d/f/g", "mkdir: ENOTDIR"),
        ("mkdir /data/no/g", "mkdir: ENOENT"),
        ("unlink /data/d/f", "unlink: ok"),
        ("rmdir /data/d", "rmdir: ok"),
        ("rmdir /data/d", "rmdir: ENOENT"),
        ("unlink /data/d", "unlink: ENOENT"),
        ("symlink target.txt /data/l", "symlink: ok"),
        ("readlink /data/l", "readlink: target.txt"),
        ("lstat /data/l", "lstat: lnk size=10 nlink=1"),
        ("stat /data/l", "stat: ENOENT"),  # dangling
        ("write /data/l through", "write: ok 7"),  # creates the target
        ("cat /data/target.txt", "cat: through"),
        ("symlink x /data/l", "symlink: EEXIST"),
        ("readlink /data/target.txt", "readlink: EINVAL"),
        ("readlink /data/none", "readlink: ENOENT"),
        ("catnofollow /data/l", "catnofollow: ELOOP"),
        ("unlink /data/l", "unlink: ok"),  # the link, not its target
        ("cat /data/target.txt", "cat: through"),
    ]
    script(run, steps, mounts=[Mount(vol, "/data")])
    assert sorted(p.name for p in vol.iterdir()) == ["target.txt"]


def test_stat_and_times(run: Runner, tmp_path: Path) -> None:
    vol = tmp_path / "vol"
    vol.mkdir()
    (vol / "f").write_text("12345")
    (vol / "d").mkdir()
    (vol / "d" / "x").mkdir()
    mtime = int(os.stat(vol / "f").st_mtime)
    d = os.stat(vol / "d")  # a directory's size and link count depend on the host's filesystem
    steps = [
        ("stat /data/f", f"stat: reg size=5 nlink=1 mtime={mtime}"),
        ("utime /data/f 1000000", "utime: ok"),
        ("stat /data/f", "stat: reg size=5 nlink=1 mtime=1000000"),
        ("futime /data/f 2000000", "futime: ok"),  # through a descriptor opened read-only
        ("fstat /data/f", "fstat: reg size=5 nlink=1 mtime=2000000"),
        ("utime /data/d 3000000", "utime: ok"),
        ("stat /data/d", f"stat: dir size={d.st_size} nlink={d.st_nlink} mtime=3000000"),
        ("utime /data/none 5", "utime: ENOENT"),
        ("touch /data/f", "touch: ok"),
    ]
    script(run, steps, mtime=True, mounts=[Mount(vol, "/data")])
    st = os.stat(vol / "f")
    assert st.st_atime > 2_000_000 and st.st_mtime > 2_000_000  # "now", after the futime


def test_futimens_sets_both_times(run: Runner, tmp_path: Path) -> None:
    vol = tmp_path / "vol"
    vol.mkdir()
    (vol / "f").write_text("x")
    script(run, [("futime /data/f 2000000", "futime: ok")], mounts=[Mount(vol, "/data")])
    st = os.stat(vol / "f")
    assert (st.st_atime, st.st_mtime) == (2_000_000, 2_000_000)


def test_escapes_are_refused(run: Runner, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret"
    secret.write_text("host secret")
    vol = tmp_path / "vol"
    (vol / "sub").mkdir(parents=True)
    (vol / "abs").symlink_to(secret)  # absolute: outside the mount
    (vol / "rel").symlink_to("../outside/secret")
    (vol / "sub" / "up").symlink_to("../../outside")
    (vol / "loop1").symlink_to("loop2")
    (vol / "loop2").symlink_to("loop1")
    (vol / "self").symlink_to("self/x")
    steps = [
        ("cat /data/abs", "cat: EPERM"),
        ("cat /data/rel", "cat: EPERM"),
        ("cat /data/sub/up/secret", "cat: EPERM"),
        ("cat /../outside/secret", "cat: EPERM"),
        ("openat /data/sub ../../outside/secret", "openat: EPERM"),
        ("write /data/abs x", "write: EPERM"),
        ("stat /data/abs", "stat: EPERM"),
        ("lstat /data/abs", f"lstat: lnk size={len(str(secret))} nlink=1"),  # not followed: allowed
        ("readlink /data/rel", "readlink: ../outside/secret"),
        ("ls /data/sub/up", "ls: EPERM"),
        ("cat /data/loop1", "cat: ELOOP"),
        ("stat /data/self", "stat: ELOOP"),
        ("mkdir /data/rel/x", "mkdir: EPERM"),
        (f"symlink {secret} /data/mine", "symlink: ok"),  # harmless: following it is refused
        ("cat /data/mine", "cat: EPERM"),
        ("openat /data/sub ../sub/..", "openat: EBADF"),  # allowed: the mount itself (a directory)
    ]
    script(run, steps, mounts=[Mount(vol, "/data")])
    assert secret.read_text() == "host secret"


def test_absolute_symlinks_in_the_root_mean_the_guests_root(run: Runner, tmp_path: Path) -> None:
    image = tmp_path / "image"
    (image / "etc").mkdir(parents=True)
    (image / "etc" / "hostname").write_text("guest-host")
    (image / "usr").mkdir()
    steps = [
        ("symlink /etc/hostname /usr/h", "symlink: ok"),
        ("cat /usr/h", "cat: guest-host"),
        ("symlink /etc /usr/e", "symlink: ok"),
        ("cat /usr/e/hostname", "cat: guest-host"),
        ("symlink /../../../etc/hostname /usr/up", "symlink: ok"),
        ("cat /usr/up", "cat: EPERM"),  # ".." above the guest's "/" is an escape too
    ]
    script(run, steps, rootfs=image)


def test_a_read_only_mount_refuses_every_change(run: Runner, tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    (ro / "d").mkdir(parents=True)
    (ro / "f").write_text("keep")
    before = os.stat(ro / "f")
    steps = [
        ("cat /ro/f", "cat: keep"),
        ("ls /ro", "ls: d:dir f:reg"),
        ("write /ro/f x", "write: EROFS"),
        ("overwrite /ro/f x", "overwrite: EROFS"),
        ("append /ro/f x", "append: EROFS"),
        ("create /ro/new x", "create: EROFS"),
        ("mkdir /ro/x", "mkdir: EROFS"),
        ("rmdir /ro/d", "rmdir: EROFS"),
        ("unlink /ro/f", "unlink: EROFS"),
        ("symlink f /ro/l", "symlink: EROFS"),
        ("utime /ro/f 5", "utime: EROFS"),
        ("truncate /ro/f 1", "truncate: EROFS"),
        ("futime /ro/f 5", "futime: EROFS"),
        ("stat /ro/f", f"stat: reg size=4 nlink=1 mtime={int(before.st_mtime)}"),
    ]
    script(run, steps, mtime=True, mounts=[Mount(ro, "/ro", read_only=True)])
    assert sorted(p.name for p in ro.iterdir()) == ["d", "f"]
    assert (ro / "f").read_text() == "keep"
    assert os.stat(ro / "f").st_mtime_ns == before.st_mtime_ns


def test_a_shared_image_file_is_copied_up_before_it_changes(run: Runner, tmp_path: Path) -> None:
    image = tmp_path / "image"
    for d in ("etc", "app", "bin"):
        (image / d).mkdir(parents=True)
    files = {"etc/conf": "image conf", "app/data": "image data", "bin/tool": "tool", "app/log": "log"}
    for rel, text in files.items():
        (image / rel).write_text(text)
    os.utime(image / "bin" / "tool", ns=(10**18, 10**18))
    steps = [
        ("overwrite /etc/conf NEW", "overwrite: ok 3"),
        ("cat /etc/conf", "cat: NEWge conf"),  # written into a copy of the image's content
        ("append /app/data +more", "append: ok 5"),
        ("cat /app/data", "cat: image data+more"),
        ("utime /bin/tool 1000", "utime: ok"),
        ("stat /bin/tool", "stat: reg size=4 nlink=1 mtime=1000"),
        ("futime /app/log 2000", "futime: ok"),  # its fd still names the image's inode
        ("stat /app/log", "stat: reg size=3 nlink=1 mtime=2000"),
        ("truncate /app/log 1", "truncate: ok"),
        ("cat /app/log", "cat: l"),
    ]
    script(run, steps, mtime=True, rootfs=image)
    for rel, text in files.items():  # the shared image is as it was
        assert (image / rel).read_text() == text
        assert os.stat(image / rel).st_nlink == 1
    assert os.stat(image / "bin" / "tool").st_mtime_ns == 10**18


def test_rename_and_link(run: Runner, tmp_path: Path) -> None:
    vol = tmp_path / "vol"
    vol.mkdir()
    steps = [
        ("write /data/a x", "write: ok 1"),
        ("rename /data/a /data/b", "rename: ok"),
        ("link /data/b /data/c", "link: ok"),
        ("stat /data/c", "stat: reg size=1 nlink=2"),
        ("rename /data/none /data/d", "rename: ENOENT"),
    ]
    script(run, steps, mounts=[Mount(vol, "/data")])


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
def test_host_fds_are_released(run: Runner, tmp_path: Path) -> None:
    vol = tmp_path / "vol"
    vol.mkdir()
    (vol / "f").write_text("x")
    steps = [
        ("fds 300 /data/f", "fds: 0 failed"),
        ("leak 40 /data/f", "leak: 40 open +dir"),  # never closed by the guest
        ("cat /data/f", "cat: x"),
    ]
    script(run, steps, mounts=[Mount(vol, "/data")])  # warm: caches, the engine
    before = _open_fds()
    script(run, steps, mounts=[Mount(vol, "/data")])
    # other modules' daemon threads (a proxy's connections, a backend) may still be closing theirs
    deadline = time.monotonic() + 10
    while _open_fds() != before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _open_fds() == before


@pytest.mark.slow
def test_componentize_py_files(run: Runner, tmp_path: Path) -> None:
    vol = tmp_path / "vol"
    vol.mkdir()
    guest = build_py(GUESTS / "py" / "fs_ops", "command")
    try:
        code, out, err = run(RunSpec(guest, ["app", "/data"], mounts=[Mount(vol, "/data")]))
    except UnsupportedImportsError as exc:  # componentize-py imports all of wasi:cli, sockets too
        pytest.skip(str(exc))
    assert code == 0, out + err
    lines = dict(line.split(": ", 1) for line in out.splitlines())
    assert lines["read"] == "oNe;two;"
    assert lines["readlink"] == "b/f.txt"
    assert lines["via-link"] == "oNe;two;"
    assert lines["dangling"] == "False"
    assert lines["mtime"] == "2000000"
    assert lines["scandir"] == "b:d,g.txt:f,ln:l"
    assert lines["escape"].startswith(("PermissionError", "FileNotFoundError"))
    assert lines["gone"] == "[]"
    assert list(vol.iterdir()) == []


# ---- the host API directly -----------------------------------------------------------------------
class Dirs:
    def __init__(self, ctx: HostContext, descriptors: list[tuple[filesystem.Descriptor, str]]) -> None:
        self.ctx = ctx
        self.by_guest = {guest: d for d, guest in descriptors}

    def __getitem__(self, guest: str) -> filesystem.Descriptor:
        return self.by_guest[guest]


@pytest.fixture
def fs(tmp_path: Path) -> Iterator[Dirs]:
    """Preopens ``/`` (tmp/root), ``/data`` (tmp/vol) and read-only ``/ro`` (tmp/ro), entered."""
    for d in ("root", "vol", "ro"):
        (tmp_path / d).mkdir()
    (tmp_path / "ro" / "f").write_text("ro")
    stop = StopSignal()
    calls: list[str] = []
    ctx = HostContext(
        log=ContainerLog(1 << 16),
        ports=PortMap({}),
        names=NameTable({}),
        stop=stop,
        preopens=[
            Preopen(str(tmp_path / "root"), "/"),
            Preopen(str(tmp_path / "vol"), "/data"),
            Preopen(str(tmp_path / "ro"), "/ro", read_only=True),
        ],
        copy_up=calls.append,
    )
    ctx.data["copy_up_calls"] = calls
    with ctx.entered():
        dirs = Dirs(ctx, filesystem.get_directories())
        try:
            yield dirs
        finally:
            for d in dirs.by_guest.values():
                d.drop()
            stop.close()


def code(f: Callable[..., Any], *args: Any) -> str:
    try:
        f(*args)
    except Err as exc:
        return str(exc.value)
    return "ok"


RW, R, W = {"read", "write"}, {"read"}, {"write"}
FOLLOW: set[str] = {"symlink-follow"}
NOFOLLOW: set[str] = set()


def create(d: filesystem.Descriptor, path: str, data: bytes = b"") -> filesystem.Descriptor:
    f = d.open_at(FOLLOW, path, {"create", "truncate"}, RW)
    if data:
        assert f.write(data, 0) == len(data)
    return f


def test_preopens_and_descriptor_metadata(fs: Dirs, tmp_path: Path) -> None:
    assert sorted(fs.by_guest) == ["/", "/data", "/ro"]
    data, ro = fs["/data"], fs["/ro"]
    assert data.get_type() == "directory"
    assert data.get_flags() == {"read", "mutate-directory"}
    assert ro.get_flags() == {"read"}
    f = create(data, "f", b"hello")
    try:
        assert f.get_type() == "regular-file"
        assert f.get_flags() == RW
        st = f.stat()
        assert (st["type"], st["size"], st["link-count"]) == ("regular-file", 5, 1)
        host_st = os.stat(tmp_path / "vol" / "f")
        assert st["data-modification-timestamp"] == {
            "seconds": host_st.st_mtime_ns // 10**9,
            "nanoseconds": host_st.st_mtime_ns % 10**9,
        }
        assert data.stat_at(NOFOLLOW, "f") == st
        assert f.read(100, 0) == (b"hello", False)
        assert f.read(100, 5) == (b"", True)
        assert f.read(2, 1) == (b"el", False)
        assert f.write(b"J", 0) == 1
        assert f.metadata_hash() == data.metadata_hash_at(NOFOLLOW, "f")
        assert f.metadata_hash() != data.metadata_hash()
        f.sync()
        f.sync_data()
        f.advise(0, 5, "sequential")
        f.set_size(2)
        assert f.read(10, 0) == (b"Je", False)
    finally:
        f.drop()
    sync = data.open_at(FOLLOW, "f", set(), {"read", "write", "data-integrity-sync"})
    assert sync.get_flags() == {"read", "write", "data-integrity-sync"}
    sync.drop()


def test_streams_read_write_append(fs: Dirs, tmp_path: Path) -> None:
    data = fs["/data"]
    f = create(data, "s", b"0123456789")
    out = f.write_via_stream(4)
    out.blocking_write_and_flush(b"ab")
    out.write(b"cd")
    app = f.append_via_stream()
    app.blocking_write_and_flush(b"END")
    out.write(b"e")  # positional: not moved by the append
    inp = f.read_via_stream(2)
    f.drop()  # each stream keeps its own fd
    assert inp.blocking_read(4) == b"23ab"
    assert inp.read(100) == b"cde9END"
    with pytest.raises(Err) as info:
        inp.read(1)
    assert info.value.value == "closed"
    for s in (out, app, inp):
        s.drop()
    assert (tmp_path / "vol" / "s").read_bytes() == b"0123abcde9END"


def test_stream_errors_carry_the_filesystem_code(fs: Dirs, tmp_path: Path) -> None:
    (tmp_path / "vol" / "f").write_text("x")
    fd = os.open(tmp_path / "vol" / "f", os.O_RDONLY)
    out = fspath.FileOutput(fd, 0)
    with pytest.raises(Err) as info:
        out.blocking_write_and_flush(b"x")
    case, err = info.value.value
    assert case == "last-operation-failed"
    assert filesystem.filesystem_error_code(err) == "bad-descriptor"
    assert code(out.check_write) == "closed"  # a failed stream stays failed
    out.drop()
    dfd = os.open(tmp_path / "vol", os.O_RDONLY)
    inp = fspath.FileInput(dfd, 0)
    with pytest.raises(Err) as info:
        inp.read(1)
    assert filesystem.filesystem_error_code(info.value.value[1]) == "is-directory"
    inp.drop()
    assert filesystem.filesystem_error_code(io.IoError("other", "x", "sockets")) is None


def test_descriptor_kinds_and_modes_gate_operations(fs: Dirs) -> None:
    data = fs["/data"]
    create(data, "f", b"x").drop()
    data.create_directory_at("d")
    rd = data.open_at(FOLLOW, "f", set(), R)
    wr = data.open_at(FOLLOW, "f", set(), W)
    d = data.open_at(FOLLOW, "d", {"directory"}, R)
    try:
        assert code(rd.write_via_stream, 0) == "bad-descriptor"
        assert code(rd.append_via_stream) == "bad-descriptor"
        assert code(rd.write, b"x", 0) == "bad-descriptor"
        assert code(wr.read_via_stream, 0) == "bad-descriptor"
        assert code(wr.read, 1, 0) == "bad-descriptor"
        assert code(d.read, 1, 0) == "bad-descriptor"
        assert code(d.read_via_stream, 0) == "bad-descriptor"
        assert code(d.set_size, 0) == "bad-descriptor"
        assert code(rd.stat_at, NOFOLLOW, "x") == "not-directory"
        assert code(rd.open_at, FOLLOW, "x", set(), R) == "not-directory"
        assert code(rd.read_directory) == "not-directory"
        assert code(data.open_at, FOLLOW, "f", {"directory"}, R) == "not-directory"
        assert code(data.open_at, FOLLOW, "d", set(), W) == "is-directory"
        assert code(data.open_at, FOLLOW, "d", {"directory", "create"}, R) == "invalid"
        assert code(data.open_at, FOLLOW, "d", {"directory", "truncate"}, R) == "invalid"
        assert code(data.open_at, FOLLOW, "f", {"create", "exclusive"}, RW) == "exist"
        assert code(data.open_at, FOLLOW, "none", set(), R) == "no-entry"
        assert code(data.open_at, FOLLOW, "/etc/passwd", set(), R) == "not-permitted"
        assert code(data.open_at, FOLLOW, "", set(), R) == "no-entry"
        assert code(data.open_at, FOLLOW, "a\0b", set(), R) == "invalid"
        assert code(data.open_at, FOLLOW, "f/", set(), R) == "not-directory"
        assert code(data.open_at, FOLLOW, "x" * 300, set(), R) == "name-too-long"
        assert d.open_at(FOLLOW, "../f", set(), R).read(1, 0) == (b"x", False)  # inside the preopen
        assert code(d.open_at, FOLLOW, "../../x", set(), R) == "not-permitted"
        assert d.is_same_object(data.open_at(FOLLOW, "d/.", set(), R))
        assert not d.is_same_object(data)
        assert rd.is_same_object(wr)
    finally:
        for x in (rd, wr, d):
            x.drop()


def test_read_only_preopen(fs: Dirs) -> None:
    ro, data = fs["/ro"], fs["/data"]
    assert ro.open_at(FOLLOW, "f", set(), R).read(10, 0) == (b"ro", False)
    assert code(ro.open_at, FOLLOW, "f", set(), RW) == "read-only"
    assert code(ro.open_at, FOLLOW, "new", {"create"}, R) == "read-only"
    assert code(ro.open_at, FOLLOW, "f", {"truncate"}, R) == "read-only"
    assert code(ro.create_directory_at, "d") == "read-only"
    assert code(ro.unlink_file_at, "f") == "read-only"
    assert code(ro.remove_directory_at, "f") == "read-only"
    assert code(ro.symlink_at, "f", "l") == "read-only"
    assert code(ro.set_times_at, FOLLOW, "f", "now", "now") == "read-only"
    assert code(ro.set_times, "now", "now") == "read-only"
    assert code(ro.rename_at, "f", data, "g") == "read-only"
    assert code(data.rename_at, "g", ro, "f") == "read-only"
    assert code(ro.link_at, NOFOLLOW, "f", data, "g") == "read-only"
    f = ro.open_at(FOLLOW, "f", set(), R)
    assert code(f.set_times, "now", "now") == "read-only"
    assert code(f.set_size, 0) == "read-only"
    f.drop()


def test_rename_and_link_on_the_host(fs: Dirs, tmp_path: Path) -> None:
    data, root = fs["/data"], fs["/"]
    create(data, "a", b"A").drop()
    data.rename_at("a", data, "b")
    data.link_at(NOFOLLOW, "b", data, "c")
    assert data.stat_at(NOFOLLOW, "c")["link-count"] == 2
    assert data.metadata_hash_at(NOFOLLOW, "b") == data.metadata_hash_at(NOFOLLOW, "c")
    data.symlink_at("c", "ln")
    data.link_at(FOLLOW, "ln", data, "d")  # the link's target, not the link
    assert data.stat_at(NOFOLLOW, "d")["type"] == "regular-file"
    data.rename_at("d", root, "moved")  # to another preopen on the same filesystem
    assert (tmp_path / "root" / "moved").read_text() == "A"
    assert code(data.rename_at, "none", data, "x") == "no-entry"
    assert code(data.rename_at, "b", data, ".") == "invalid"
    assert code(data.rename_at, ".", data, "x") == "invalid"
    assert code(data.remove_directory_at, ".") == "invalid"
    assert code(data.rename_at, "b", data, "../x") == "not-permitted"
    assert code(data.link_at, NOFOLLOW, "b", data, "c") == "exist"
    data.create_directory_at("dir")
    create(data, "dir/x").drop()
    assert code(data.rename_at, "b", data, "dir") == "is-directory"
    assert code(data.rename_at, "dir", data, "b") == "not-directory"
    assert sorted(os.listdir(tmp_path / "vol")) == ["b", "c", "dir", "ln"]


def test_read_directory(fs: Dirs, tmp_path: Path) -> None:
    vol = tmp_path / "vol"
    (vol / "d").mkdir()
    (vol / "f").write_text("x")
    (vol / "l").symlink_to("f")
    os.mkfifo(vol / "p")
    data = fs["/data"]
    for _ in range(2):  # a second listing of the same descriptor starts again
        s = data.read_directory()
        entries = []
        while (e := s.read_directory_entry()) is not None:
            entries.append((e["name"], e["type"]))
        assert s.read_directory_entry() is None
        s.drop()
        assert sorted(entries) == [
            ("d", "directory"),
            ("f", "regular-file"),
            ("l", "symbolic-link"),
            ("p", "fifo"),
        ]


@pytest.mark.skipif(sys.platform != "linux", reason="Linux accepts non-UTF-8 names")
def test_a_name_that_is_not_utf8_is_an_error_entry(fs: Dirs, tmp_path: Path) -> None:
    (tmp_path / "vol" / os.fsdecode(b"bad\xff")).write_text("x")
    s = fs["/data"].read_directory()
    assert code(s.read_directory_entry) == "illegal-byte-sequence"
    assert s.read_directory_entry() is None
    s.drop()


def test_symlink_follow_applies_to_the_last_component_only(fs: Dirs, tmp_path: Path) -> None:
    vol = tmp_path / "vol"
    (vol / "dir").mkdir()
    (vol / "dir" / "f").write_text("x")
    (vol / "dl").symlink_to("dir")
    (vol / "fl").symlink_to("dir/f")
    data = fs["/data"]
    assert data.stat_at(NOFOLLOW, "dl/f")["type"] == "regular-file"  # "dl" is followed on the way
    assert data.stat_at(NOFOLLOW, "fl")["type"] == "symbolic-link"
    assert data.stat_at(FOLLOW, "fl")["type"] == "regular-file"
    assert data.stat_at(NOFOLLOW, "dl/")["type"] == "directory"  # a trailing slash follows
    assert code(data.open_at, NOFOLLOW, "fl", set(), R) == "loop"
    assert data.readlink_at("fl") == "dir/f"
    assert data.readlink_at("dl/../fl") == "dir/f"
    assert code(data.readlink_at, "dir") == "invalid"
    data.unlink_file_at("dl")  # the link, not its target
    assert (vol / "dir" / "f").exists()


def test_set_times(fs: Dirs, tmp_path: Path) -> None:
    vol = tmp_path / "vol"
    (vol / "f").write_text("x")
    os.utime(vol / "f", ns=(5 * 10**9, 6 * 10**9))
    data = fs["/data"]
    data.set_times_at(FOLLOW, "f", ("timestamp", {"seconds": 100, "nanoseconds": 7}), ("no-change", None))
    st = os.stat(vol / "f")
    assert (st.st_atime_ns, st.st_mtime_ns) == (100 * 10**9 + 7, 6 * 10**9)
    f = data.open_at(FOLLOW, "f", set(), R)
    f.set_times(("no-change", None), ("timestamp", {"seconds": 200, "nanoseconds": 0}))
    f.drop()
    st = os.stat(vol / "f")
    assert (st.st_atime_ns, st.st_mtime_ns) == (100 * 10**9 + 7, 200 * 10**9)
    data.set_times_at(FOLLOW, "f", ("now", None), ("now", None))
    assert os.stat(vol / "f").st_mtime > 1_000_000_000
    assert code(data.set_times_at, FOLLOW, "none", ("now", None), ("now", None)) == "no-entry"
    assert str(vol / "f") in fs.ctx.data["copy_up_calls"]  # asked before times change


def test_copy_up_is_asked_before_a_write_open_only(fs: Dirs, tmp_path: Path) -> None:
    calls = fs.ctx.data["copy_up_calls"]
    root = fs["/"]
    (tmp_path / "root" / "f").write_text("x")
    root.open_at(FOLLOW, "f", set(), R).drop()
    root.create_directory_at("d")
    root.open_at(FOLLOW, "d", {"directory"}, R).drop()
    assert calls == []
    root.open_at(FOLLOW, "f", set(), W).drop()
    root.open_at(FOLLOW, "f", {"truncate"}, R).drop()
    root.open_at(FOLLOW, "d/../f", {"create"}, R).drop()
    assert calls == [str(tmp_path / "root" / "f")] * 3


@pytest.mark.parametrize(
    ("num", "name"),
    [
        (errno.ENOENT, "no-entry"),
        (errno.EEXIST, "exist"),
        (errno.EACCES, "access"),
        (errno.EPERM, "not-permitted"),
        (errno.ENOTDIR, "not-directory"),
        (errno.EISDIR, "is-directory"),
        (errno.ENOTEMPTY, "not-empty"),
        (errno.EBADF, "bad-descriptor"),
        (errno.EINVAL, "invalid"),
        (errno.ELOOP, "loop"),
        (errno.ENAMETOOLONG, "name-too-long"),
        (errno.ENOSPC, "insufficient-space"),
        (errno.EXDEV, "cross-device"),
        (errno.EROFS, "read-only"),
        (errno.ESPIPE, "invalid-seek"),
        (errno.ECONNRESET, "io"),
    ],
)
def test_errno_to_error_code(num: int, name: str) -> None:
    assert code_of(OSError(num, os.strerror(num))) == name
