"""Four processes pull one image into one cache at once: one download, all succeed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.support.registry import Registry

PULLER = """
import json, sys
from pytest_wasmcontainers.images import ImageCache, pull
img = pull(sys.argv[1], cache=ImageCache(sys.argv[2]))
s = img.pull_stats
print(json.dumps({"digest": img.digest, "hit": s.cache_hit, "bytes": s.bytes_downloaded,
                  "module": img.module_file.read_bytes().hex()}))
"""


def test_four_processes_one_download(
    publish: Callable[..., str], registry: Registry, tmp_path: Path, module: bytes
) -> None:
    ref = publish(extra_files={"payload": os.urandom(4 << 20)})
    repo = ref.split("/", 1)[1].split(":")[0]
    cache_root = tmp_path / "shared-cache"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", PULLER, ref, str(cache_root)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        results.append(json.loads(out))
    assert len({r["digest"] for r in results}) == 1
    assert all(bytes.fromhex(r["module"]) == module for r in results)
    assert sorted(r["hit"] for r in results) == [False, True, True, True]
    assert sum(r["bytes"] for r in results) > 4 << 20
    # The registry saw each blob fetched once and the tag resolved once.
    assert registry.requests_matching(f"GET /v2/{repo}/blobs/") == 2
    assert registry.requests_matching(f"GET /v2/{repo}/manifests/") == 1
    assert not list((cache_root / "tmp").iterdir())
