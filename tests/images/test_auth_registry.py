"""A registry with htpasswd (basic) auth: right, wrong and missing credentials."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from pytest_wasmcontainers.errors import RegistryAuthError
from pytest_wasmcontainers.images import ImageCache, pull
from pytest_wasmcontainers.images.auth import Credentials
from pytest_wasmcontainers.images.build import push, write_oci_layout
from tests.support.registry import Registry, RegistryFactory


@pytest.fixture(scope="module")
def auth_registry(registry_factory: RegistryFactory) -> Registry:
    return registry_factory(htpasswd=("alice", "s3cret"))


@pytest.fixture
def pushed(auth_registry: Registry, tmp_path: Path, module: bytes) -> str:
    layout = tmp_path / "layout"
    write_oci_layout(layout, module, tag="v1")
    ref = f"{auth_registry.host}/private/app:v1"
    push(layout, ref, credentials=Credentials("alice", "s3cret", "test"))
    return ref


@pytest.fixture(autouse=True)
def no_ambient_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    for var in (
        "WASMCONTAINERS_REGISTRY_USERNAME",
        "WASMCONTAINERS_REGISTRY_PASSWORD",
        "WASMCONTAINERS_REGISTRY_HOST",
    ):
        monkeypatch.delenv(var, raising=False)


def test_no_credentials_is_a_clear_error(pushed: str, cache: ImageCache, auth_registry: Registry) -> None:
    with pytest.raises(RegistryAuthError) as err:
        pull(pushed, cache=cache)
    msg = str(err.value)
    assert auth_registry.host in msg and "docker login" in msg and "WASMCONTAINERS_REGISTRY_USERNAME" in msg


def test_wrong_password(pushed: str, cache: ImageCache, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WASMCONTAINERS_REGISTRY_USERNAME", "alice")
    monkeypatch.setenv("WASMCONTAINERS_REGISTRY_PASSWORD", "wrong")
    with pytest.raises(RegistryAuthError, match="were rejected"):
        pull(pushed, cache=cache)


def test_env_credentials(
    pushed: str, cache: ImageCache, monkeypatch: pytest.MonkeyPatch, module: bytes
) -> None:
    monkeypatch.setenv("WASMCONTAINERS_REGISTRY_USERNAME", "alice")
    monkeypatch.setenv("WASMCONTAINERS_REGISTRY_PASSWORD", "s3cret")
    assert pull(pushed, cache=cache).module_file.read_bytes() == module


def test_env_credentials_scoped_to_another_host_are_not_used(
    pushed: str, cache: ImageCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WASMCONTAINERS_REGISTRY_USERNAME", "alice")
    monkeypatch.setenv("WASMCONTAINERS_REGISTRY_PASSWORD", "s3cret")
    monkeypatch.setenv("WASMCONTAINERS_REGISTRY_HOST", "elsewhere.example:5000")
    with pytest.raises(RegistryAuthError):
        pull(pushed, cache=cache)


def test_docker_config_auths(pushed: str, cache: ImageCache, tmp_path: Path, auth_registry: Registry) -> None:
    config = tmp_path / "docker-config" / "config.json"
    config.parent.mkdir()
    token = base64.b64encode(b"alice:s3cret").decode()
    config.write_text(json.dumps({"auths": {auth_registry.host: {"auth": token}}}))
    assert pull(pushed, cache=cache).module_kind == "module"


def test_docker_credential_helper(
    pushed: str, cache: ImageCache, tmp_path: Path, auth_registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    helper = bindir / "docker-credential-pytest"
    # A real helper program speaking Docker's credential-helper protocol (host on stdin, JSON out).
    helper.write_text(
        "#!/bin/sh\nread host\n"
        f'[ "$1" = get ] && [ "$host" = "{auth_registry.host}" ] && '
        'echo \'{"Username":"alice","Secret":"s3cret"}\' && exit 0\n'
        "echo 'credentials not found' >&2; exit 1\n"
    )
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{__import__('os').environ['PATH']}")
    config = tmp_path / "docker-config" / "config.json"
    config.parent.mkdir()
    config.write_text(json.dumps({"credHelpers": {auth_registry.host: "pytest"}}))
    assert pull(pushed, cache=cache).module_kind == "module"


# --- bearer tokens (the Docker Hub / GHCR flow) ----------------------------------------------------
@pytest.fixture(scope="module")
def token_registry(registry_factory: RegistryFactory) -> Registry:
    return registry_factory(token_users={"bob": "hunter2"})


def test_anonymous_bearer_token_pull(
    token_registry: Registry, tmp_path: Path, module: bytes, cache: ImageCache
) -> None:
    layout = tmp_path / "layout"
    write_oci_layout(layout, module, tag="v1", index_with=["linux/amd64"])
    ref = f"{token_registry.host}/public/app:v1"
    push(layout, ref, credentials=Credentials("bob", "hunter2", "test"))
    img = pull(ref, cache=cache)
    assert img.module_file.read_bytes() == module
    assert token_registry.token_server is not None
    anonymous = [t for t in token_registry.token_server.issued if t["user"] is None]
    assert anonymous, "the pull should have used an anonymous token"


def test_bearer_push_without_credentials_is_refused(
    token_registry: Registry, tmp_path: Path, module: bytes
) -> None:
    layout = tmp_path / "layout"
    write_oci_layout(layout, module, tag="v1")
    with pytest.raises(RegistryAuthError, match=token_registry.host):
        push(layout, f"{token_registry.host}/public/other:v1")


def test_bearer_wrong_password(
    token_registry: Registry, tmp_path: Path, module: bytes, cache: ImageCache
) -> None:
    layout = tmp_path / "layout"
    write_oci_layout(layout, module, tag="v1")
    with pytest.raises(RegistryAuthError, match="were rejected"):
        push(layout, f"{token_registry.host}/public/x:v1", credentials=Credentials("bob", "nope", "test"))
