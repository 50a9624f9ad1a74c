from __future__ import annotations

import pytest

from pytest_wasmcontainers.errors import ImageReferenceError
from pytest_wasmcontainers.images import parse_reference

D = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest"),
    [
        ("hello", "docker.io", "library/hello", "latest", None),
        ("hello:1.0", "docker.io", "library/hello", "1.0", None),
        ("org/app", "docker.io", "org/app", "latest", None),
        (f"org/app@{D}", "docker.io", "org/app", None, D),
        (f"org/app:v2@{D}", "docker.io", "org/app", "v2", D),
        ("docker.io/hello", "docker.io", "library/hello", "latest", None),
        ("index.docker.io/org/app:x", "docker.io", "org/app", "x", None),
        ("ghcr.io/org/sub/app:1", "ghcr.io", "org/sub/app", "1", None),
        ("localhost:5000/app", "localhost:5000", "app", "latest", None),
        ("localhost/app:t", "localhost", "app", "t", None),
        ("[::1]:5000/a/b:c", "[::1]:5000", "a/b", "c", None),
        ("docker://ghcr.io/o/a:1", "ghcr.io", "o/a", "1", None),
        (
            "my-registry.example.com:8443/a__b/c-d.e:T_1",
            "my-registry.example.com:8443",
            "a__b/c-d.e",
            "T_1",
            None,
        ),
    ],
)
def test_parse(text: str, registry: str, repository: str, tag: str | None, digest: str | None) -> None:
    ref = parse_reference(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (registry, repository, tag, digest)


def test_docker_hub_api_host() -> None:
    ref = parse_reference("hello")
    assert ref.api_host == "registry-1.docker.io" and ref.base_url.startswith("https://")


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        ("localhost:5000/a", True),
        ("127.0.0.1:5000/a", True),
        ("127.3.4.5/a", True),
        ("[::1]:5000/a", True),
        ("ghcr.io/a", False),
        ("10.0.0.1:5000/a", False),
        ("a", False),
    ],
)
def test_plain_http_by_default_only_on_loopback(
    text: str, plain: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WASMCONTAINERS_INSECURE_REGISTRIES", raising=False)
    assert parse_reference(text).plain_http is plain


def test_insecure_registries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WASMCONTAINERS_INSECURE_REGISTRIES", "reg.internal:5000, other.lan")
    assert parse_reference("reg.internal:5000/a").plain_http
    assert parse_reference("other.lan:80/a").plain_http
    assert not parse_reference("reg.internal:6000/a").plain_http
    monkeypatch.delenv("WASMCONTAINERS_INSECURE_REGISTRIES")
    assert parse_reference("10.1.2.3:5000/a", insecure=["10.1.2.3:5000"]).plain_http


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty"),
        ("Hello/App", "lowercase"),
        ("app@sha256:1234", "digest"),
        ("app:bad tag", "tag"),
        ("ghcr.io/", "bad path component"),
        ("a//b", "bad path component"),
        ("exa mple.com:5000/a", "registry host"),
    ],
)
def test_malformed(text: str, why: str) -> None:
    with pytest.raises(ImageReferenceError, match=why) as err:
        parse_reference(text)
    assert repr(text) in str(err.value) and "Expected" in str(err.value)
