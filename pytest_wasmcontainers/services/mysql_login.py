"""A real MySQL/MariaDB login over TCP, just enough protocol to know the server takes our credentials.

Used as the readiness check of the MariaDB/MySQL preset: a listening port is not enough (the official
images restart the server after initialising, and accounts appear late). Handshake v10,
HandshakeResponse41, ``mysql_native_password`` and ``caching_sha2_password`` (fast path, and full
authentication with the server's RSA key, as MySQL 8 needs on a first login without TLS), plus the
auth switch request. No queries: a successful login is the whole point.
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import struct
from dataclasses import dataclass

CLIENT_LONG_PASSWORD = 0x1
CLIENT_CONNECT_WITH_DB = 0x8
CLIENT_PROTOCOL_41 = 0x200
CLIENT_TRANSACTIONS = 0x2000
CLIENT_SECURE_CONNECTION = 0x8000
CLIENT_PLUGIN_AUTH = 0x80000
UTF8MB4_GENERAL_CI = 45


class MySQLLoginError(Exception):
    """The server refused the login (``code`` is the server's error number) or spoke nonsense."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class ServerInfo:
    version: str
    connection_id: int
    auth_plugin: str


class _Conn:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.seq = 0

    def _read_exact(self, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("the server closed the connection")
            buf += chunk
        return buf

    def read(self) -> bytes:
        header = self._read_exact(4)
        length = header[0] | header[1] << 8 | header[2] << 16
        self.seq = (header[3] + 1) & 0xFF
        return self._read_exact(length)

    def write(self, payload: bytes) -> None:
        self.sock.sendall(struct.pack("<I", len(payload))[:3] + bytes([self.seq]) + payload)
        self.seq = (self.seq + 1) & 0xFF


def _err(packet: bytes) -> MySQLLoginError:
    code = struct.unpack_from("<H", packet, 1)[0]
    text = packet[3:]
    if text.startswith(b"#"):
        text = text[6:]
    return MySQLLoginError(f"MySQL error {code}: {text.decode('utf-8', 'replace')}", code)


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


def scramble_native(password: bytes, salt: bytes) -> bytes:
    """``SHA1(pw) XOR SHA1(salt + SHA1(SHA1(pw)))``; empty for an empty password."""
    if not password:
        return b""
    h1 = hashlib.sha1(password).digest()
    return _xor(h1, hashlib.sha1(salt[:20] + hashlib.sha1(h1).digest()).digest())


def scramble_sha256(password: bytes, salt: bytes) -> bytes:
    """``SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) + salt)`` (caching_sha2_password's fast path)."""
    if not password:
        return b""
    h1 = hashlib.sha256(password).digest()
    h2 = hashlib.sha256(hashlib.sha256(h1).digest() + salt[:20]).digest()
    return _xor(h1, h2)


def _parse_handshake(packet: bytes) -> tuple[ServerInfo, bytes, int]:
    if packet[:1] == b"\xff":
        raise _err(packet)
    if packet[0] != 10:
        raise MySQLLoginError(f"not a MySQL server (protocol version {packet[0]}, expected 10)")
    end = packet.index(b"\0", 1)
    version = packet[1:end].decode("utf-8", "replace")
    pos = end + 1
    conn_id = struct.unpack_from("<I", packet, pos)[0]
    salt = packet[pos + 4 : pos + 12]
    pos += 13
    caps = struct.unpack_from("<H", packet, pos)[0]
    pos += 5  # caps low, charset, status
    caps |= struct.unpack_from("<H", packet, pos)[0] << 16
    auth_len = packet[pos + 2]
    pos += 13  # caps high, auth data length, 10 reserved bytes
    plugin = "mysql_native_password"
    if caps & CLIENT_SECURE_CONNECTION:
        n = max(13, auth_len - 8)
        salt += packet[pos : pos + n].rstrip(b"\0")
        pos += n
    if caps & CLIENT_PLUGIN_AUTH and pos < len(packet):
        plugin = packet[pos:].split(b"\0", 1)[0].decode()
    return ServerInfo(version, conn_id, plugin), salt, caps


def _auth_data(plugin: str, password: bytes, salt: bytes) -> bytes:
    if plugin == "mysql_native_password":
        return scramble_native(password, salt)
    if plugin == "caching_sha2_password":
        return scramble_sha256(password, salt)
    if plugin == "mysql_clear_password":
        return password + b"\0"
    raise MySQLLoginError(
        f"the server asks for the {plugin!r} authentication plugin, which this readiness check does not "
        f"speak (it speaks mysql_native_password and caching_sha2_password)"
    )


def mysql_login(
    host: str,
    port: int,
    user: str,
    password: str = "",
    database: str | None = None,
    *,
    timeout: float = 5.0,
) -> ServerInfo:
    """Log in (and select ``database``) or raise ``MySQLLoginError`` / ``OSError``. Closes at once."""
    pw = password.encode()
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        conn = _Conn(sock)
        info, salt, server_caps = _parse_handshake(conn.read())
        caps = (
            CLIENT_LONG_PASSWORD
            | CLIENT_PROTOCOL_41
            | CLIENT_TRANSACTIONS
            | CLIENT_SECURE_CONNECTION
            | CLIENT_PLUGIN_AUTH
        )
        if database:
            caps |= CLIENT_CONNECT_WITH_DB
        caps &= server_caps | CLIENT_CONNECT_WITH_DB
        plugin = info.auth_plugin
        auth = _auth_data(plugin, pw, salt)
        payload = struct.pack("<IIB23x", caps, 1 << 24, UTF8MB4_GENERAL_CI)
        payload += user.encode() + b"\0" + bytes([len(auth)]) + auth
        if database:
            payload += database.encode() + b"\0"
        payload += plugin.encode() + b"\0"
        conn.write(payload)
        _finish_auth(conn, plugin, pw, salt)
        return info


def _finish_auth(conn: _Conn, plugin: str, password: bytes, salt: bytes) -> None:
    while True:
        packet = conn.read()
        kind = packet[:1]
        if kind == b"\x00":
            return
        if kind == b"\xff":
            raise _err(packet)
        if kind == b"\xfe":  # auth switch request: another plugin, fresh salt
            rest = packet[1:]
            name, _, data = rest.partition(b"\0")
            plugin, salt = name.decode(), data.rstrip(b"\0")
            conn.write(_auth_data(plugin, password, salt))
            continue
        if kind == b"\x01" and plugin == "caching_sha2_password":
            if packet[1:2] == b"\x03":  # fast auth succeeded; an OK packet follows
                continue
            if packet[1:2] == b"\x04":  # full authentication: password encrypted with the server's key
                conn.write(b"\x02")
                pem = conn.read()[1:]
                conn.write(rsa_encrypt_password(pem, password, salt))
                continue
        raise MySQLLoginError(f"unexpected packet during login: {packet[:16].hex()}")


# --- RSA-OAEP (SHA-1) with the server's public key, for caching_sha2_password without TLS -----------
def _der_read(data: bytes, pos: int) -> tuple[int, bytes, int]:
    tag = data[pos]
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        n = length & 0x7F
        length = int.from_bytes(data[pos : pos + n], "big")
        pos += n
    return tag, data[pos : pos + length], pos + length


def _rsa_public_numbers(pem: bytes) -> tuple[int, int]:
    body = b"".join(line for line in pem.strip().splitlines() if not line.startswith(b"-----"))
    der = base64.b64decode(body)
    _, spki, _ = _der_read(der, 0)
    _, _alg, pos = _der_read(spki, 0)
    _, bitstring, _ = _der_read(spki, pos)
    _, rsa_key, _ = _der_read(bitstring[1:], 0)  # skip the unused-bits byte
    _, n, pos = _der_read(rsa_key, 0)
    _, e, _ = _der_read(rsa_key, pos)
    return int.from_bytes(n, "big"), int.from_bytes(e, "big")


def _mgf1(seed: bytes, length: int) -> bytes:
    out = b""
    counter = 0
    while len(out) < length:
        out += hashlib.sha1(seed + counter.to_bytes(4, "big")).digest()
        counter += 1
    return out[:length]


def rsa_encrypt_password(pem: bytes, password: bytes, salt: bytes) -> bytes:
    """MySQL's rule: RSA-OAEP(SHA-1) of ``(password + NUL) XOR salt`` with the server's public key."""
    n, e = _rsa_public_numbers(pem)
    k = (n.bit_length() + 7) // 8
    plain = password + b"\0"
    message = bytes(b ^ salt[i % len(salt)] for i, b in enumerate(plain))
    h_len = 20
    if len(message) > k - 2 * h_len - 2:
        raise MySQLLoginError("password too long for the server's RSA key")
    l_hash = hashlib.sha1(b"").digest()
    db = l_hash + b"\0" * (k - len(message) - 2 * h_len - 2) + b"\x01" + message
    seed = os.urandom(h_len)
    masked_db = _xor(db, _mgf1(seed, k - h_len - 1))
    masked_seed = _xor(seed, _mgf1(masked_db, h_len))
    em = b"\0" + masked_seed + masked_db
    return pow(int.from_bytes(em, "big"), e, n).to_bytes(k, "big")
