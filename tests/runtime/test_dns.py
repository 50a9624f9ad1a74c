"""runtime.dns.answer, checked by parsing its replies with dnspython (a real resolver library)."""

from __future__ import annotations

import struct

import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import pytest

from pytest_wasmcontainers.runtime.dns import answer

TABLE = {"db": ["10.89.0.2"], "dual": ["10.89.0.3", "fd00::3"], "v6only": ["fd00::4"]}


def lookup(name: str) -> list[str]:
    return TABLE.get(name, [])


def ask(name: str, rdtype: str = "A", **kw: object) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype, **kw)  # type: ignore[arg-type]
    reply = dns.message.from_wire(answer(query.to_wire(), lookup))
    assert reply.id == query.id
    assert reply.flags & dns.flags.QR
    assert reply.question == query.question, "the question is echoed"
    return reply


def addresses(reply: dns.message.Message) -> list[str]:
    return sorted(rd.address for rrset in reply.answer for rd in rrset)


def test_a_record_for_a_known_name() -> None:
    reply = ask("db")
    assert reply.rcode() == dns.rcode.NOERROR
    assert reply.flags & dns.flags.AA
    assert addresses(reply) == ["10.89.0.2"]
    (rrset,) = reply.answer
    assert rrset.rdtype == dns.rdatatype.A and rrset.rdclass == dns.rdataclass.IN
    assert str(rrset.name) == "db."


def test_aaaa_and_any() -> None:
    assert addresses(ask("dual", "AAAA")) == ["fd00::3"]
    assert addresses(ask("dual", "A")) == ["10.89.0.3"]
    assert addresses(ask("dual", "ANY")) == ["10.89.0.3", "fd00::3"]


def test_name_without_that_type_is_nodata_not_nxdomain() -> None:
    for name, rdtype in (("db", "AAAA"), ("v6only", "A"), ("db", "MX")):
        reply = ask(name, rdtype)
        assert reply.rcode() == dns.rcode.NOERROR
        assert reply.answer == []


def test_unknown_name_is_nxdomain() -> None:
    reply = ask("nosuch.example")
    assert reply.rcode() == dns.rcode.NXDOMAIN
    assert reply.answer == []


def test_names_are_case_insensitive_and_fully_qualified_names_match() -> None:
    assert addresses(ask("DB.")) == ["10.89.0.2"]
    reply = ask("Db")
    assert str(reply.question[0].name) == "Db.", "the question keeps the asker's case"


def test_recursion_desired_is_echoed() -> None:
    assert ask("db").flags & dns.flags.RD
    query = dns.message.make_query("db", "A")
    query.flags &= ~dns.flags.RD
    reply = dns.message.from_wire(answer(query.to_wire(), lookup))
    assert not reply.flags & dns.flags.RD


def test_edns_query_is_answered() -> None:
    assert addresses(ask("db", use_edns=0)) == ["10.89.0.2"]


def test_other_opcodes_are_not_implemented() -> None:
    query = dns.message.make_query("db", "A")
    query.set_opcode(dns.opcode.STATUS)
    reply = dns.message.from_wire(answer(query.to_wire(), lookup))
    assert reply.rcode() == dns.rcode.NOTIMP


def test_lookup_failure_is_servfail() -> None:
    def broken(name: str) -> list[str]:
        raise RuntimeError("table gone")

    query = dns.message.make_query("db", "A")
    assert dns.message.from_wire(answer(query.to_wire(), broken)).rcode() == dns.rcode.SERVFAIL


def test_host_resolver_failures_map_to_nxdomain_or_servfail() -> None:
    import socket

    def no_name(name: str) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    def try_again(name: str) -> list[str]:
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    wire = dns.message.make_query("elsewhere.example", "A").to_wire()
    assert dns.message.from_wire(answer(wire, no_name)).rcode() == dns.rcode.NXDOMAIN
    assert dns.message.from_wire(answer(wire, try_again)).rcode() == dns.rcode.SERVFAIL


def _formerr(wire: bytes) -> None:
    reply = dns.message.from_wire(answer(wire, lookup))
    assert reply.rcode() == dns.rcode.FORMERR
    if len(wire) >= 2:
        assert reply.id == struct.unpack(">H", wire[:2])[0]


def _header(qdcount: int = 1, flags: int = 0x0100) -> bytes:
    return struct.pack(">HHHHHH", 0x1234, flags, qdcount, 0, 0, 0)


@pytest.mark.parametrize(
    "wire",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"\x12", id="one-byte"),
        pytest.param(b"\x12\x34\x01\x00", id="short-header"),
        pytest.param(_header(), id="no-question-bytes"),
        pytest.param(_header(qdcount=0), id="zero-questions"),
        pytest.param(_header(qdcount=2) + b"\x02db\x00\x00\x01\x00\x01" * 2, id="two-questions"),
        pytest.param(_header() + b"\x05db\x00\x00\x01\x00\x01", id="label-past-end"),
        pytest.param(_header() + b"\x02db\x00\x00\x01", id="truncated-type-class"),
        pytest.param(_header() + b"\xc0\x0c\x00\x01\x00\x01", id="pointer-loop"),
        pytest.param(_header() + b"\xc0\x20\x00\x01\x00\x01", id="pointer-forward"),
        pytest.param(_header() + b"\x40db\x00\x00\x01\x00\x01", id="reserved-label-type"),
        pytest.param(
            _header() + b"\x3f" + b"a" * 63 + (b"\x3f" + b"a" * 63) * 4 + b"\x00\x00\x01\x00\x01",
            id="name-too-long",
        ),
        pytest.param(_header(flags=0x8100) + b"\x02db\x00\x00\x01\x00\x01", id="is-a-response"),
    ],
)
def test_malformed_queries_get_formerr(wire: bytes) -> None:
    _formerr(wire)


def test_compression_pointer_in_the_question_is_followed() -> None:
    # "a" then a pointer to offset 4, where QDCOUNT's high byte (0) reads as the root label
    wire = _header() + b"\x01a\xc0\x04\x00\x01\x00\x01"
    reply = dns.message.from_wire(answer(wire, lambda name: ["10.0.0.1"] if name == "a" else []))
    assert addresses(reply) == ["10.0.0.1"]


def test_answers_over_the_runtimes_tcp_framing() -> None:
    # The path a guest's DNS_SERVER connection takes: 2-byte length prefixes on a stream, several
    # queries on one connection, each answered in turn.
    import threading

    import dns.query

    from pytest_wasmcontainers.runtime.dnsserver import DnsConnection

    conn = DnsConnection(lookup, threading.Event())
    try:
        sock = conn.guest_end
        sock.settimeout(5)
        for name, rdtype, want in (("db", "A", ["10.89.0.2"]), ("dual", "AAAA", ["fd00::3"])):
            query = dns.message.make_query(name, rdtype)
            dns.query.send_tcp(sock, query)
            reply, _ = dns.query.receive_tcp(sock)
            assert reply.id == query.id and addresses(reply) == want
    finally:
        conn.close()
