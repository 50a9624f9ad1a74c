"""Hostile or broken images: layers with escaping, device or oversized entries, blobs that are not
tars, manifests and configs that lie or are malformed, modules that are not Wasm.

Each case is built as an OCI layout and pulled as ``oci:DIR``, and again from a registry serving the
same layout (the misbehaving registry in its well-behaved mode); those a real registry accepts are
also pushed to ``docker-registry``. A case survives when the pull ends in a clear error of ours (or,
for the few the design accepts, an image whose links stay inside the root), nothing is written
outside the cache, the cache holds no partial image or tmp file, and a good pull then works.
"""

from __future__ import annotations

import gzip
import json
import re
import sys
import tarfile
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import zstandard

from pytest_wasmcontainers.errors import (
    DigestMismatchError,
    ImageError,
    NotWasmError,
    UnsafeLayerError,
    WasmContainersError,
)
from pytest_wasmcontainers.images import ImageCache, WasmImage, pull
from pytest_wasmcontainers.images.build import push, write_oci_layout
from pytest_wasmcontainers.images.cache import digest_bytes
from tests.reliability.matrix import Row, record
from tests.reliability.misbehaving_registry import MisbehavingRegistry, cache_problems
from tests.support.oci_build import Entry, noop_module, raw_tar
from tests.support.registry import Registry, registry, registry_factory  # noqa: F401  (fixtures)

SECTION = "Hostile or broken images"
SYM, LNK = b"2", b"1"


@dataclass
class Ctx:
    module: bytes
    outside: Path
    """A host directory the image must not touch (absolute escapes aim here)."""
    escape: str
    """A relative escape target: '../' * 32 + this lands at the host's /."""


Build = Callable[[Path, Ctx], None]


@dataclass
class Case:
    name: str
    build: Build
    error: type[WasmContainersError] | None
    """None: the design accepts the image (its links are re-rooted); ``check`` looks inside."""
    says: str = ""
    check: Callable[[WasmImage, Ctx], str] | None = None


# --- building --------------------------------------------------------------------------------
def _layer(entries: Callable[[Ctx], list[Entry]]) -> Build:
    return lambda d, c: _write(d, c, extra_layers=[raw_tar(*entries(c))], compression="none")


def _blob_layer(data: Callable[[Ctx], bytes], compression: str = "none") -> Build:
    return lambda d, c: _write(d, c, extra_layers=[data(c)], compression=compression)


def _write(d: Path, c: Ctx, **kw: object) -> None:
    write_oci_layout(d, c.module, tag="v1", **kw)  # type: ignore[arg-type]


def _put(d: Path, data: bytes) -> dict[str, object]:
    digest = digest_bytes(data)
    (d / "blobs/sha256" / digest.split(":")[1]).write_bytes(data)
    return {"digest": digest, "size": len(data)}


def _retop(d: Path, body: bytes, media_type: str = "application/vnd.oci.image.manifest.v1+json") -> None:
    index = {"schemaVersion": 2, "manifests": [{"mediaType": media_type, **_put(d, body)}]}
    (d / "index.json").write_text(json.dumps(index))


def _top(d: Path) -> dict:  # type: ignore[type-arg]
    entry = json.loads((d / "index.json").read_text())["manifests"][0]
    return json.loads((d / "blobs/sha256" / entry["digest"].split(":")[1]).read_bytes())  # type: ignore[no-any-return]


def _edit(fn: Callable[[Path, dict], object], **kw: object) -> Build:  # type: ignore[type-arg]
    """A good layout whose manifest ``fn`` edits in place (digests of what it changes fixed up)."""

    def build(d: Path, c: Ctx) -> None:
        _write(d, c, **kw)
        doc = _top(d)
        out = fn(d, doc)
        _retop(d, out if isinstance(out, bytes) else json.dumps(doc).encode())

    return build


def _config(body: bytes) -> Build:
    return _edit(lambda d, m: m["config"].update(_put(d, body)))


