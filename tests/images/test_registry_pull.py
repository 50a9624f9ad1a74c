"""Pull every image shape from a real registry (CNCF distribution on loopback)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable

import pytest

from pytest_wasmcontainers.errors import (
    DigestMismatchError,
    ImageNotFoundError,
    PlatformNotFoundError,
    RegistryError,
)
from pytest_wasmcontainers.images import ImageCache, PullProgress, pull
from pytest_wasmcontainers.images.build import tar_bytes
from tests.support.oci_build import COMPONENT_HEADER, Entry, raw_tar
from tests.support.registry import Registry, free_port

Publish = Callable[..., str]


def test_index_with_linux_and_wasi_entries_picks_wasi(
    publish: Publish, cache: ImageCache, module: bytes
) -> None:
    ref = publish(
        index_with=["linux/amd64", "linux/arm64"],
        attestation=True,
        cmd=["--port", "8080"],
        env={"GREETING": "hi"},
        working_dir="/srv",
        exposed_ports=[8080, 9090],
        labels={"org.x": "y"},
    )
    img = pull(ref, cache=cache)
    assert img.platform == "wasi/wasm"
    assert img.index_digest is not None and img.index_digest != img.digest
    assert img.module_path == "/app.wasm"
    assert img.module_file.read_bytes() == module
    assert img.module_kind == "module"
    assert img.argv == ("/app.wasm", "--port", "8080")
    assert dict(img.env) == {"GREETING": "hi"}
    assert img.working_dir == "/srv"
    assert img.exposed_ports == (8080, 9090)
    assert img.labels == {"org.x": "y"}
    assert img.rootfs is not None and (img.rootfs / "app.wasm").is_file()


def test_docker_manifest_list(publish: Publish, cache: ImageCache, module: bytes) -> None:
    ref = publish(docker_schema2=True, index_with=["linux/amd64"], platform="wasip1/wasm32")
    img = pull(ref, cache=cache)
    assert img.platform == "wasip1/wasm32"
    assert img.module_file.read_bytes() == module


def test_single_manifest_with_relative_entrypoint(publish: Publish, cache: ImageCache) -> None:
    ref = publish(module_name="bin/hello.wasm", entrypoint=["hello.wasm"], working_dir="/bin")
    img = pull(ref, cache=cache)
    assert img.index_digest is None
    assert img.module_path == "/bin/hello.wasm"
    assert img.argv == ("hello.wasm",)


def test_relative_entrypoint_falls_back_to_root(publish: Publish, cache: ImageCache) -> None:
    ref = publish(module_name="hello.wasm", entrypoint=["hello.wasm"], working_dir="/data")
    assert pull(ref, cache=cache).module_path == "/hello.wasm"


def test_wasm_artifact(publish: Publish, cache: ImageCache, module: bytes) -> None:
    img = pull(publish(kind="wasm-artifact", module_name="svc.wasm"), cache=cache)
    assert img.platform == "wasip1/wasm"
    assert img.rootfs is None
    assert img.module_path == "/svc.wasm"
    assert img.argv == ("/svc.wasm",)
    assert img.module_file.read_bytes() == module


def test_component_layer_is_told_apart_from_a_module(publish: Publish, cache: ImageCache) -> None:
    img = pull(
        publish(kind="component-layer", module=COMPONENT_HEADER, extra_files={"etc/conf": b"x"}), cache=cache
    )
    assert img.module_kind == "component"
    assert img.module_file.read_bytes() == COMPONENT_HEADER
    assert img.rootfs is not None and (img.rootfs / "etc/conf").read_bytes() == b"x"


def test_layers_applied_in_order_with_whiteouts(publish: Publish, cache: ImageCache) -> None:
    base = {"etc/keep": b"1", "etc/gone": b"2", "data/a": b"a", "data/b": b"b", "old/x": b"x"}
    upper = raw_tar(
        Entry("etc/.wh.gone"),
        Entry("data/c", data=b"c-from-upper"),  # same layer as the opaque marker: must survive it
        Entry("data/.wh..wh..opq"),
        Entry(".wh.old"),
        Entry("etc/keep", data=b"overwritten"),
    )
    top = tar_bytes({"data/d": b"d"})
    img = pull(publish(extra_files=base, extra_layers=[upper, top], compression="zstd"), cache=cache)
    root = img.rootfs
    assert root is not None
    assert (root / "etc/keep").read_bytes() == b"overwritten"
    assert not (root / "etc/gone").exists()
    assert sorted(p.name for p in (root / "data").iterdir()) == ["c", "d"]
    assert not (root / "old").exists()
    assert not list(root.rglob(".wh.*"))


def test_uncompressed_layers(publish: Publish, cache: ImageCache, module: bytes) -> None:
    assert pull(publish(compression="none"), cache=cache).module_file.read_bytes() == module


def test_second_pull_is_served_from_cache_without_any_request(
    publish: Publish, cache: ImageCache, registry: Registry
) -> None:
    ref = publish(index_with=["linux/amd64"])
    repo = ref.split("/", 1)[1].split(":")[0]
    before = registry.requests_matching(repo)
    first = pull(ref, cache=cache)
    after_first = registry.requests_matching(repo)
    second = pull(ref, cache=cache)
    assert registry.requests_matching(repo) == after_first > before
    assert registry.requests_matching(f"GET /v2/{repo}/blobs/") == 2  # config + layer, once each
    assert first.pull_stats is not None and not first.pull_stats.cache_hit
    assert first.pull_stats.bytes_downloaded > 0
    assert second.pull_stats is not None and second.pull_stats.cache_hit
    assert second.pull_stats.bytes_downloaded == 0
    assert second == first


def test_cached_image_works_offline_and_policy_always_asks_again(
    registry_factory, tmp_path, module: bytes, publish: Publish
) -> None:
    own = registry_factory()
    ref = publish(target=own)
    cache = ImageCache(tmp_path / "c")
    first = pull(ref, cache=cache)
    own.stop()
    assert pull(ref, cache=cache, policy="never") == first
    assert pull(ref, cache=cache) == first
    with pytest.raises(RegistryError, match="cannot reach registry"):
        pull(ref, cache=cache, policy="always")


def test_policy_always_follows_a_moved_tag(publish: Publish, cache: ImageCache, registry: Registry) -> None:
    ref = publish("test/moving", env={"V": "1"})
    assert dict(pull(ref, cache=cache).env) == {"V": "1"}
    publish("test/moving", env={"V": "2"})
    assert dict(pull(ref, cache=cache).env) == {"V": "1"}
    assert dict(pull(ref, cache=cache, policy="always").env) == {"V": "2"}
    assert dict(pull(ref, cache=cache).env) == {"V": "2"}


def test_pull_by_digest(publish: Publish, cache: ImageCache) -> None:
    ref = publish(index_with=["linux/amd64"])
    img = pull(ref, cache=cache)
    by_digest = pull(
        f"{ref.rsplit(':', 1)[0]}@{img.index_digest}", cache=ImageCache(cache.root.parent / "c2")
    )
    assert by_digest.digest == img.digest


def test_policy_never_on_empty_cache(publish: Publish, cache: ImageCache) -> None:
    with pytest.raises(ImageNotFoundError, match="pull policy is 'never'"):
        pull(publish(), cache=cache, policy="never")


def test_unknown_policy(cache: ImageCache) -> None:
    with pytest.raises(Exception, match="unknown pull policy 'sometimes'"):
        pull("localhost:1/x:y", cache=cache, policy="sometimes")


def test_no_wasi_entry_lists_the_platforms(
    publish: Publish, cache: ImageCache, registry: Registry, tmp_path
) -> None:
    # A linux-only image: push a layout whose index holds only linux entries.
    from pytest_wasmcontainers.images.build import push

    ref = publish(index_with=["linux/amd64", "linux/arm64"], attestation=True)
    layout = next(p for p in tmp_path.iterdir() if p.name.startswith("layout-"))
    index_entry = json.loads((layout / "index.json").read_text())["manifests"][0]
    index_file = layout / "blobs/sha256" / index_entry["digest"].split(":")[1]
    index = json.loads(index_file.read_text())
    index["manifests"] = [m for m in index["manifests"] if m["platform"]["os"] != "wasi"]
    linux_only = layout.parent / "linux-only"
    import shutil

    shutil.copytree(layout, linux_only)
    data = json.dumps(index).encode()
    from pytest_wasmcontainers.images.cache import digest_bytes

    d = digest_bytes(data)
    (linux_only / "blobs/sha256" / d.split(":")[1]).write_bytes(data)
    top = json.loads((linux_only / "index.json").read_text())
    top["manifests"][0].update(digest=d, size=len(data))
    (linux_only / "index.json").write_text(json.dumps(top))
    linux_ref = ref.replace(":v1", ":linux")
    push(linux_only, linux_ref)
    with pytest.raises(PlatformNotFoundError) as err:
        pull(linux_ref, cache=cache)
    msg = str(err.value)
    assert "linux/amd64" in msg and "linux/arm64" in msg and "attestation" in msg


def test_unknown_repository_and_tag(publish: Publish, cache: ImageCache, registry: Registry) -> None:
    ref = publish()
    with pytest.raises(ImageNotFoundError, match="HTTP 404"):
        pull(ref.replace(":v1", ":nope"), cache=cache)
    with pytest.raises(ImageNotFoundError, match="HTTP 404"):
        pull(f"{registry.host}/no/such:v1", cache=cache)


def test_corrupted_blob_in_registry_storage_is_caught(
    publish: Publish, cache: ImageCache, registry: Registry
) -> None:
    ref = publish(extra_files={"big": b"z" * 5000})
    # Find the layer via the manifest the registry serves, then flip bytes in its stored data.
    repo, tag = ref.split("/", 1)[1].split(":")
    import requests

    manifest = requests.get(
        f"{registry.url}/v2/{repo}/manifests/{tag}",
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
        timeout=10,
    ).json()
    layer = manifest["layers"][0]["digest"]
    data = registry.blob_data(layer)
    raw = bytearray(data.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    data.write_bytes(bytes(raw))
    with pytest.raises(DigestMismatchError, match=layer):
        pull(ref, cache=cache)
    assert not cache.has_blob(layer)
    assert not list((cache.root / "tmp").iterdir()), "partial download left behind"


def test_registry_that_is_down(cache: ImageCache) -> None:
    with pytest.raises(RegistryError, match=r"cannot reach registry 127\.0\.0\.1"):
        pull(f"127.0.0.1:{free_port()}/app:v1", cache=cache)


def test_progress_events(publish: Publish, cache: ImageCache) -> None:
    events: list[PullProgress] = []
    ref = publish(extra_files={"blob": os.urandom(300_000)})
    pull(ref, cache=cache, progress=events.append)
    assert events and all(e.reference == ref for e in events)
    last = {e.digest: e for e in events}
    assert all(e.done == e.total for e in last.values())
    assert max(e.total or 0 for e in events) > 100_000


def test_artifact_pushed_by_oras(registry: Registry, tmp_path, module: bytes, cache: ImageCache) -> None:
    """`oras push hello.wasm:application/wasm README.md:text/markdown`, as oras-py's client does it."""
    import oras.client

    (tmp_path / "hello.wasm").write_bytes(module)
    (tmp_path / "README.md").write_text("# hello\n")
    ref = f"{registry.host}/oras/hello:v1"
    client = oras.client.OrasClient(hostname=registry.host, insecure=True)
    cwd = os.getcwd()
    os.chdir(tmp_path)  # oras titles layers by the path as given
    try:
        client.push(files=["hello.wasm:application/wasm", "README.md:text/markdown"], target=ref)
    finally:
        os.chdir(cwd)
    img = pull(ref, cache=cache)
    assert img.module_path == "/hello.wasm" and img.module_file.read_bytes() == module
    assert img.platform == "wasip1/wasm" and img.module_kind == "module"


def test_digest_reference_is_served_from_cache_under_any_name(
    publish: Publish, cache: ImageCache, registry: Registry
) -> None:
    ref = publish(index_with=["linux/amd64"])
    img = pull(ref, cache=cache)
    repo = ref.rsplit(":", 1)[0]
    before = len(registry.access_log())
    for digest in (img.index_digest, img.digest):
        again = pull(f"{repo}@{digest}", cache=cache, policy="never")
        assert again.digest == img.digest and again.pull_stats is not None and again.pull_stats.cache_hit
    assert len(registry.access_log()) == before
    with pytest.raises(ImageNotFoundError, match="policy is 'never'"):
        pull(f"{repo}@sha256:{'0' * 64}", cache=cache, policy="never")
