"""Fuzzed arguments to every host function the runtime defines (the reliability matrix).

A generated guest (text format, one per group of functions) imports every function of its group
with the signature the runtime serves, reads a program from stdin (4 KiB of bytes to point into,
then records of a function index and nine 64-bit arguments) and calls each in turn: random
pointers, lengths and fds, out of bounds included. Hypothesis writes the programs.

Each program must end as the runtime means it to: the guest exits (every call answered with an
errno or a result; or ``proc_exit``), traps with wasmtime's message, or blocks in a wait that
``stop()`` then ends. A Python exception in a host function ("host error") is a bug, as is a
crash of this process, a neighbour that stops serving, or anything left behind.
"""

from __future__ import annotations

import os
import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import wasmtime
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_wasmcontainers.runtime import RunSpec, Runtime, WasmProcess, imports, network, sockets
from tests.reliability.matrix import Row, record
from tests.reliability.test_guests import Baseline, answers, spec
from tests.support.toolchains import BUILD_CACHE

EXAMPLES = 200
BUDGET = 0.3
"""Seconds a program may run before it is stopped (a valid wait on a random fd or clock)."""
FILL = 4096
RECORD = 80
MEMORY = 4 * 65536
IO_AREA = 3 * 65536  # where the guest's own stdin iovec lives (fuzzed calls may clobber it later)
WASEDGE_V1 = {"sock_accept": 2, "sock_recv_from": 7, "sock_getlocaladdr": 4, "sock_getpeeraddr": 4}
OTHER_FORM = {"sock_accept": 3, "sock_recv_from": 8, "sock_getlocaladdr": 3, "sock_getpeeraddr": 3}
SOCKET_BASICS = ["sock_open", "sock_bind", "sock_listen", "sock_connect", "sock_send", "sock_recv"]
Sig = tuple[str, list[str], bool]


def wasi_signatures() -> dict[str, Sig]:
    """Every WASI p1 function as wasmtime defines it (the runtime serves the same types)."""
    engine = wasmtime.Engine()
    store, linker = wasmtime.Store(engine), wasmtime.Linker(engine)
    linker.define_wasi()
    out = {}
    for name in sorted(imports.WASI_P1):
        ftype = linker.get(store, imports.WASI, name).type(store)
        assert isinstance(ftype, wasmtime.FuncType)
        out[name] = (name, [str(p) for p in ftype.params], bool(ftype.results))
    return out


def socket_sig(name: str, params: int) -> Sig:
    assert params in imports.SOCKET_FUNCS[name], (name, params)
    return (name, ["i32"] * params, True)


def groups() -> dict[str, list[Sig]]:
    wasi = wasi_signatures()

    def pick(prefix: str) -> list[Sig]:
        return [s for n, s in wasi.items() if n.startswith(prefix) and n not in imports.SOCKET_FUNCS]

    def sock(form: dict[str, int], suffix: str) -> list[Sig]:
        out = []
        for name, variants in imports.SOCKET_FUNCS.items():
            if name.endswith("_v2") != bool(suffix):
                continue
            base = name.removesuffix("_v2")
            out.append(socket_sig(name, form.get(base, min(variants))))
        return out

    misc = ["args_", "environ_", "clock_", "random_", "sched_", "proc_"]
    return {
        "args, environ, clocks, random, sched, proc": [s for p in misc for s in pick(p)],
        "fd_*": pick("fd_"),
        "path_*": pick("path_"),
        "poll_oneoff, with sockets": [
            wasi["poll_oneoff"],
            *(socket_sig(n, min(imports.SOCKET_FUNCS[n])) for n in SOCKET_BASICS),
        ],
        "sock_* (WasmEdge forms)": sock(WASEDGE_V1, ""),
        "sock_* (WASI forms, *_v2 names)": sock(OTHER_FORM, "") + sock(OTHER_FORM, "_v2"),
    }


