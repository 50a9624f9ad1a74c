"""Docker semantics of container settings: argv, env, ports, volumes, memory."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pytest_wasmcontainers.container import (
    ContainerConfigError,
    ContainerSettings,
    module_for,
    parse_env,
    parse_memory,
    parse_ports,
    parse_volumes,
    resolve_argv,
    run_spec,
)
from pytest_wasmcontainers.images.image import WasmImage
from pytest_wasmcontainers.runtime.spec import Mount

WASM_HEADER = b"\0asm\x01\0\0\0"


@pytest.fixture
def image(tmp_path: Path) -> WasmImage:
    root = tmp_path / "rootfs"
    (root / "bin").mkdir(parents=True)
    (root / "app.wasm").write_bytes(WASM_HEADER)
    (root / "bin" / "tool.wasm").write_bytes(WASM_HEADER)
    (root / "README").write_text("not wasm")
    return WasmImage(
        reference="reg.example/app:1",
        digest="sha256:" + "0" * 64,
        platform="wasi/wasm32",
        module_file=root / "app.wasm",
        module_path="/app.wasm",
        module_kind="module",
        module_digest="sha256:" + "1" * 64,
        entrypoint=("/app.wasm",),
        cmd=("serve", "--fast"),
        env=(("PORT", "8080"), ("MODE", "prod")),
        working_dir="/",
        exposed_ports=(8080,),
        rootfs=root,
    )


def test_command_replaces_cmd_and_keeps_entrypoint(image: WasmImage) -> None:
    assert resolve_argv(image, None, None) == ("/app.wasm", "serve", "--fast")
    assert resolve_argv(image, ["echo", "a b"], None) == ("/app.wasm", "echo", "a b")
    assert resolve_argv(image, "echo 'a b'", None) == ("/app.wasm", "echo", "a b")
    assert resolve_argv(image, [], None) == ("/app.wasm",)


def test_entrypoint_replaces_entrypoint_and_clears_cmd(image: WasmImage) -> None:
    assert resolve_argv(image, None, ["/bin/tool.wasm"]) == ("/bin/tool.wasm",)
    assert resolve_argv(image, ["x"], "/bin/tool.wasm -v") == ("/bin/tool.wasm", "-v", "x")


def test_the_program_must_be_a_wasm_module_in_the_image(image: WasmImage) -> None:
    assert module_for(image, "/app.wasm", "/") == image.module_file
    assert module_for(image, "bin/tool.wasm", "/") == image.rootfs / "bin" / "tool.wasm"  # type: ignore[operator]
    with pytest.raises(
        ContainerConfigError, match=r"'/README' in image reg\.example/app:1 is not a WebAssembly"
    ):
        module_for(image, "/README", "/")
    with pytest.raises(ContainerConfigError, match=r"the program 'serve' .* is not in image"):
        module_for(image, "serve", "/")
    with pytest.raises(ContainerConfigError, match="is not in image"):
        module_for(image, "../../../etc/passwd", "/")


def test_env_is_merged_over_the_image_env(image: WasmImage) -> None:
    spec = run_spec(image, ContainerSettings(image.reference, env={"MODE": "test", "N": 3}), "c1")  # type: ignore[dict-item]
    assert spec.env == {"PORT": "8080", "MODE": "test", "N": "3"}
    assert parse_env(["A=1", "B=x=y"]) == {"A": "1", "B": "x=y"}
    with pytest.raises(ContainerConfigError, match="'A' is not KEY=VALUE"):
        parse_env(["A"])


def test_ports_forms(image: WasmImage) -> None:
    assert parse_ports({8080: None, "9090/tcp": 0, 7000: 17000}) == {8080: None, 9090: None, 7000: 17000}
    assert parse_ports([8080, "81"]) == {8080: None, 81: None}
    for bad, message in [
        ({"53/udp": None}, "only TCP"),
        ({70000: None}, "1..65535"),
        ({"http": None}, "not a number"),
        ({8080: -1}, "host port for container port 8080"),
        ("8080", "mapping or a list"),
    ]:
        with pytest.raises(ContainerConfigError, match=re.escape(message)):
            parse_ports(bad)  # type: ignore[arg-type]


def test_volumes_forms(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    assert parse_volumes({str(data): "/data"}) == [Mount(data, "/data", False)]
    assert parse_volumes({data: ("/data", "ro")}) == [Mount(data, "/data", True)]
    assert parse_volumes({data: {"bind": "/d", "mode": "ro"}}) == [Mount(data, "/d", True)]
    assert parse_volumes([Mount(data, "/m")]) == [Mount(data, "/m")]
    with pytest.raises(ContainerConfigError, match="does not exist"):
        parse_volumes({tmp_path / "missing": "/x"})
    with pytest.raises(ContainerConfigError, match="must be absolute"):
        parse_volumes({data: "relative"})
    with pytest.raises(ContainerConfigError, match="mode must be 'ro' or 'rw'"):
        parse_volumes({data: ("/data", "rx")})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (1 << 20, 1 << 20),
        ("64m", 64 << 20),
        ("1g", 1 << 30),
        ("512K", 512 << 10),
        ("64MiB", 64 << 20),
        ("100", 100),
        ("2mb", 2 << 20),
    ],
)
def test_memory_limit_units(value: int | str | None, expected: int | None) -> None:
    assert parse_memory(value) == expected


@pytest.mark.parametrize("value", ["64x", "-1", "m", 0, True, 1.5])
def test_memory_limit_errors(value: object) -> None:
    with pytest.raises(ContainerConfigError, match="memory_limit"):
        parse_memory(value)  # type: ignore[arg-type]
