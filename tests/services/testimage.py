"""The Docker image these tests run: ``testapp`` built from Go source (linux, static) and imported.

Docker Hub is unreachable here, so the image is made from nothing: one static binary in a tar,
``docker import``-ed with an entrypoint. Tagged by the content hash, so it is built once per change
(cached binary, and the daemon keeps the image); a file lock keeps xdist workers from racing.
"""

from __future__ import annotations

import io
import os
import platform
import subprocess
import tarfile
from pathlib import Path
from typing import Any

from filelock import FileLock

from tests.support.toolchains import BUILD_CACHE, _digest, go_env, go_version

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "testapp"
REPO = "localhost/wasmcontainers-testapp"


def _goarch() -> str:
    machine = platform.machine().lower()
    return {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)


def build_testapp() -> tuple[Path, str]:
    """The linux binary (cached) and its content key."""
    srcs = sorted(p for p in SOURCE.iterdir() if p.suffix in (".go", ".mod"))
    key = "linux-" + _digest(srcs, go_version(), _goarch())
    out = BUILD_CACHE / key / "testapp"
    if out.exists():
        return out, key
    BUILD_CACHE.mkdir(parents=True, exist_ok=True)
    with FileLock(str(BUILD_CACHE / f"{key}.lock")):
        if not out.exists():
            env = go_env()
            env.update(GOOS="linux", GOARCH=_goarch(), CGO_ENABLED="0")
            tmp = out.with_name(f"testapp.tmp{os.getpid()}")
            out.parent.mkdir(parents=True, exist_ok=True)
            proc = subprocess.run(
                ["go", "build", "-trimpath", "-ldflags=-s -w", "-o", str(tmp), "."],
                cwd=SOURCE,
                env=env,
                capture_output=True,
                text=True,
            )
            if proc.returncode != 0:
                raise RuntimeError(f"building testapp failed:\n{proc.stdout}\n{proc.stderr}")
            tmp.rename(out)
    return out, key


def testapp_image(client: Any) -> str:
    """``localhost/wasmcontainers-testapp:<key>`` on the daemon ``client`` talks to."""
    import docker.errors

    binary, key = build_testapp()
    tag = key[-12:]
    ref = f"{REPO}:{tag}"
    try:
        client.images.get(ref)
        return ref
    except docker.errors.ImageNotFound:
        pass
    with FileLock(str(BUILD_CACHE / f"{key}.import.lock")):
        try:
            client.images.get(ref)
            return ref
        except docker.errors.ImageNotFound:
            pass
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            info = tar.gettarinfo(str(binary), arcname="testapp")
            info.uid = info.gid = 0
            info.mode = 0o755
            with binary.open("rb") as f:
                tar.addfile(info, f)
            tmp = tarfile.TarInfo("tmp")
            tmp.type, tmp.mode = tarfile.DIRTYPE, 0o1777
            tar.addfile(tmp)
        # The tag inside repo: Podman's compat import ignores a separate tag= (it tags "latest").
        client.api.import_image_from_data(
            buf.getvalue(),
            repository=ref,
            changes=['ENTRYPOINT ["/testapp"]', 'CMD ["serve"]', "EXPOSE 8080"],
        )
    return ref
