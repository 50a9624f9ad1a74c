"""Apply image layers to a root filesystem, safely, with OCI whiteouts.

Nothing in a layer may land outside the root: absolute names, ``..``, links pointing out, and
device or fifo entries are refused with :class:`UnsafeLayerError`. Symlinks already in the root are
followed the way the container would see them (absolute targets re-rooted), never on the host.
"""

from __future__ import annotations

import gzip
import os
import posixpath
import shutil
import stat
import tarfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, cast

from ..errors import ImageError, UnsafeLayerError

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
_MAX_LINKS = 40


@contextmanager
def open_layer(path: Path) -> Iterator[IO[bytes]]:
    """Open a layer blob decompressed, whatever the media type claims (sniffed from magic bytes)."""
    with open(path, "rb") as raw:
        head = raw.read(4)
        raw.seek(0)
        if head[:2] == b"\x1f\x8b":
            with gzip.GzipFile(fileobj=raw) as gz:
                yield cast(IO[bytes], gz)
        elif head == b"\x28\xb5\x2f\xfd":
            try:
                import zstandard
            except ImportError as err:
                raise ImageError(
                    f"layer {path.name} is zstd-compressed; install the 'zstandard' package to read it"
                ) from err
            with zstandard.ZstdDecompressor().stream_reader(raw) as zs:
                yield cast(IO[bytes], zs)
        else:
            yield raw


def _clean(name: str, layer: str) -> str:
    """Entry name -> normalized relative path ('' for the root itself)."""
    if name.startswith("/"):
        raise UnsafeLayerError(f"layer {layer}: entry {name!r} has an absolute path")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafeLayerError(f"layer {layer}: entry {name!r} contains '..'")
    return "/".join(parts)


def _check(m: tarfile.TarInfo, layer: str) -> str:
    rel = _clean(m.name, layer)
    if m.ischr() or m.isblk() or m.isfifo():
        raise UnsafeLayerError(
            f"layer {layer}: entry {m.name!r} is a device or fifo, which an image may not create"
        )
    if m.issym() and not m.linkname.startswith("/"):
        target = posixpath.normpath(posixpath.join(posixpath.dirname(rel), m.linkname))
        if target == ".." or target.startswith("../"):
            raise UnsafeLayerError(
                f"layer {layer}: symlink {m.name!r} -> {m.linkname!r} points outside the root"
            )
    if m.islnk():
        try:
            _clean(m.linkname, layer)
        except UnsafeLayerError:
            raise UnsafeLayerError(
                f"layer {layer}: hardlink {m.name!r} -> {m.linkname!r} points outside the root"
            ) from None
    return rel


def resolve(root: Path, rel: str, *, follow_last: bool = True) -> Path:
    """Host path of ``rel`` as the container sees it: symlinks followed inside ``root`` only."""
    todo = [p for p in rel.split("/") if p not in ("", ".")]
    done: list[str] = []
    links = 0
    while todo:
        part = todo.pop(0)
        if part == "..":
            if done:
                done.pop()
            continue
        here = root.joinpath(*done, part)
        if (todo or follow_last) and here.is_symlink():
            links += 1
            if links > _MAX_LINKS:
                raise ImageError(f"too many levels of symlinks resolving {rel!r} in the image")
            target = os.readlink(here)
            if target.startswith("/"):
                done = []
            todo = [p for p in target.split("/") if p not in ("", ".")] + todo
            continue
        done.append(part)
    return root.joinpath(*done)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif os.path.lexists(path):
        path.unlink()


def _whiteout(root: Path, rel: str) -> None:
    parent, _, name = rel.rpartition("/")
    directory = resolve(root, parent)
    if name == OPAQUE:
        if directory.is_dir():
            for child in directory.iterdir():
                _remove(child)
    else:
        _remove(directory / name[len(WHITEOUT) :])


def _extract(root: Path, tf: tarfile.TarFile, m: tarfile.TarInfo, rel: str, layer: str) -> None:
    parent, _, name = rel.rpartition("/")
    pdir = resolve(root, parent)
    if not pdir.is_dir():
        if os.path.lexists(pdir):
            _remove(pdir)
        pdir.mkdir(parents=True, exist_ok=True)
    dest = pdir / name
    if m.isdir():
        if dest.is_dir() and not dest.is_symlink():
            dest.chmod((m.mode & 0o777) | 0o700)
            return
        _remove(dest)
        dest.mkdir(mode=0o755)
        dest.chmod((m.mode & 0o777) | 0o700)
        return
    _remove(dest)
    if m.issym():
        os.symlink(m.linkname, dest)
    elif m.islnk():
        src = resolve(root, _clean(m.linkname, layer), follow_last=False)
        if not os.path.lexists(src):
            raise UnsafeLayerError(
                f"layer {layer}: hardlink {m.name!r} -> {m.linkname!r} names a missing file"
            )
        os.link(src, dest, follow_symlinks=False)
    elif m.isfile():
        src_f = tf.extractfile(m)
        assert src_f is not None
        with src_f, open(dest, "xb") as out:
            shutil.copyfileobj(src_f, out, 1 << 20)
        dest.chmod((m.mode & 0o777) | stat.S_IRUSR)
    # other entry types (e.g. GNU volume headers) carry no file content: skip them


def apply_layer(root: Path, layer_file: Path, layer: str) -> None:
    """Apply one layer tar onto ``root``: first its whiteouts (they hide lower layers), then its entries."""
    whiteouts: list[str] = []
    try:
        with open_layer(layer_file) as stream, tarfile.open(fileobj=stream, mode="r|") as tf:
            for m in tf:
                rel = _check(m, layer)
                if rel.rpartition("/")[2].startswith(WHITEOUT):
                    whiteouts.append(rel)
        for rel in whiteouts:
            _whiteout(root, rel)
        with open_layer(layer_file) as stream, tarfile.open(fileobj=stream, mode="r|") as tf:
            for m in tf:
                rel = _check(m, layer)
                if rel and not rel.rpartition("/")[2].startswith(WHITEOUT):
                    _extract(root, tf, m, rel, layer)
    except (tarfile.TarError, EOFError, zlib.error, OSError) as err:
        raise ImageError(f"layer {layer} is not a readable tar archive: {err}") from err