def _inner_config(**fields: object) -> Build:
    def fn(d: Path, m: dict) -> None:  # type: ignore[type-arg]
        cfg = json.loads((d / "blobs/sha256" / m["config"]["digest"].split(":")[1]).read_bytes())
        cfg["config"].update(fields)
        m["config"].update(_put(d, json.dumps(cfg).encode()))

    return _edit(fn)


def _index_chain(depth: int) -> Build:
    def build(d: Path, c: Ctx) -> None:
        _write(d, c)
        entry = json.loads((d / "index.json").read_text())["manifests"][0]
        for _ in range(depth):
            plat = {"os": "wasi", "architecture": "wasm"}
            index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                     "manifests": [{**entry, "platform": plat}]}  # fmt: skip
            entry = {"mediaType": index["mediaType"], **_put(d, json.dumps(index).encode())}
        _retop(d, json.dumps(index).encode(), index["mediaType"])

    return build


def _self_index(d: Path, c: Ctx) -> None:
    """An index whose only entry is its own (claimed) digest: stored under that name, it cannot
    hash to it, and the claim is all a cycle can be made of."""
    _write(d, c)
    claimed = "sha256:" + "ab" * 32
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": [{"mediaType": "application/vnd.oci.image.index.v1+json", "digest": claimed,
                            "size": 300, "platform": {"os": "wasi", "architecture": "wasm"}}]}  # fmt: skip
    body = json.dumps(index).encode()
    (d / "blobs/sha256" / claimed.split(":")[1]).write_bytes(body)
    entry = {"mediaType": index["mediaType"], "digest": claimed, "size": len(body)}
    (d / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [entry]}))


def _pax(records: bytes, then: bytes = b"") -> bytes:
    """A tar whose first member is a raw PAX header with exactly these records."""
    info = tarfile.TarInfo("././@PaxHeader")
    info.type, info.size = tarfile.XHDTYPE, len(records)
    head = info.tobuf(tarfile.USTAR_FORMAT)
    pad = b"\0" * (-len(records) % 512)
    return head + records + pad + (then or raw_tar(Entry("x", data=b"x")))


def _gnu_long(size: int) -> bytes:
    """A GNU long-name header claiming ``size`` bytes of name (all zeros, so it compresses)."""
    info = tarfile.TarInfo("././@LongLink")
    info.type, info.size = tarfile.GNUTYPE_LONGNAME, size
    return info.tobuf(tarfile.GNU_FORMAT) + b"\0" * size + raw_tar(Entry("x", data=b"x"))


def _sparse(c: Ctx) -> bytes:
    """A PAX 1.0 sparse file: 3 bytes of data standing for a 64 MiB file of zeros."""
    recs = [("GNU.sparse.major", "1"), ("GNU.sparse.minor", "0"), ("GNU.sparse.name", "big"),
            ("GNU.sparse.realsize", str(64 << 20))]  # fmt: skip
    body = b"".join(_record(k, v) for k, v in recs)
    sparse_map = b"1\n" + str((64 << 20) - 3).encode() + b"\n3\n"
    data = sparse_map + b"\0" * (-len(sparse_map) % 512) + b"abc"
    info = tarfile.TarInfo("GNUSparseFile.0/big")
    info.size = len(data)
    entry = info.tobuf(tarfile.USTAR_FORMAT) + data + b"\0" * (-len(data) % 512)
    return _pax(body, entry + b"\0" * 1024)


def _zstd(data: bytes) -> bytes:
    return bytes(zstandard.ZstdCompressor().compress(data))


def _record(key: str, value: str) -> bytes:
    text = f" {key}={value}\n"
    n = len(text) + 1
    while len(str(n)) + len(text) != n:
        n += 1
    return f"{n}{text}".encode()


def _no_escape(image: WasmImage, c: Ctx) -> str:
    assert image.rootfs is not None
    inside = [str(p.relative_to(image.rootfs)) for p in image.rootfs.rglob("*")]
    return "" if any(str(c.outside).lstrip("/") in p for p in inside) else f"link not re-rooted: {inside}"


