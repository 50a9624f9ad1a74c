"""Measurements for the runtime's report (not a test: nothing here asserts on time).

python -m tests.runtime.measure
"""

from __future__ import annotations

import os
import shutil
import socket
import statistics
import tempfile
import time
from pathlib import Path

from pytest_wasmcontainers.runtime import RunSpec, Runtime
from pytest_wasmcontainers.runtime.rootfs import make_view

from .conftest import c_guest, go_guest

REQUEST = b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


def get(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(REQUEST)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return data


def first_response(rt: Runtime, spec: RunSpec, port: int) -> tuple[float, str]:
    t0 = time.perf_counter()
    proc = rt.start(spec)
    while True:  # poll the port as a client would, no help from wait_for_port
        hp = proc.host_port(port)
        if hp is not None:
            break
        time.sleep(0.0005)
    assert get(hp).startswith(b"HTTP/1.1 200")
    dt = time.perf_counter() - t0
    proc.stop()
    return dt, str(proc.timings["module_cache"])


def requests_per_second(rt: Runtime, spec: RunSpec, port: int, n: int = 2000) -> float:
    proc = rt.start(spec)
    hp = proc.wait_for_port(port, 30)
    for _ in range(50):
        get(hp)
    t0 = time.perf_counter()
    for _ in range(n):
        get(hp)
    rate = n / (time.perf_counter() - t0)
    proc.stop()
    return rate


def stop_latency(rt: Runtime, what: str, runs: int = 20) -> list[float]:
    out = []
    for _ in range(runs):
        proc = rt.start(RunSpec(c_guest("misbehave"), ["m", what]))
        if what == "block":
            proc.wait_for_port(9000, 30)
        else:
            time.sleep(0.1)
        t0 = time.perf_counter()
        proc.stop()
        out.append(time.perf_counter() - t0)
    return out


def rootfs_cost(base: Path) -> None:
    root = base / "big-root"
    for d in range(100):
        sub = root / f"dir{d}"
        sub.mkdir(parents=True)
        for f in range(100):
            (sub / f"f{f}").write_bytes(b"x" * 2048)
    for i in range(4):
        (root / f"big{i}.bin").write_bytes(os.urandom(64 << 20))
    print("root: 10,000 files of 2 KiB + 4 files of 64 MiB (276 MiB)")
    for how in ("farm", "copy"):
        ts = []
        for i in range(3):
            target = base / f"{how}{i}"
            t0 = time.perf_counter()
            if how == "farm":
                make_view(root, target)
            else:
                shutil.copytree(root, target, symlinks=True)
            ts.append(time.perf_counter() - t0)
            shutil.rmtree(target)
        print(f"  {how}: median {1000 * statistics.median(ts):.0f} ms")


def main() -> None:
    with tempfile.TemporaryDirectory(dir=os.environ.get("MEASURE_DIR")) as tmp:
        cache = Path(tmp)
        c_spec = RunSpec(c_guest("http_server"), ["s"], env={"PORT": "8080"})
        with Runtime(cache) as rt:
            cold, _ = first_response(rt, c_spec, 8080)
            print(f"first start, cold (compiles): {1000 * cold:.1f} ms")
            warm = [first_response(rt, c_spec, 8080)[0] for _ in range(20)]
            print(
                f"warm start to first HTTP response, module in memory: median {1000 * statistics.median(warm):.1f} ms"
            )
        with Runtime(cache) as rt:
            t, how = first_response(rt, c_spec, 8080)
            print(f"new session, start to first HTTP response: {1000 * t:.1f} ms (module from {how})")
            rate = requests_per_second(rt, c_spec, 8080)
            print(f"sequential requests/s, C server (new connection each): {rate:.0f}")
            go_spec = RunSpec(go_guest("go-preopen"), ["g"], preopen_listeners=[8080])
            rt.start(go_spec).stop()
            rate = requests_per_second(rt, go_spec, 8080)
            print(f"sequential requests/s, Go net/http on a preopened listener: {rate:.0f}")
            for what in ("block", "spin"):
                ts = stop_latency(rt, what)
                print(
                    f"stop() of a guest ({what}): median {1000 * statistics.median(ts):.1f} ms, max {1000 * max(ts):.1f} ms"
                )
        rootfs_cost(cache)


if __name__ == "__main__":
    main()
