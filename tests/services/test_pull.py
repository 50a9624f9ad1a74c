"""Pulling a missing image through the daemon, with progress, from a real registry on loopback."""

from __future__ import annotations

import io
import os
import tarfile

import requests

from pytest_wasmcontainers.services.docker import DockerServices
from tests.services.testimage import build_testapp
from tests.support.registry import Registry, registry, registry_factory  # noqa: F401  (fixtures)


def _unique_image(client, ref: str) -> None:
    """The testapp binary plus a random 3 MiB file, so the daemon has none of it after we delete it."""
    binary, _ = build_testapp()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tar.gettarinfo(str(binary), arcname="testapp")
        info.uid = info.gid = 0
        with binary.open("rb") as f:
            tar.addfile(info, f)
        noise = os.urandom(3 << 20)
        info = tarfile.TarInfo("noise.bin")
        info.size = len(noise)
        tar.addfile(info, io.BytesIO(noise))
    repo, tag = ref.rsplit(":", 1)
    client.api.import_image_from_data(
        buf.getvalue(),
        repository=repo,
        tag=tag,
        changes=['ENTRYPOINT ["/testapp"]', 'CMD ["serve"]', "EXPOSE 8080"],
    )


def test_missing_image_is_pulled_with_progress(
    docker_services: DockerServices,
    registry: Registry,  # noqa: F811  (the fixture)
):
    client = docker_services.client
    ref = f"{registry.host}/services/pulled:1"
    _unique_image(client, ref)
    for line in client.api.push(ref, stream=True, decode=True):
        assert "error" not in line, line
    client.images.remove(ref, force=True)

    events: list[dict] = []
    services = DockerServices(client, docker_services.session, progress=lambda image: events.append)
    try:
        c = services.start(ref, ports=[8080])
        assert requests.get(c.url(8080), timeout=5).text == "hello world"
    finally:
        services.close()
        client.images.remove(ref, force=True)
    statuses = {e.get("status", "") for e in events}
    assert any(s.startswith("Downloading") for s in statuses), statuses
    assert any(e.get("progressDetail", {}).get("total") for e in events)
    assert any("Downloaded newer image" in s for s in statuses), statuses