def _with_module_at(path: str, data: bytes) -> Build:
    return lambda d, c: _write(d, c, extra_files={path: data}, entrypoint=[f"/{path}"])


# fmt: off
ESC = "../" * 32
ELF = b"\x7fELF\x02\x01\x01\0" + b"\0" * 56
TAR_CASES = [
    Case("dotdot", _layer(lambda c: [Entry(ESC + c.escape, data=b"x")]), UnsafeLayerError, "contains '..'"),
    Case("absolute", _layer(lambda c: [Entry(str(c.outside / "abs"), data=b"x")]), UnsafeLayerError, "absolute"),
    Case("symlink-out", _layer(lambda c: [Entry("e", SYM, linkname=ESC + c.escape)]), UnsafeLayerError, "points outside"),
    Case("symlink-normalizes-out", _layer(lambda c: [Entry("d/e", SYM, linkname="x/../../../etc")]), UnsafeLayerError, "points outside"),
    Case("hardlink-out", _layer(lambda c: [Entry("e", LNK, linkname=ESC + c.escape)]), UnsafeLayerError, "points outside"),
    Case("hardlink-absolute", _layer(lambda c: [Entry("e", LNK, linkname=str(c.outside / "target"))]), UnsafeLayerError, "points outside"),
    Case("hardlink-to-directory", _layer(lambda c: [Entry("d", b"5"), Entry("e", LNK, linkname="d")]), UnsafeLayerError, "'e'.*directory"),
    Case("chardev", _layer(lambda c: [Entry("dev/null", b"3")]), UnsafeLayerError, "device or fifo"),
    Case("blockdev", _layer(lambda c: [Entry("dev/sda", b"4")]), UnsafeLayerError, "device or fifo"),
    Case("fifo", _layer(lambda c: [Entry("pipe", b"6")]), UnsafeLayerError, "device or fifo"),
    Case("whiteout-of-dotdot", _layer(lambda c: [Entry(".wh...")]), UnsafeLayerError, "whiteout"),
    Case("whiteout-of-dot", _layer(lambda c: [Entry("etc/.wh..")]), UnsafeLayerError, "whiteout"),
    Case("absolute-symlink-written-through", _layer(lambda c: [Entry("l", SYM, linkname=str(c.outside)), Entry("l/f", data=b"x")]), None, check=_no_escape),
    Case("module-symlinked-to-host", _layer(lambda c: [Entry("app.wasm", SYM, linkname=str(c.outside / "host.wasm"))]), NotWasmError, "is not a file in the image"),
    Case("name-255+", _layer(lambda c: [Entry("n" * 300, data=b"x")]), ImageError, "'n{300}'.*too long"),
    Case("path-over-PATH_MAX", _layer(lambda c: [Entry("d/" * 3000 + "f", data=b"x")]), ImageError, "too long"),
    # Python 3.13's tarfile refuses the record itself; older ones read on and smuggle a NUL byte
    Case(
        "pax-absurd-record-length",
        _blob_layer(lambda c: _pax(b"99999999999 path=x\n")),
        UnsafeLayerError if sys.version_info < (3, 13) else ImageError,
        "contains a NUL byte" if sys.version_info < (3, 13) else "not a readable tar",
    ),
    Case("pax-absurd-size", _blob_layer(lambda c: _pax(_record("size", str(10**15)))), ImageError, "not a readable tar"),
    Case("pax-header-64MiB", _blob_layer(lambda c: _pax(_record("comment", "z" * (64 << 20))), "gzip"), UnsafeLayerError, "header of \\d+ bytes"),
    Case("gnu-longname-64MiB", _blob_layer(lambda c: _gnu_long(64 << 20), "gzip"), UnsafeLayerError, "header of \\d+ bytes"),
    Case("sparse-file", _blob_layer(_sparse), UnsafeLayerError, "sparse"),
]
BLOB_CASES = [
    Case("not-a-tar", _blob_layer(lambda c: b"hello, I am not a tar archive" * 40), ImageError, "not a readable tar"),
    Case("not-gzip", _blob_layer(lambda c: b"\x1f\x8b\x08\0garbage that claims to be gzip" * 20), ImageError, "not a readable tar"),
    Case("truncated-gzip", _blob_layer(lambda c: gzip.compress(raw_tar(Entry("f", data=bytes(range(256)) * 64)))[:300]), ImageError, "not a readable tar"),
    Case("truncated-zstd", _blob_layer(lambda c: _zstd(raw_tar(Entry("f", data=bytes(range(256)) * 64)))[:300]), ImageError, "not a readable tar"),
    Case("empty-blob", _blob_layer(lambda c: b""), ImageError, "not a readable tar"),
    Case("layer-of-unknown-media-type", _edit(lambda d, m: m["layers"][0].update(mediaType="application/x-unknown")), ImageError, "neither a tar layer nor Wasm"),
]
MODULE_CASES = [
    Case("elf", _with_module_at("bin/app.wasm", ELF), NotWasmError, "7f 45 4c 46"),
    Case("text", _with_module_at("app.txt", b"#!/bin/sh\necho hi\n"), NotWasmError, "not a WebAssembly binary"),
    Case("empty", _with_module_at("e.wasm", b""), NotWasmError, "first bytes: empty"),
    Case("magic-only", _with_module_at("m.wasm", b"\0asm"), NotWasmError, "not a WebAssembly binary"),
    Case("unknown-version", _with_module_at("v.wasm", b"\0asm\x02\0\0\0"), NotWasmError, "unknown WebAssembly binary version"),
    Case("entrypoint-is-a-directory", lambda d, c: _write(d, c, extra_files={"dir/f": b"x"}, entrypoint=["/dir"]), NotWasmError, "not a file"),
    Case("artifact-holding-an-elf", _edit(lambda d, m: m["layers"][0].update(_put(d, ELF)), kind="wasm-artifact"), NotWasmError, "7f 45 4c 46"),
]
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST_CASES = [
    Case("manifest-truncated-json", _edit(lambda d, m: json.dumps(m).encode()[:-40]), ImageError, "not valid JSON"),
    Case("manifest-is-a-list", _edit(lambda d, m: b"[1, 2]"), ImageError, "not a JSON object"),
    Case("manifest-unknown-media-type", _edit(lambda d, m: m.update(mediaType="application/vnd.example.thing+json")), ImageError, "media type 'application/vnd.example.thing"),
    Case("manifest-claims-to-be-an-index", _edit(lambda d, m: m.update(mediaType=OCI_INDEX)), ImageError, "index .* no .manifests. list"),
    Case("schema1-manifest", _edit(lambda d, m: m.update(schemaVersion=1, mediaType="application/vnd.docker.distribution.manifest.v1+prettyjws")), ImageError, "schema 1"),
    Case("index-pointing-at-itself", _self_index, DigestMismatchError, "hashes to"),
    Case("indexes-nested-5-deep", _index_chain(5), ImageError, "nested too deep"),
    Case("index-entry-without-digest", _edit(lambda d, m: json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [{"size": 3, "platform": {"os": "wasi", "architecture": "wasm"}}]}).encode()), ImageError, "descriptor .*digest"),
    Case("index-platform-not-an-object", _edit(lambda d, m: json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [{"digest": "sha256:" + "0" * 64, "size": 3, "platform": "wasi/wasm"}]}).encode()), ImageError, "platform"),
    Case("layer-size-bigger-than-blob", _edit(lambda d, m: m["layers"][0].update(size=m["layers"][0]["size"] + 100)), DigestMismatchError, "ended after \\d+ of the"),
    Case("layer-size-smaller-than-blob", _edit(lambda d, m: m["layers"][0].update(size=m["layers"][0]["size"] - 100)), DigestMismatchError, "larger than"),
    Case("layer-size-not-a-number", _edit(lambda d, m: m["layers"][0].update(size="12")), ImageError, "descriptor .*size"),
    Case("layer-size-negative", _edit(lambda d, m: m["layers"][0].update(size=-1)), ImageError, "descriptor .*size"),
    Case("layer-digest-malformed", _edit(lambda d, m: m["layers"][0].update(digest="sha256:XYZ")), ImageError, "malformed digest"),
    Case("layer-digest-unknown-algorithm", _edit(lambda d, m: m["layers"][0].update(digest="md5:" + "0" * 32)), ImageError, "malformed digest"),
    Case("layer-without-digest", _edit(lambda d, m: m["layers"][0].pop("digest")), ImageError, "descriptor .*digest"),
    Case("layers-not-a-list", _edit(lambda d, m: m.update(layers={"a": 1})), ImageError, "layers"),
    Case("manifest-without-config", _edit(lambda d, m: m.pop("config")), ImageError, "has no config"),
    Case("config-descriptor-a-string", _edit(lambda d, m: m.update(config="sha256:" + "0" * 64)), ImageError, "config"),
    Case("config-not-json", _config(b"\x00\x01 not json"), ImageError, "config of .* not valid JSON"),
    Case("config-a-list", _config(b"[]"), ImageError, "config of .* not a JSON object"),
    Case("config-exposed-ports-not-numbers", _inner_config(ExposedPorts={"http/tcp": {}}), ImageError, "ExposedPorts"),
    Case("config-entrypoint-a-string", _inner_config(Entrypoint="/app.wasm"), ImageError, "Entrypoint"),
    Case("config-env-an-object", _inner_config(Env={"A": "1"}), ImageError, "Env"),
    Case("config-labels-a-list", _inner_config(Labels=["a"]), ImageError, "Labels"),
    Case("layout-index-truncated", lambda d, c: (_write(d, c), (d / "index.json").write_text('{"manifests": [')), ImageError, "index.json .*not valid JSON"),
    Case("layout-blob-missing", lambda d, c: (_write(d, c), (d / "blobs/sha256" / _top(d)["layers"][0]["digest"][7:]).unlink()), ImageError, "missing blobs/sha256"),
]
# fmt: on


