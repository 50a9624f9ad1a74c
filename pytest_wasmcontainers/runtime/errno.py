"""WASI errno numbers and the mapping from host ``OSError``s.

The first 77 values are WASI preview 1's; WasmEdge appends the ``getaddrinfo`` ones (``AI*``) after
``NOTCAPABLE``, and its socket crates return them as raw numbers, so we use the same values.
"""

from __future__ import annotations

import errno as _host
import socket

_NAMES = [
    "SUCCESS",
    "2BIG",
    "ACCES",
    "ADDRINUSE",
    "ADDRNOTAVAIL",
    "AFNOSUPPORT",
    "AGAIN",
    "ALREADY",
    "BADF",
    "BADMSG",
    "BUSY",
    "CANCELED",
    "CHILD",
    "CONNABORTED",
    "CONNREFUSED",
    "CONNRESET",
    "DEADLK",
    "DESTADDRREQ",
    "DOM",
    "DQUOT",
    "EXIST",
    "FAULT",
    "FBIG",
    "HOSTUNREACH",
    "IDRM",
    "ILSEQ",
    "INPROGRESS",
    "INTR",
    "INVAL",
    "IO",
    "ISCONN",
    "ISDIR",
    "LOOP",
    "MFILE",
    "MLINK",
    "MSGSIZE",
    "MULTIHOP",
    "NAMETOOLONG",
    "NETDOWN",
    "NETRESET",
    "NETUNREACH",
    "NFILE",
    "NOBUFS",
    "NODEV",
    "NOENT",
    "NOEXEC",
    "NOLCK",
    "NOLINK",
    "NOMEM",
    "NOMSG",
    "NOPROTOOPT",
    "NOSPC",
    "NOSYS",
    "NOTCONN",
    "NOTDIR",
    "NOTEMPTY",
    "NOTRECOVERABLE",
    "NOTSOCK",
    "NOTSUP",
    "NOTTY",
    "NXIO",
    "OVERFLOW",
    "OWNERDEAD",
    "PERM",
    "PIPE",
    "PROTO",
    "PROTONOSUPPORT",
    "PROTOTYPE",
    "RANGE",
    "ROFS",
    "SPIPE",
    "SRCH",
    "STALE",
    "TIMEDOUT",
    "TXTBSY",
    "XDEV",
    "NOTCAPABLE",
    "AIADDRFAMILY",
    "AIAGAIN",
    "AIBADFLAG",
    "AIFAIL",
    "AIFAMILY",
    "AIMEMORY",
    "AINODATA",
    "AINONAME",
    "AISERVICE",
    "AISOCKTYPE",
    "AISYSTEM",
]
_CODE = {n: i for i, n in enumerate(_NAMES)}

SUCCESS = 0
ACCES = _CODE["ACCES"]
ADDRINUSE = _CODE["ADDRINUSE"]
AFNOSUPPORT = _CODE["AFNOSUPPORT"]
AGAIN = _CODE["AGAIN"]
BADF = _CODE["BADF"]
CONNREFUSED = _CODE["CONNREFUSED"]
CONNRESET = _CODE["CONNRESET"]
FAULT = _CODE["FAULT"]
INPROGRESS = _CODE["INPROGRESS"]
INVAL = _CODE["INVAL"]
IO = _CODE["IO"]
MFILE = _CODE["MFILE"]
ISCONN = _CODE["ISCONN"]
NOPROTOOPT = _CODE["NOPROTOOPT"]
NOTCONN = _CODE["NOTCONN"]
NOTDIR = _CODE["NOTDIR"]
NOTSOCK = _CODE["NOTSOCK"]
NOTSUP = _CODE["NOTSUP"]
NOSYS = _CODE["NOSYS"]
PIPE = _CODE["PIPE"]
INTR = _CODE["INTR"]
SPIPE = _CODE["SPIPE"]
TIMEDOUT = _CODE["TIMEDOUT"]
AIBADFLAG = _CODE["AIBADFLAG"]
AIFAMILY = _CODE["AIFAMILY"]
AIMEMORY = _CODE["AIMEMORY"]
AINONAME = _CODE["AINONAME"]
AISERVICE = _CODE["AISERVICE"]

_FROM_HOST = {getattr(_host, "E" + n): i for n, i in _CODE.items() if hasattr(_host, "E" + n)}
_FROM_HOST[_host.EWOULDBLOCK] = AGAIN
_FROM_HOST[_host.EOPNOTSUPP] = NOTSUP


def name(code: int) -> str:
    return _NAMES[code] if 0 <= code < len(_NAMES) else str(code)


def from_host(err: int) -> int:
    return _FROM_HOST.get(err, IO)


def from_exception(exc: OSError) -> int:
    if isinstance(exc, socket.gaierror):
        return AINONAME
    if isinstance(exc, TimeoutError) and exc.errno is None:
        return AGAIN
    return from_host(exc.errno) if exc.errno is not None else IO


class WasiError(Exception):
    """Raised inside a host function to return an errno to the guest."""

    def __init__(self, code: int) -> None:
        super().__init__(name(code))
        self.code = code


def stopped() -> WasiError:
    """What a blocked host call returns once its container is stopping.

    Not an exception through wasmtime: wasmtime-py passes a host function's exception to the
    trapping thread through one global, so two containers trapping at once could swap them.
    The guest gets EINTR instead, and the epoch deadline callback traps it at its next tick.
    """
    return WasiError(INTR)
