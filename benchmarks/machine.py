"""What the numbers were measured on."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from importlib import metadata
from typing import Any

from .load import wrk_version


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _version(cmd: list[str]) -> str | None:
    if not shutil.which(cmd[0]):
        return None
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def _dist(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def describe(wasmtime_cli: str | None = None) -> dict[str, Any]:
    load = os.getloadavg()
    return {
        "host": platform.node(),
        "cpu_model": _cpu_model(),
        "cpu_cores": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "wasmtime_py": _dist("wasmtime"),
        "wasmtime_cli": _version([wasmtime_cli, "--version"]) if wasmtime_cli else None,
        "oras_py": _dist("oras"),
        "docker_client": _version(["docker", "version", "--format", "{{.Client.Version}}"]),
        "docker_server": _version(["docker", "version", "--format", "{{.Server.Version}}"]),
        "wrk": wrk_version(),
        "load_average_at_start": [round(x, 2) for x in load],
    }
