"""Warm-start baseline: an ordinary tiny HTTP image (busybox httpd) on the machine's dockerd.

Docker Hub is out of reach, so the image is built locally: a rootfs holding Debian's static busybox
binary and one page, ``docker import``-ed with its command. Timed from ``docker run -d -p
127.0.0.1::8080`` (the CLI, as a user types it) to the first HTTP response on the published port.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
import time
from pathlib import Path

from .probe import wait_first_response
from .stats import Series

IMAGE = "wasmcontainers-bench/busybox-httpd:1"
BUSYBOX = Path("/bin/busybox")
REPO = Path(__file__).resolve().parent.parent


def docker_env() -> dict[str, str] | str:
    """The environment that reaches a dockerd, or why none does. Starts the private one CI uses."""
    if not shutil.which("docker"):
        return "the docker CLI is not installed (apt-get install docker.io)"
    env = dict(os.environ)
    if subprocess.run(["docker", "version"], capture_output=True, env=env).returncode == 0:
        return env
    helper = REPO / ".ci" / "dockerd"
    if helper.exists():
        out = subprocess.run([str(helper), "start"], capture_output=True, text=True)
        if out.returncode == 0 and "DOCKER_HOST=" in out.stdout:
            env["DOCKER_HOST"] = out.stdout.strip().split("DOCKER_HOST=", 1)[1]
            if subprocess.run(["docker", "version"], capture_output=True, env=env).returncode == 0:
                os.environ["DOCKER_HOST"] = env["DOCKER_HOST"]  # so the machine report sees it too
                return env
        return f"no dockerd reachable and .ci/dockerd start failed: {out.stderr.strip()[-300:]}"
    return "no dockerd reachable (start one, or set DOCKER_HOST)"


def _rootfs_tar() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(BUSYBOX, arcname="bin/busybox")
        page = b"ok"
        info = tarfile.TarInfo("www/index.html")
        info.size = len(page)
        info.mode = 0o644
        tar.addfile(info, io.BytesIO(page))
    return buf.getvalue()


def _build_image(env: dict[str, str]) -> None:
    if subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True, env=env).returncode == 0:
        return
    subprocess.run(
        [
            "docker",
            "import",
            "--change",
            'CMD ["/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/www"]',
            "--change",
            "EXPOSE 8080",
            "-",
            IMAGE,
        ],
        input=_rootfs_tar(),
        capture_output=True,
        env=env,
        check=True,
    )


def _host_port(env: dict[str, str], cid: str) -> int:
    out = subprocess.run(
        ["docker", "port", cid, "8080/tcp"], capture_output=True, text=True, env=env, check=True
    )
    return int(out.stdout.split()[0].rsplit(":", 1)[1])


def measure(repeats: int) -> tuple[Series, str | None]:
    """Returns the series (ms) and the docker server version."""
    series = Series("docker run (busybox httpd)")
    env = docker_env()
    if isinstance(env, str):
        series.unavailable = env
        return series, None
    if not BUSYBOX.exists() or not _is_static(BUSYBOX):
        series.unavailable = "no static busybox at /bin/busybox (apt-get install busybox-static)"
        return series, None
    version = subprocess.run(
        ["docker", "version", "--format", "{{.Server.Version}}"], capture_output=True, text=True, env=env
    ).stdout.strip()
    _build_image(env)
    run_part: list[float] = []
    for i in range(repeats + 1):  # the first run warms dockerd's caches and is not counted
        t0 = time.perf_counter()
        out = subprocess.run(
            ["docker", "run", "-d", "--rm", "-p", "127.0.0.1::8080", IMAGE],
            capture_output=True,
            text=True,
            env=env,
        )
        if out.returncode != 0:
            series.unavailable = f"docker run failed: {out.stderr.strip()}"
            return series, version
        t1 = time.perf_counter()
        cid = out.stdout.strip()
        try:
            port = _host_port(env, cid)  # the port is only known after the run
            wait_first_response("127.0.0.1", port, timeout=30)
            t2 = time.perf_counter()
        finally:
            subprocess.run(["docker", "rm", "-f", cid], capture_output=True, env=env)
        if i:
            series.samples.append((t2 - t0) * 1000)
            run_part.append((t1 - t0) * 1000)
    series.breakdown["docker run returns"] = run_part
    series.notes.append("docker CLI run + docker port + HTTP probe; container removed between runs (untimed)")
    return series, version


def _is_static(path: Path) -> bool:
    """Debian's plain ``busybox`` is dynamic and would not run in an empty rootfs; a static ELF
    names no program interpreter."""
    return b"ld-linux" not in path.read_bytes()[:65536]