def guest_wat(funcs: list[Sig]) -> str:
    """The interpreter: read stdin to address 0, then call record after record from FILL on."""
    lines = ["(module"]
    names = [n for n, _, _ in funcs]
    for i, (name, params, result) in enumerate(funcs):
        res = " (result i32)" if result else ""
        lines.append(f'  (import "{imports.WASI}" "{name}" (func $f{i} (param {" ".join(params)}){res}))')
    read = f"$f{names.index('fd_read')}" if "fd_read" in names else "$read"
    if "fd_read" not in names:
        lines.append(
            f'  (import "{imports.WASI}" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))'
        )
    lines += [
        f'  (memory (export "memory") {MEMORY // 65536})',
        '  (func (export "_start") (local $total i32) (local $n i32) (local $p i32) (local $end i32)',
        "    (block $done (loop $more",
        f"      (i32.store (i32.const {IO_AREA}) (local.get $total))",
        f"      (i32.store (i32.const {IO_AREA + 4}) (i32.sub (i32.const {IO_AREA}) (local.get $total)))",
        f"      (br_if $done (call {read} (i32.const 0) (i32.const {IO_AREA}) (i32.const 1) (i32.const {IO_AREA + 16})))",
        f"      (local.set $n (i32.load (i32.const {IO_AREA + 16})))",
        "      (br_if $done (i32.eqz (local.get $n)))",
        "      (local.set $total (i32.add (local.get $total) (local.get $n)))",
        "      (br $more)))",
        f"    (local.set $p (i32.const {FILL}))",
        "    (local.set $end (local.get $total))",
        "    (block $exit (loop $next",
        f"      (br_if $exit (i32.gt_u (i32.add (local.get $p) (i32.const {RECORD})) (local.get $end)))",
        "      (block $skip",
    ]
    n = len(funcs)
    lines += [f"      (block $b{i}" for i in reversed(range(n))]
    targets = " ".join(f"$b{i}" for i in range(n))
    lines.append(f"        (br_table {targets} $skip (i32.wrap_i64 (i64.load (local.get $p))))")
    for i, (_, params, result) in enumerate(funcs):
        args = []
        for k, p in enumerate(params):
            load = f"(i64.load offset={8 * (k + 1)} (local.get $p))"
            args.append(load if p == "i64" else f"(i32.wrap_i64 {load})")
        call = f"(call $f{i} {' '.join(args)})"
        lines.append(f"      ) {'(drop ' + call + ')' if result else call} (br $skip)")
    lines += [
        "      )",
        f"      (local.set $p (i32.add (local.get $p) (i32.const {RECORD})))",
        "      (br $next))))",
        ")",
    ]
    return "\n".join(lines)


# Arguments: fds that exist (stdio, the root preopen, the first sockets), pointers into the fill,
# into memory, at its end and past it, small and huge lengths, and anything at all.
FDS = st.sampled_from([0, 1, 2, 3, 4, 5, sockets.FD_BASE, sockets.FD_BASE + 1, sockets.FD_BASE + 2])
EDGES = st.sampled_from([MEMORY - 8, MEMORY - 4, MEMORY - 1, MEMORY, MEMORY + 4, 2**31, 2**32 - 1, 2**32 - 4])
ARG = st.one_of(
    FDS,
    st.integers(0, FILL - 1),
    st.integers(0, MEMORY),
    EDGES,
    st.integers(0, 64),
    st.integers(0, 2**32 - 1),
    st.integers(0, 2**64 - 1),
)


def prologue(funcs: list[Sig]) -> bytes:
    """Sockets for the fuzzed calls to find: a stream (FD_BASE), a datagram (+1) and a listener (+2)."""
    names = [n for n, _, _ in funcs]
    if "sock_open" not in names:
        return b""
    out = IO_AREA + 32

    def rec(name: str, *args: int) -> bytes:
        return struct.pack("<10Q", names.index(name), *args, *[0] * (9 - len(args)))

    return (
        rec("sock_open", 1, 2, out)
        + rec("sock_open", 1, 1, out)
        + rec("sock_open", 1, 2, out)
        + rec("sock_listen", sockets.FD_BASE + 2, 16)
    )


def programs(funcs: list[Sig]) -> st.SearchStrategy[bytes]:
    rec = st.tuples(st.integers(0, len(funcs) - 1), st.lists(ARG, min_size=9, max_size=9))
    fill = st.binary(max_size=FILL).map(lambda b: b.ljust(FILL, b"\0"))
    first = prologue(funcs)

    def pack(args: tuple[bytes, list[tuple[int, list[int]]]]) -> bytes:
        return args[0] + first + b"".join(struct.pack("<10Q", i, *a) for i, a in args[1])

    return st.tuples(fill, st.lists(rec, min_size=1, max_size=8)).map(pack)


