"""Every WASI 0.2 interface this host serves, registered once for linking."""

from __future__ import annotations

import threading

from . import cli, clocks, http_client, http_server, http_types, io, rand
from .host import Interface, register

_done = False
_lock = threading.Lock()


def all_interfaces() -> list[Interface]:
    from . import filesystem, net, tcp, udp

    http = [
        http_types.types_interface(
            {
                "incoming-request": http_server.IncomingRequest,
                "response-outparam": http_server.ResponseOutparam,
                "outgoing-request": http_client.OutgoingRequest,
                "future-incoming-response": http_client.FutureIncomingResponse,
                "incoming-response": http_client.IncomingResponse,
            }
        ),
        Interface("wasi:http/outgoing-handler", funcs={"handle": http_client.handle}),
    ]
    return [
        *io.INTERFACES,
        *clocks.INTERFACES,
        *rand.INTERFACES,
        *cli.INTERFACES,
        *filesystem.INTERFACES,
        *net.INTERFACES,
        *tcp.INTERFACES,
        *udp.INTERFACES,
        *http,
    ]


def register_all() -> None:
    global _done
    with _lock:
        if not _done:
            register(*all_interfaces())
            _done = True
