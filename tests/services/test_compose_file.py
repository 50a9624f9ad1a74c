"""Loading compose files: what is honoured, and clear errors for what is not (no Docker needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_wasmcontainers.errors import ComposeError
from pytest_wasmcontainers.services.compose import interpolate, is_wasm_service, load_compose


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "docker-compose.yml"
    path.write_text(text)
    return path


WALKTHROUGH = """
services:
  client:
    image: nginx:alpine
    ports:
      - 8090:80
    volumes:
      - ./client:/usr/share/nginx/html
  server:
    image: demo-microservice
    platform: wasi/wasm
    build:
      context: .
    ports:
      - 8080:8080
    environment:
      DATABASE_URL: mysql://root:whalehello@db:3306/mysql
      RUST_BACKTRACE: full
    restart: unless-stopped
    runtime: io.containerd.wasmedge.v1
  db:
    image: mariadb:10.9
    environment:
      MYSQL_ROOT_PASSWORD: whalehello
"""


def test_build_for_a_wasm_service_names_key_and_service(tmp_path):
    (tmp_path / "client").mkdir()
    with pytest.raises(ComposeError) as info:
        load_compose(write(tmp_path, WALKTHROUGH))
    text = str(info.value)
    assert "'server'" in text and "'build'" in text and "Wasm service" in text
    assert "--wasm-compose-image" in text


def test_the_walkthrough_file_without_build_and_volumes(tmp_path):
    (tmp_path / "client").mkdir()
    text = WALKTHROUGH.replace("    build:\n      context: .\n", "")
    compose = load_compose(write(tmp_path, text))
    server = compose.services["server"]
    assert server.wasm and not compose.services["db"].wasm and not compose.services["client"].wasm
    assert server.environment == {
        "DATABASE_URL": "mysql://root:whalehello@db:3306/mysql",
        "RUST_BACKTRACE": "full",
    }
    assert server.ports == {8080: 8080}
    assert compose.services["client"].ports == {80: 8090}
    assert compose.name == tmp_path.name.lower().replace(".", "")


def test_bind_mounts_relative_to_the_file_and_named_volumes_refused(tmp_path):
    (tmp_path / "client").mkdir()
    compose = load_compose(write(tmp_path, WALKTHROUGH.replace("    build:\n      context: .\n", "")))
    assert compose.services["client"].volumes == {
        (tmp_path / "client").resolve(): ("/usr/share/nginx/html", "rw")
    }
    with pytest.raises(ComposeError, match=r"service 'db'.*named volumes are not supported"):
        load_compose(
            write(tmp_path, "services:\n  db:\n    image: x\n    volumes: ['data:/var/lib/mysql']\n")
        )
    with pytest.raises(ComposeError, match="does not exist"):
        load_compose(write(tmp_path, "services:\n  db:\n    image: x\n    volumes: ['./nope:/x:ro']\n"))


@pytest.mark.parametrize(
    ("spec", "wasm"),
    [
        ({"platform": "wasi/wasm"}, True),
        ({"platform": "wasi/wasm32"}, True),
        ({"runtime": "io.containerd.wasmedge.v1"}, True),
        ({"runtime": "io.containerd.wasmtime.v1"}, True),
        ({"runtime": "io.containerd.spin.v2"}, True),
        ({"runtime": "io.containerd.slight.v1"}, True),
        ({"runtime": "io.containerd.runc.v2"}, False),
        ({"platform": "linux/amd64"}, False),
        ({}, False),
    ],
)
def test_which_services_are_wasm(spec, wasm):
    assert is_wasm_service(spec) is wasm


def test_environment_forms_ports_and_depends_on(tmp_path, monkeypatch):
    monkeypatch.setenv("FROM_HOST", "host-value")
    monkeypatch.delenv("NOT_SET", raising=False)
    compose = load_compose(
        write(
            tmp_path,
            """
name: forms
services:
  a:
    image: x
    environment: ["A=1", "B=two=2", "FROM_HOST", "NOT_SET"]
    ports: ["80", "127.0.0.1:8081:81", {target: 82, published: 8082}, "83/tcp"]
    expose: [9000]
    depends_on: [b]
  b:
    image: "y:${TAG:-latest}"
    environment: {N: 5, T: true, E: "", FROM_HOST: null, ESC: "$$HOME"}
    depends_on:
      c: {condition: service_healthy}
  c:
    image: z
    healthcheck: {test: ["CMD", "true"], interval: 1s, retries: 3}
""",
        )
    )
    a, b = compose.services["a"], compose.services["b"]
    assert a.environment == {"A": "1", "B": "two=2", "FROM_HOST": "host-value"}
    assert a.ports == {80: None, 81: 8081, 82: 8082, 83: None}
    assert a.expose == [9000]
    assert a.depends_on == {"b": "service_started"}
    assert b.image == "y:latest"
    assert b.environment == {"N": "5", "T": "true", "E": "", "FROM_HOST": "host-value", "ESC": "$HOME"}
    assert b.depends_on == {"c": "service_healthy"}
    assert compose.start_order() == ["c", "b", "a"]
    assert compose.name == "forms"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("  w:\n    image: x\n    platform: wasi/wasm\n    healthcheck: {test: [CMD, x]}\n", "'healthcheck'"),
        ("  a:\n    image: x\n    depends_on: [nope]\n", "unknown service 'nope'"),
        ("  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: y\n    depends_on: [a]\n", "cycle"),
        ("  a:\n    image: x\n    depends_on: {b: {condition: whenever}}\n  b:\n    image: y\n", "whenever"),
        ("  a:\n    image: x\n    ports: ['8000-8010:80']\n", "port ranges"),
        ("  a:\n    image: x\n    ports: ['53:53/udp']\n", "only TCP"),
        ("  a:\n    environment: {A: 1}\n", "needs an image"),
        ("  a:\n    image: x\n    healthcheck: {test: [CMD, x], interval: soon}\n", "not a duration"),
        ("  a:\n    image: x\n    runtime: io.containerd.kata.v2\n", "neither runc nor a Wasm shim"),
        (
            "  w:\n    image: x\n    runtime: io.containerd.wasmedge.v1\n  a:\n    image: y\n"
            "    depends_on: {w: {condition: service_healthy}}\n",
            "Wasm services have no healthcheck",
        ),
        ("  a:\n    image: '${REQUIRED:?set REQUIRED}'\n", "set REQUIRED"),
        ("  a:\n    image: x\n    tty: yes please\n", "tty must be true or false"),
    ],
)
def test_errors_name_service_and_key(tmp_path, monkeypatch, body, message):
    monkeypatch.delenv("REQUIRED", raising=False)
    with pytest.raises(ComposeError, match=message):
        load_compose(write(tmp_path, "services:\n" + body))


def test_missing_or_empty_files(tmp_path):
    with pytest.raises(ComposeError, match="does not exist"):
        load_compose(tmp_path / "nope.yml")
    with pytest.raises(ComposeError, match=r"no compose\.yaml or docker-compose\.yml"):
        load_compose(tmp_path)
    with pytest.raises(ComposeError, match="needs a 'services:' mapping"):
        load_compose(write(tmp_path, "version: '3'\n"))
    with pytest.raises(ComposeError, match="not valid YAML"):
        load_compose(write(tmp_path, "services: [\n"))


def test_interpolation_rules():
    env = {"SET": "v", "EMPTY": ""}
    assert interpolate("${SET}-$SET-${NOPE:-d}-${EMPTY:-d}-${EMPTY-d}-$$", env, "x") == "v-v-d-d--$"
