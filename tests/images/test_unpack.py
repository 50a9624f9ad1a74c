"""Layer extraction: hostile entries are refused with the entry named; links stay inside the root."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from pytest_wasmcontainers.errors import UnsafeLayerError
from pytest_wasmcontainers.images import ImageCache, pull
from pytest_wasmcontainers.images.build import write_oci_layout
from pytest_wasmcontainers.images.unpack import apply_layer, resolve
from tests.support.oci_build import Entry, raw_tar

HOSTILE = {
    "absolute": (Entry("/etc/passwd", data=b"x"), "absolute path"),
    "dotdot": (Entry("a/../../outside", data=b"x"), "'..'"),
    "symlink-out": (Entry("evil", tarfile.SYMTYPE, linkname="../../../etc"), "points outside"),
    "hardlink-out": (Entry("evil", tarfile.LNKTYPE, linkname="../host-file"), "points outside"),
    "hardlink-abs": (Entry("evil", tarfile.LNKTYPE, linkname="/etc/shadow"), "points outside"),
    "chardev": (Entry("dev/null", tarfile.CHRTYPE), "device or fifo"),
    "blockdev": (Entry("dev/sda", tarfile.BLKTYPE), "device or fifo"),
    "fifo": (Entry("pipe", tarfile.FIFOTYPE), "device or fifo"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_entry_in_a_pulled_image(case: str, tmp_path: Path, module: bytes) -> None:
    entry, why = HOSTILE[case]
    write_oci_layout(tmp_path / "layout", module, extra_layers=[raw_tar(entry)])
    with pytest.raises(UnsafeLayerError) as err:
        pull(f"oci:{tmp_path / 'layout'}", cache=ImageCache(tmp_path / "cache"))
    assert why in str(err.value) and repr(entry.name) in str(err.value)
    assert not list((tmp_path / "cache/images").iterdir()), "a half-unpacked image was published"
    assert not (tmp_path / "etc").exists() and not (tmp_path.parent / "outside").exists()


def test_write_through_symlink_stays_in_root(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    layer1 = tmp_path / "l1.tar"
    # An absolute symlink means "inside the container's root", so the later write lands in root/target.
    layer1.write_bytes(raw_tar(Entry("link", tarfile.SYMTYPE, linkname=str(outside))))
    layer2 = tmp_path / "l2.tar"
    layer2.write_bytes(raw_tar(Entry("link/file", data=b"data")))
    apply_layer(root, layer1, "1")
    apply_layer(root, layer2, "2")
    assert not list(outside.iterdir())
    assert (root / str(outside).lstrip("/") / "file").read_bytes() == b"data"


def test_resolve_clamps_dotdot_at_root(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    assert resolve(tmp_path, "a/../../../b") == tmp_path / "b"


def test_hardlink_inside_root_and_modes(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    layer = tmp_path / "l.tar"
    layer.write_bytes(
        raw_tar(
            Entry("bin/tool", data=b"#!", mode=0o4755),
            Entry("bin/alias", tarfile.LNKTYPE, linkname="bin/tool"),
            Entry("ro", tarfile.DIRTYPE, mode=0o555),
            Entry("ro/inner", data=b"ok"),
        )
    )
    apply_layer(root, layer, "1")
    assert (root / "bin/alias").stat().st_ino == (root / "bin/tool").stat().st_ino
    assert (root / "bin/tool").stat().st_mode & 0o7777 == 0o755, "setuid bit must be dropped"
    assert (root / "ro/inner").read_bytes() == b"ok"


def test_not_a_tar(tmp_path: Path) -> None:
    from pytest_wasmcontainers.errors import ImageError

    layer = tmp_path / "l"
    layer.write_bytes(b"\x1f\x8b garbage that claims to be gzip")
    with pytest.raises(ImageError, match="not a readable tar"):
        apply_layer(tmp_path, layer, "7")