def run_program(rt: Runtime, module: Path, program: bytes) -> tuple[bool, str]:
    """Whether the runtime answered as designed, and how the program ended."""
    proc = rt.start(RunSpec(module, ["fuzz"], stdin=program))
    code = proc.wait(BUDGET)
    if code is None:
        t0 = time.perf_counter()
        code = proc.stop(5)
        took = time.perf_counter() - t0
        proc.join(5)
        return code == 137 and took < 2.0 and not proc.error, f"blocked; stopped in {took * 1e3:.0f} ms"
    proc.join(5)
    error = proc.error or ""
    ok = not error.startswith("host error") and not proc.scratch_dir.exists()
    return ok, f"exit {code}" + (f": {error}" if error else "")


@pytest.fixture(scope="module")
def rt() -> Iterator[Runtime]:
    runtime = Runtime(BUILD_CACHE / "runtime")
    yield runtime
    runtime.close()


@pytest.fixture(scope="module")
def neighbour(rt: Runtime) -> Iterator[tuple[WasmProcess, int]]:
    proc = rt.start(spec("serve"))
    port = proc.wait_for_port(8080, 60)
    yield proc, port
    proc.stop()


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fuzzed connects and sends may name any address: send them to a closed loopback port, and
    answer names without the host's resolver, so that no packet leaves this machine."""
    real_route = sockets.route

    def route(names: network.NameTable, ports: network.PortMap, ip: str, port: int) -> tuple[str, int]:
        host, real_port = real_route(names, ports, ip, port)
        own = host == "127.0.0.1" and real_port in ports.listening.values()
        return (host, real_port) if own else ("127.0.0.1", 1)

    def lookup(self: network.NameTable, name: str) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "not resolved while fuzzing")

    monkeypatch.setattr(sockets, "route", route)
    monkeypatch.setattr(network.NameTable, "lookup", lookup)


GROUPS = groups()


@pytest.mark.slow
@pytest.mark.parametrize("group", list(GROUPS))
def test_fuzzed_host_calls(
    rt: Runtime, neighbour: tuple[WasmProcess, int], tmp_path: Path, group: str
) -> None:
    funcs = GROUPS[group]
    module = tmp_path / "fuzz.wasm"
    module.write_bytes(wasmtime.wat2wasm(guest_wat(funcs)))
    run_program(rt, module, bytes(FILL))  # warm: compile, and wasmtime's first-use fds
    base = Baseline(rt)
    outcomes: list[tuple[bool, str, bytes]] = []

    # derandomized in CI: the same programs every run there, new ones on every run elsewhere
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=os.environ.get("CI") == "true",
        suppress_health_check=list(HealthCheck),
    )
    @given(programs(funcs))
    def case(program: bytes) -> None:
        ok, how = run_program(rt, module, program)
        outcomes.append((ok, how, program))

    case()
    tried, survived = len(outcomes), sum(ok for ok, _, _ in outcomes)
    kinds: dict[str, int] = {}
    for _, how, _ in outcomes:
        key = "blocked" if how.startswith("blocked") else how.split(":")[0]
        kinds[key] = kinds.get(key, 0) + 1
    print(f"{group}: {len(funcs)} functions, {tried} programs, endings {kinds}")
    alive = neighbour[0].running and answers(neighbour[1])
    leaks = base.leaks()
    failures = [f"{how} <- {program[FILL:].hex()}" for ok, how, program in outcomes if not ok]
    lost = "; ".join(x for x in (leaks, "" if alive else "the neighbour stopped answering") if x) or "nothing"
    what = f"fuzzed arguments: {group} ({len(funcs)} functions)"
    record(Row("Guest misbehaviour", what, tried, survived if alive and not leaks else 0, lost))
    assert alive, "the neighbour container stopped answering"
    assert not leaks, leaks
    reasons = sorted({how.replace("\n", " ")[:300] for ok, how, _ in outcomes if not ok})
    assert not failures, f"{len(failures)} failed; reasons: {reasons}\nfirst: {failures[0]}"
