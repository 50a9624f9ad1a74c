"""Answers DNS queries from a container's name table (RFC 1035 wire format, one message).

Guests built with ``wasmedge_wasi_socket`` 0.5+ and ``DNS_SERVER`` set (Docker's embedded DNS,
``127.0.0.11:53``) resolve names themselves with DNS over TCP instead of ``sock_getaddrinfo``.
The runtime answers those queries here: A and AAAA for names the table knows, NXDOMAIN for the
rest, FORMERR for anything it cannot parse. The 2-byte TCP length prefix is the caller's job.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from collections.abc import Callable

TYPE_A, TYPE_AAAA, TYPE_ANY = 1, 28, 255
CLASS_IN, CLASS_ANY = 1, 255
NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED = 0, 1, 2, 3, 4, 5
TTL = 0  # names follow containers that come and go within a test: never cache
_HEADER = struct.Struct(">HHHHHH")
_MAX_MESSAGE = 0xFFFF  # what a 2-byte TCP length prefix can frame
_NO_NAME = {socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)}


class _Malformed(ValueError):
    pass


def _read_name(msg: bytes, off: int) -> tuple[str, int]:
    """Decode a (possibly compressed) name; return it and the offset after it in the message."""
    labels: list[str] = []
    end = -1
    seen: set[int] = set()
    total = 0
    while True:
        if off >= len(msg):
            raise _Malformed("name runs past the end of the message")
        length = msg[off]
        if length & 0xC0 == 0xC0:
            if off + 1 >= len(msg):
                raise _Malformed("truncated compression pointer")
            target = ((length & 0x3F) << 8) | msg[off + 1]
            if target in seen or target >= off:
                raise _Malformed("compression pointer loops or points forward")
            seen.add(target)
            if end < 0:
                end = off + 2
            off = target
            continue
        if length & 0xC0:
            raise _Malformed(f"unsupported label type 0x{length:02x}")
        if length == 0:
            return ".".join(labels), (end if end >= 0 else off + 1)
        label = msg[off + 1 : off + 1 + length]
        if len(label) < length:
            raise _Malformed("label runs past the end of the message")
        total += length + 1
        if total > 255:
            raise _Malformed("name longer than 255 bytes")
        labels.append(label.decode("latin-1"))
        off += 1 + length


def _reply(query_id: int, flags: int, rcode: int, question: bytes, answers: list[bytes]) -> bytes:
    opcode_rd = flags & 0x7900  # echo opcode and RD
    out_flags = 0x8000 | opcode_rd | 0x0400 | 0x0080 | rcode  # QR, AA, RA
    qdcount = 1 if question else 0
    return _HEADER.pack(query_id, out_flags, qdcount, len(answers), 0, 0) + question + b"".join(answers)


def _records(qtype: int, addresses: list[str]) -> list[bytes]:
    records = []
    for text in addresses:
        ip = ipaddress.ip_address(text)  # a bad table entry is a bug: let it surface as SERVFAIL
        rtype = TYPE_A if ip.version == 4 else TYPE_AAAA
        if qtype in (rtype, TYPE_ANY):
            rdata = ip.packed
            # name: pointer to the question's name at offset 12
            records.append(struct.pack(">HHHIH", 0xC00C, rtype, CLASS_IN, TTL, len(rdata)) + rdata)
    return records


def answer(query: bytes, lookup: Callable[[str], list[str]]) -> bytes:
    """Answer one DNS query message. ``lookup(name)`` returns the name's IP addresses (or [])."""
    query_id = int.from_bytes(query[:2], "big") if len(query) >= 2 else 0
    if len(query) < _HEADER.size:
        return _reply(query_id, 0, FORMERR, b"", [])
    _, flags, qdcount, _, _, _ = _HEADER.unpack_from(query)
    if flags & 0x8000:
        return _reply(query_id, flags, FORMERR, b"", [])  # a response is not a query
    if qdcount != 1:
        return _reply(query_id, flags, FORMERR, b"", [])
    try:
        name, off = _read_name(query, _HEADER.size)
    except _Malformed:
        return _reply(query_id, flags, FORMERR, b"", [])
    if off + 4 > len(query):
        return _reply(query_id, flags, FORMERR, b"", [])
    qtype, qclass = struct.unpack_from(">HH", query, off)
    # echo the question as it came, rebuilt uncompressed so the answers' pointer (offset 12) holds
    question = _encode_name(name) + struct.pack(">HH", qtype, qclass)
    if (flags >> 11) & 0xF != 0:
        return _reply(query_id, flags, NOTIMP, question, [])
    if qclass not in (CLASS_IN, CLASS_ANY):
        return _reply(query_id, flags, REFUSED, question, [])
    try:
        addresses = list(lookup(name.rstrip(".").lower()))
        records = _records(qtype, addresses)
    except socket.gaierror as exc:
        # a lookup that fell through to the host's resolver: "no such name" is NXDOMAIN
        rcode = NXDOMAIN if exc.errno in _NO_NAME else SERVFAIL
        return _reply(query_id, flags, rcode, question, [])
    except Exception:
        return _reply(query_id, flags, SERVFAIL, question, [])
    if not addresses:
        return _reply(query_id, flags, NXDOMAIN, question, [])
    reply = _reply(query_id, flags, NOERROR, question, records)
    while len(reply) > _MAX_MESSAGE:  # cannot happen with real tables; keep the framing valid
        records.pop()
        reply = _reply(query_id, flags, NOERROR, question, records)
    return reply


def _encode_name(name: str) -> bytes:
    out = b"".join(bytes([len(lb)]) + lb.encode("latin-1") for lb in name.split(".") if lb)
    return out + b"\0"