@pytest.fixture
def ctx(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Ctx]:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "target").write_text("host file")
    c = Ctx(noop_module(request.node.nodeid), outside, f"wasmc-escape-{uuid.uuid4().hex[:12]}")
    (outside / "host.wasm").write_bytes(c.module)
    yield c
    assert not Path("/", c.escape).exists()


def _snapshot(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def _survives(case: Case, ref: str, cache: ImageCache, c: Ctx, good_ref: str) -> str:
    """'' when the case survived, else what was lost."""
    before = _snapshot(c.outside)
    images_before = {p.name for p in (cache.root / "images").iterdir()}
    tracemalloc.start()  # the pull alone: a header read whole would show here
    try:
        image = pull(ref, cache=cache)
    except WasmContainersError as err:
        if case.error is None or not isinstance(err, case.error):
            return f"wrong error {type(err).__name__}: {err}"[:200]
        if not re.search(case.says, str(err), re.S | re.I):
            return f"unclear message: {err}"[:200]
    except Exception as err:
        return f"crash {type(err).__name__}: {err}"[:200]
    else:
        if case.error is not None:
            return "pulled without an error"
        if case.check and (why := case.check(image, c)):
            return why
        images_before.add(image.digest.split(":")[1])
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    problems = cache_problems(cache, images_before)
    if peak > 16 << 20:
        problems.append(f"held {peak >> 20} MiB in memory")
    if _snapshot(c.outside) != before or Path("/", c.escape).exists():
        problems.append("wrote outside the cache")
    try:
        if pull(good_ref, cache=cache).module_file.read_bytes() != c.module:
            problems.append("a later good pull gave another module")
    except Exception as err:
        problems.append(f"a later good pull failed: {err}")
    return "; ".join(problems)


def _run(title: str, cases: list[Case], tmp_path: Path, c: Ctx, via: str, reg: str = "") -> None:
    server = MisbehavingRegistry() if via == "registry" else None
    lost: dict[str, str] = {}
    try:
        for case in cases:
            layout = tmp_path / f"{via}-{case.name}"
            case.build(layout, c)
            good = tmp_path / f"good-{via}-{case.name}"
            _write(good, c)
            cache = ImageCache(tmp_path / f"cache-{via}-{case.name}")
            if server is not None:
                server.load(layout, "bad")
                for blob in (good / "blobs/sha256").iterdir():
                    server.blobs[f"sha256:{blob.name}"] = blob.read_bytes()
                top = json.loads((good / "index.json").read_text())["manifests"][0]
                server.manifests["good"] = (server.blobs[top["digest"]], top["mediaType"])
                ref, good_ref = f"{server.host}/test/app:bad", f"{server.host}/test/app:good"
            elif via == "docker-registry":
                repo = re.sub(r"[^a-z0-9]+", "-", case.name.lower()).strip("-")
                ref, good_ref = f"{reg}/hostile/{repo}:v1", f"{reg}/hostile/good:v1"
                push(layout, ref)
                push(good, good_ref)
            else:
                ref, good_ref = f"oci:{layout}", f"oci:{good}"
            if why := _survives(case, ref, cache, c, good_ref):
                lost[case.name] = why
    finally:
        if server is not None:
            server.close()
    record(
        Row(
            SECTION,
            title,
            len(cases),
            len(cases) - len(lost),
            "; ".join(f"{k}: {v}" for k, v in lost.items())[:400] or "nothing",
        )
    )
    assert not lost, lost


@pytest.mark.parametrize("via", ["oci", "registry"])
def test_hostile_tar_entries(via: str, tmp_path: Path, ctx: Ctx) -> None:
    title = "hostile tar entries ({}): traversal, links out, devices, fifo, whiteouts of . and .., long names, 64 MiB PAX/GNU headers, sparse"
    _run(title.format(via), TAR_CASES, tmp_path, ctx, via)


@pytest.mark.parametrize("via", ["oci", "registry"])
def test_broken_layer_blobs(via: str, tmp_path: Path, ctx: Ctx) -> None:
    _run(
        f"broken layer blobs ({via}): not a tar, not gzip, truncated gzip/zstd, empty, unknown media type",
        BLOB_CASES,
        tmp_path,
        ctx,
        via,
    )


@pytest.mark.parametrize("via", ["oci", "registry"])
def test_broken_manifests_and_configs(via: str, tmp_path: Path, ctx: Ctx) -> None:
    cases = [c for c in MANIFEST_CASES if via == "oci" or not c.name.startswith("layout-")]
    _run(
        f"broken manifests, indexes and configs ({via}): bad JSON, unknown media types, self-reference, lying sizes, missing or mistyped fields",
        cases,
        tmp_path,
        ctx,
        via,
    )


@pytest.mark.parametrize("via", ["oci", "registry"])
def test_modules_that_are_not_wasm(via: str, tmp_path: Path, ctx: Ctx) -> None:
    _run(
        f"modules that are not Wasm ({via}): ELF, text, empty, magic only, unknown version, a directory",
        MODULE_CASES,
        tmp_path,
        ctx,
        via,
    )


@pytest.mark.slow
def test_hostile_images_from_a_real_registry(registry: Registry, tmp_path: Path, ctx: Ctx) -> None:  # noqa: F811
    cases = [c for c in TAR_CASES + BLOB_CASES + MODULE_CASES if "64MiB" not in c.name]
    _run(
        "hostile layers and modules pushed to docker-registry and pulled back",
        cases,
        tmp_path,
        ctx,
        "docker-registry",
        registry.host,
    )
