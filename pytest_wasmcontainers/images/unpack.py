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
from typing import IO, TYPE_CHECKING, cast

from ..errors import ImageError, UnsafeLayerError

if TYPE_CHECKING:
    from typing_extensions import Self

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
_MAX_LINKS = 40
MAX_HEADER = 1 << 20
"""PAX and GNU long-name headers are read whole into memory: cap them (Go's archive/tar: 1 MiB)."""
_META = (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, b"X")


class _OversizedHeader(Exception):
    def __init__(self, name: str, size: int) -> None:
        super().__init__(name, size)
        self.name, self.size = name, size


class _TarInfo(tarfile.TarInfo):
    """Refuses an oversized PAX/GNU header before tarfile reads it (a 64 MiB 'name' of zeros
    gzips to 64 KiB)."""

    @classmethod
    def frombuf(cls, buf: bytes | bytearray, encoding: str, errors: str) -> Self:
        info = super().frombuf(buf, encoding, errors)
        if info.type in _META and info.size > MAX_HEADER:
            raise _OversizedHeader(info.name, info.size)
        return info


class _EndGuard:
    """tarfile's stream mode skips a member's data by reading it; past the end of the layer it keeps
    reading nothing, so a PAX size of 10**15 spun for days. Repeated reads at the end raise instead."""

    def __init__(self, f: IO[bytes]) -> None:
        self._f, self._empty = f, 0

    def read(self, n: int = -1) -> bytes:
        data = self._f.read(n)
        if not data:
            self._empty += 1
            if self._empty > 16:
                raise EOFError("the layer ends in the middle of an entry (a size field larger than the data)")
        return data


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
    if "\0" in name:  # a PAX record can carry one; the OS cannot take it
        raise UnsafeLayerError(f"layer {layer}: entry name {name[:100]!r} contains a NUL byte")
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
    if m.issparse():
        # Image builders never write sparse entries; a few bytes could stand for terabytes of zeros.
        raise UnsafeLayerError(f"layer {layer}: entry {m.name!r} is a sparse file, which images do not use")
    base = rel.rpartition("/")[2]
    if base.startswith(WHITEOUT) and base != OPAQUE and base[len(WHITEOUT) :] in ("", ".", ".."):
        # '.wh...' would remove the parent of its directory: at the top, the directory holding the root.
        raise UnsafeLayerError(
            f"layer {layer}: whiteout {m.name!r} names no entry (it would hide '.' or '..')"
        )
    if "\0" in m.linkname:
        raise UnsafeLayerError(f"layer {layer}: link {m.name!r} has a target with a NUL byte")
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
        if src.is_dir() and not src.is_symlink():
            raise UnsafeLayerError(f"layer {layer}: hardlink {m.name!r} -> {m.linkname!r} names a directory")
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
        with _members(layer_file) as tf:
            for m in tf:
                rel = _check(m, layer)
                if rel.rpartition("/")[2].startswith(WHITEOUT):
                    whiteouts.append(rel)
        for rel in whiteouts:
            _whiteout(root, rel)
        with _members(layer_file) as tf:
            for m in tf:
                rel = _check(m, layer)
                if rel and not rel.rpartition("/")[2].startswith(WHITEOUT):
                    try:
                        _extract(root, tf, m, rel, layer)
                    except OSError as err:
                        # e.g. a name over NAME_MAX/PATH_MAX: the tar is fine, this host cannot hold it
                        raise ImageError(
                            f"layer {layer}: cannot unpack entry {m.name!r}: {err.strerror or err}"
                        ) from err
    except _OversizedHeader as err:
        raise UnsafeLayerError(
            f"layer {layer}: entry {err.name!r} has a PAX or long-name header of {err.size} bytes "
            f"(more than {MAX_HEADER}); the layer is corrupt or hostile"
        ) from None
    except (tarfile.TarError, EOFError, zlib.error, OSError) as err:
        raise ImageError(f"layer {layer} is not a readable tar archive: {err}") from err


@contextmanager
def _members(layer_file: Path) -> Iterator[tarfile.TarFile]:
    with open_layer(layer_file) as stream:
        guarded = cast(IO[bytes], _EndGuard(stream))
        with tarfile.open(fileobj=guarded, mode="r|", tarinfo=_TarInfo) as tf:
            yield tf
