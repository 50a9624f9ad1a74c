"""WasmEdge's socket address encodings (as published by the ``wasmedge_wasi_socket`` crates).

A guest passes an address as ``WasiAddress {buf: u32, buf_len: u32}``. ``buf_len`` tells the form:
4 or 16 raw IPv4/IPv6 bytes (crate 0.4.x, ``sock_*`` V1), or a 128-byte storage whose first u16 is
the address family (1 = IPv4, 2 = IPv6) followed by the raw bytes (crate 0.5.x, WasmEdge ``*_v2``).
"""

from __future__ import annotations

import ctypes
import socket
import struct

from . import errno
from .memory import check, put_u16, put_u32, read, u32, write

FAMILY_UNSPEC, FAMILY_INET4, FAMILY_INET6 = 0, 1, 2
STORAGE_SIZE = 128
_WASI_ADDR = struct.Struct("<II")

View = ctypes.Array[ctypes.c_ubyte]


def decode(view: View, addr_ptr: int) -> str:
    """The IP address (text) a guest passed in a ``WasiAddress``."""
    check(view, addr_ptr, 8)
    buf, size = _WASI_ADDR.unpack_from(view, addr_ptr)
    if size == 4:
        return socket.inet_ntop(socket.AF_INET, read(view, buf, 4))
    if size == 16:
        return socket.inet_ntop(socket.AF_INET6, read(view, buf, 16))
    if size == STORAGE_SIZE:
        raw = read(view, buf, 18)
        fam = raw[0] | raw[1] << 8
        if fam == FAMILY_INET4:
            return socket.inet_ntop(socket.AF_INET, raw[2:6])
        if fam == FAMILY_INET6:
            return socket.inet_ntop(socket.AF_INET6, raw[2:18])
        raise errno.WasiError(errno.AFNOSUPPORT)
    raise errno.WasiError(errno.INVAL)


def _raw(ip: str) -> tuple[int, bytes]:
    if ":" in ip:
        return FAMILY_INET6, socket.inet_pton(socket.AF_INET6, ip)
    return FAMILY_INET4, socket.inet_pton(socket.AF_INET, ip)


def encode(view: View, addr_ptr: int, ip: str) -> int:
    """Write ``ip`` into the guest's ``WasiAddress`` in the form its size asks for; return the
    WasmEdge family (1/2)."""
    check(view, addr_ptr, 8)
    buf, size = _WASI_ADDR.unpack_from(view, addr_ptr)
    fam, raw = _raw(ip)
    if size == STORAGE_SIZE:
        check(view, buf, STORAGE_SIZE)
        put_u16(view, buf, fam)
        write(view, buf + 2, raw)
    elif size in (4, 16):
        if len(raw) > size:  # an IPv6 peer for a 4-byte buffer: give it the mapped IPv4 part, if any
            if not raw.startswith(b"\0" * 10 + b"\xff\xff"):
                raise errno.WasiError(errno.INVAL)
            raw, fam = raw[12:], FAMILY_INET4
        write(view, buf, raw)
    else:
        raise errno.WasiError(errno.INVAL)
    return fam


def encode_v1(view: View, addr_ptr: int, type_ptr: int, port_ptr: int, ip: str, port: int) -> None:
    """``sock_getlocaladdr``/``sock_getpeeraddr`` V1: raw bytes, a u32 type of 4 or 6, a u32 port
    (WasmEdge writes 4/6, not the family enum, and the crates accept both)."""
    fam = encode(view, addr_ptr, ip)
    put_u32(view, type_ptr, 4 if fam == FAMILY_INET4 else 6)
    put_u32(view, port_ptr, port)


# WasiAddrinfo (repr(C, packed(4)), 28 bytes): flags u16 @0, family u8 @2, socktype u8 @3,
# protocol u8 @4 (u32 in C shims), addrlen u32 @8, addr* @12, canonname* @16, canonnamelen u32 @20,
# next* @24. WasiSockaddr: family u8 @0 (u32 in C shims), sa_data_len u32 @4, sa_data* @8. sa_data: port (big endian) then the
# address, like the tail of a sockaddr_in / sockaddr_in6 (port, flowinfo, address).
_HINTS = struct.Struct("<HBBB")


def read_hints(view: View, ptr: int) -> tuple[int, int, int, int]:
    """(flags, family, socktype, protocol); an absent hint means 'anything'."""
    if ptr == 0:
        return 0, FAMILY_UNSPEC, 0, 0
    check(view, ptr, 28)
    flags, fam, socktype, proto = _HINTS.unpack_from(view, ptr)
    return flags, fam, socktype, proto


def write_addrinfos(
    view: View, res_ptr: int, max_len: int, results: list[tuple[str, int]], socktype: int, protocol: int
) -> int:
    """Fill the guest's pre-linked WasiAddrinfo list; return how many entries were written."""
    ai = u32(view, res_ptr)
    count = 0
    for ip, port in results[:max_len]:
        if ai == 0:
            break
        check(view, ai, 28)
        fam, raw = _raw(ip)
        sa = u32(view, ai + 12)
        check(view, sa, 12)
        sa_data = u32(view, sa + 8)
        sa_len = u32(view, sa + 4)
        payload = struct.pack(">H", port) + (raw if fam == FAMILY_INET4 else b"\0\0\0\0" + raw)
        if sa_len and len(payload) > sa_len:
            continue  # the guest's buffer cannot hold an IPv6 address: skip rather than overflow
        # protocol and the sockaddr's family as u32: the crates' u8 fields are followed by padding,
        # and the C shims built for wasi-go declare both as uint32_t.
        struct.pack_into("<HBBI", view, ai, 0, fam, socktype or 2, protocol)
        put_u32(view, ai + 8, len(payload) + 2)
        put_u32(view, sa, fam)
        write(view, sa_data, payload)
        put_u32(view, ai + 20, 0)
        count += 1
        ai = u32(view, ai + 24)
    return count
