"""Sources without a registry: OCI layout directory and tar, docker save tarball, plain .wasm file."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

from pytest_wasmcontainers.errors import DigestMismatchError, ImageNotFoundError, NotWasmError
from pytest_wasmcontainers.images import ImageCache, pull
from pytest_wasmcontainers.images.build import tar_bytes, write_oci_layout
from tests.support.oci_build import COMPONENT_HEADER


def test_oci_layout_dir_with_tags(tmp_path: Path, cache: ImageCache, module: bytes) -> None:
    layout = tmp_path / "layout"
    write_oci_layout(layout, module, tag="one", env={"N": "1"})
    write_oci_layout(layout, module, tag="two", env={"N": "2"}, index_with=["linux/amd64"], attestation=True)
    assert dict(pull(f"oci:{layout}:one", cache=cache).env) == {"N": "1"}
    two = pull(f"oci:{layout}:two", cache=cache)
    assert dict(two.env) == {"N": "2"} and two.index_digest is not None
    with pytest.raises(ImageNotFoundError, match="one, two"):
        pull(f"oci:{layout}", cache=cache)
    with pytest.raises(ImageNotFoundError, match="tag 'three'"):
        pull(f"oci:{layout}:three", cache=cache)


def test_oci_archive(tmp_path: Path, cache: ImageCache, module: bytes) -> None:
    layout = tmp_path / "layout"
    write_oci_layout(layout, module, tag="v1", index_with=["linux/arm64"])
    archive = tmp_path / "image.tar"
    with tarfile.open(archive, "w") as tf:
        tf.add(layout, arcname=".")
    img = pull(f"oci-archive:{archive}:v1", cache=cache)
    assert img.module_file.read_bytes() == module
    assert pull(f"oci-archive:{archive}", cache=cache).digest == img.digest


def test_oci_layout_with_tampered_blob(tmp_path: Path, cache: ImageCache, module: bytes) -> None:
    layout = tmp_path / "layout"
    write_oci_layout(layout, module, extra_files={"f": b"data" * 100})
    index = json.loads((layout / "index.json").read_text())
    manifest = json.loads(
        (layout / "blobs/sha256" / index["manifests"][0]["digest"].split(":")[1]).read_text()
    )
    layer = layout / "blobs/sha256" / manifest["layers"][0]["digest"].split(":")[1]
    raw = bytearray(layer.read_bytes())
    raw[20] ^= 1
    layer.write_bytes(bytes(raw))
    with pytest.raises(DigestMismatchError, match=manifest["layers"][0]["digest"]):
        pull(f"oci:{layout}", cache=cache)


def _docker_save(path: Path, module: bytes, *, tag: str = "app:v1") -> None:
    """The classic `docker save` format: <id>/layer.tar, <config>.json, manifest.json."""
    config = {
        "architecture": "wasm",
        "os": "wasi",
        "config": {"Entrypoint": ["/hello.wasm"], "Env": ["A=1"], "ExposedPorts": {"80/tcp": {}}},
        "rootfs": {"type": "layers", "diff_ids": []},
    }
    layer = tar_bytes({"hello.wasm": module})
    files = {
        "abc123/layer.tar": layer,
        "cfg123.json": json.dumps(config).encode(),
        "manifest.json": json.dumps(
            [{"Config": "cfg123.json", "RepoTags": [tag], "Layers": ["abc123/layer.tar"]}]
        ).encode(),
    }
    path.write_bytes(tar_bytes(files))


def test_docker_archive(tmp_path: Path, cache: ImageCache, module: bytes) -> None:
    archive = tmp_path / "saved.tar"
    _docker_save(archive, module)
    img = pull(f"docker-archive:{archive}", cache=cache)
    assert img.platform == "wasi/wasm"
    assert img.module_path == "/hello.wasm" and img.module_file.read_bytes() == module
    assert dict(img.env) == {"A": "1"} and img.exposed_ports == (80,)
    assert pull(f"docker-archive:{archive}:v1", cache=cache).digest == img.digest
    with pytest.raises(ImageNotFoundError, match="app:v1"):
        pull(f"docker-archive:{archive}:other", cache=cache)


def test_plain_wasm_file(tmp_path: Path, cache: ImageCache, module: bytes) -> None:
    wasm = tmp_path / "tool.wasm"
    wasm.write_bytes(module)
    img = pull(str(wasm), cache=cache)
    assert img.module_kind == "module" and img.rootfs is None
    assert img.module_path == "/tool.wasm" and img.argv == ("/tool.wasm",)
    assert img.module_file.read_bytes() == module and img.module_file.is_relative_to(cache.root)
    assert img.digest == img.module_digest
    comp = tmp_path / "comp.wasm"
    comp.write_bytes(COMPONENT_HEADER)
    assert pull(str(comp), cache=cache).module_kind == "component"


def test_not_wasm(tmp_path: Path, cache: ImageCache) -> None:
    bad = tmp_path / "bad.wasm"
    bad.write_bytes(b"#!/bin/sh\necho hi\n")
    with pytest.raises(NotWasmError, match="not a WebAssembly binary"):
        pull(str(bad), cache=cache)
    with pytest.raises(ImageNotFoundError, match="no such Wasm file"):
        pull(str(tmp_path / "missing.wasm"), cache=cache)


def test_image_whose_entrypoint_is_not_wasm(tmp_path: Path, cache: ImageCache, module: bytes) -> None:
    layout = tmp_path / "layout"
    write_oci_layout(layout, module, entrypoint=["/bin/sh"], extra_files={"bin/sh": b"\x7fELF..."})
    with pytest.raises(NotWasmError, match="/bin/sh"):
        pull(f"oci:{layout}", cache=cache)
    other = tmp_path / "layout2"
    write_oci_layout(other, module, entrypoint=["/missing.wasm"])
    with pytest.raises(NotWasmError, match="not a file in the image"):
        pull(f"oci:{other}", cache=cache)


def test_missing_layout(tmp_path: Path, cache: ImageCache) -> None:
    with pytest.raises(ImageNotFoundError, match="does not exist"):
        pull(f"oci:{tmp_path / 'nope'}", cache=cache)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ImageNotFoundError, match=r"no index\.json"):
        pull(f"oci:{tmp_path / 'empty'}", cache=cache)


def test_docker_archive_newer_layout(tmp_path: Path, cache: ImageCache, module: bytes) -> None:
    """Docker 25+ `docker save`: an OCI layout plus manifest.json whose paths are blobs/sha256/..."""
    layout = tmp_path / "layout"
    digest = write_oci_layout(layout, module, compression="none", env={"NEW": "1"})
    manifest = json.loads((layout / "blobs/sha256" / digest.split(":")[1]).read_text())
    (layout / "manifest.json").write_text(
        json.dumps(
            [
                {
                    "Config": "blobs/sha256/" + manifest["config"]["digest"].split(":")[1],
                    "RepoTags": ["app:new"],
                    "Layers": ["blobs/sha256/" + d["digest"].split(":")[1] for d in manifest["layers"]],
                }
            ]
        )
    )
    archive = tmp_path / "saved.tar"
    with tarfile.open(archive, "w") as tf:
        tf.add(layout, arcname=".")
    img = pull(f"docker-archive:{archive}", cache=cache)
    assert dict(img.env) == {"NEW": "1"} and img.module_file.read_bytes() == module


def test_unwritable_cache_dir(tmp_path: Path) -> None:
    from pytest_wasmcontainers.errors import ImageError

    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ImageError, match="WASMCONTAINERS_CACHE_DIR"):
        ImageCache(blocker / "cache")


def test_stale_partial_writes_are_swept(tmp_path: Path) -> None:
    import os

    ImageCache(tmp_path / "c")
    stale, fresh = tmp_path / "c/tmp/stale.1.x", tmp_path / "c/tmp/fresh.2.y"
    stale.mkdir()
    fresh.write_bytes(b"partial")
    os.utime(stale, (0, 0))
    ImageCache(tmp_path / "c")
    assert not stale.exists() and fresh.exists()
