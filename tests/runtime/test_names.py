"""A guest client reaching a service through the container's name table (sock_getaddrinfo +
sock_connect), against a TCP echo server this test runs."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from pytest_wasmcontainers.runtime import RunSpec, Runtime, StaticEndpoint

from .conftest import c_guest


@pytest.fixture
def echo_server() -> Iterator[int]:
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(10)
                data = b""
                while chunk := conn.recv(4096):
                    data += chunk
                conn.sendall(b"ECHO:" + data)

    thread = threading.Thread(target=serve)
    thread.start()
    yield int(server.getsockname()[1])
    stop.set()
    thread.join()
    server.close()


def run_client(runtime: Runtime, argv: list[str], **kw: object) -> tuple[int | None, str]:
    proc = runtime.start(RunSpec(c_guest("client"), ["client", *argv], **kw))  # type: ignore[arg-type]
    code = proc.wait(timeout=30)
    return code, proc.stdout()


def test_client_reaches_a_name_table_entry(runtime: Runtime, echo_server: int) -> None:
    hosts = {"echo-svc": StaticEndpoint("127.0.0.1", {7: echo_server})}
    code, out = run_client(runtime, ["echo-svc", "7", "ping"], hosts=hosts)
    assert code == 0, out
    assert "resolved echo-svc -> 127.77.0.1:7 (1 results)" in out
    assert "peer 127.77.0.1:7" in out  # the guest sees the address it dialled
    assert "reply: ECHO:ping" in out


def test_literal_address_in_the_table_is_rewritten(runtime: Runtime, echo_server: int) -> None:
    hosts = {"127.0.0.11": StaticEndpoint("127.0.0.1", {53: echo_server})}
    code, out = run_client(runtime, ["127.0.0.11", "53", "dns?"], hosts=hosts)
    assert code == 0, out
    assert "resolved 127.0.0.11 -> 127.0.0.11:53" in out
    assert "reply: ECHO:dns?" in out


def test_other_names_use_the_host_resolver(runtime: Runtime, echo_server: int) -> None:
    code, out = run_client(runtime, ["localhost", str(echo_server), "hi"])
    assert code == 0, out
    assert f"-> 127.0.0.1:{echo_server}" in out
    assert "reply: ECHO:hi" in out


def test_unknown_name_is_an_error_for_the_guest(runtime: Runtime) -> None:
    code, out = run_client(runtime, ["no-such-host.invalid", "80", "x"])
    assert code == 3
    assert "getaddrinfo no-such-host.invalid: error 84" in out  # WasmEdge's AINONAME


def test_resolve_name_shows_what_the_guest_sees(runtime: Runtime) -> None:
    hosts = {"db": StaticEndpoint("127.0.0.1"), "cache": StaticEndpoint("127.0.0.1")}
    proc = runtime.start(RunSpec(c_guest("misbehave"), ["m", "exit", "0"], hosts=hosts))
    proc.wait(30)
    assert proc.resolve_name("cache") == ["127.77.0.1"]
    assert proc.resolve_name("DB") == ["127.77.0.2"]
    assert proc.resolve_name("127.0.0.1") == ["127.0.0.1"]


def test_dns_over_tcp_served_from_the_name_table(runtime: Runtime, echo_server: int) -> None:
    hosts = {"echo-svc": StaticEndpoint("127.0.0.1", {7: echo_server})}
    spec = RunSpec(
        c_guest("dns_client"),
        ["dns", "127.0.0.11", "53", "echo-svc", "7", "via dns"],
        hosts=hosts,
        dns_servers=["127.0.0.11:53"],
    )
    proc = runtime.start(spec)
    assert proc.wait(30) == 0, proc.logs()
    out = proc.stdout()
    assert "rcode 0 answers 1" in out and "A 127.77.0.1" in out
    assert "reply: ECHO:via dns" in out


def test_dns_over_tcp_unknown_name(runtime: Runtime) -> None:
    spec = RunSpec(
        c_guest("dns_client"),
        ["dns", "127.0.0.11", "53", "nope.invalid", "7", "x"],
        dns_servers=["127.0.0.11:53"],
    )
    proc = runtime.start(spec)
    assert proc.wait(30) == 5
    assert "rcode 3 answers 0" in proc.stdout()  # NXDOMAIN


class BrokenEndpoint:
    def resolve(self, port: int) -> tuple[str, int]:
        raise RuntimeError(f"no address for port {port} yet")


def test_a_failing_endpoint_traps_the_guest_with_the_reason(runtime: Runtime) -> None:
    code, _ = run_client(runtime, ["svc", "5432", "x"], hosts={"svc": BrokenEndpoint()})
    assert code == 134
    proc = runtime.start(
        RunSpec(c_guest("client"), ["c", "svc", "5432", "x"], hosts={"svc": BrokenEndpoint()})
    )
    proc.wait(30)
    assert proc.error == "host error: RuntimeError: no address for port 5432 yet"
    assert "sock_connect failed" in proc.logs() or "no address for port 5432 yet" in proc.logs()


def test_getaddrinfo_without_a_service_resolves_with_port_zero(runtime: Runtime) -> None:
    # getaddrinfo(name, NULL/"") is valid: the guest asks for addresses only
    code, out = run_client(runtime, ["db", "", "x"], hosts={"db": StaticEndpoint("127.0.0.1")})
    assert "resolved db -> 127.77." in out and ":0 (" in out, (code, out)
