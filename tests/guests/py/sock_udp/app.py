"""A wasi:sockets UDP command for the tests (componentize-py), straight on the bindings.

argv[1] picks what it does:
  server PORT          bind 0.0.0.0:PORT, send every datagram back to where it came from
  client NAME PORT MSG resolve NAME, send MSG to it from a connected socket, print the reply
  errors               try bad state transitions and print each error code
"""

import sys

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import instance_network, ip_name_lookup, network, poll, udp, udp_create_socket

N = network


def fmt(addr):
    v = addr.value
    return ".".join(map(str, v.address)) + f":{v.port}"


def v4(a, b, c, d, port):
    return N.IpSocketAddress_Ipv4(N.Ipv4SocketAddress(port=port, address=(a, b, c, d)))


def out(line):
    print(line, flush=True)


def code(f, *args):
    try:
        f(*args)
        return "ok"
    except Err as e:
        v = e.value
        return v.name.lower().replace("_", "-") if hasattr(v, "name") else type(v).__name__


def bound(port):
    net = instance_network.instance_network()
    sock = udp_create_socket.create_udp_socket(N.IpAddressFamily.IPV4)
    sock.start_bind(net, v4(0, 0, 0, 0, port))
    sock.finish_bind()
    return net, sock


def send(outp, datagrams):
    while outp.check_send() == 0:
        poll.poll([outp.subscribe()])
    return outp.send(datagrams)


def server(port):
    _, sock = bound(port)
    inp, outp = sock.stream(None)
    out(f"bound {fmt(sock.local_address())}")
    ready = inp.subscribe()
    while True:
        poll.poll([ready])
        got = inp.receive(16)
        if got:
            send(outp, [udp.OutgoingDatagram(data=d.data, remote_address=d.remote_address) for d in got])


def client(name, port, msg):
    net, sock = bound(0)
    stream = ip_name_lookup.resolve_addresses(net, name)
    poll.poll([stream.subscribe()])
    ip = stream.resolve_next_address().value
    inp, outp = sock.stream(v4(*ip, port))
    out(f"remote={fmt(sock.remote_address())}")
    send(outp, [udp.OutgoingDatagram(data=msg.encode(), remote_address=None)])
    poll.poll([inp.subscribe()])
    for d in inp.receive(4):
        out(f"reply {d.data.decode()} from={fmt(d.remote_address)}")


def errors():
    net = instance_network.instance_network()
    s = udp_create_socket.create_udp_socket(N.IpAddressFamily.IPV4)
    out("default.finish-bind=" + code(s.finish_bind))
    out("default.stream=" + code(s.stream, None))
    out("default.local-address=" + code(s.local_address))
    out("default.remote-address=" + code(s.remote_address))
    out("hop-limit.zero=" + code(s.set_unicast_hop_limit, 0))
    out("bind=" + code(s.start_bind, net, v4(0, 0, 0, 0, 7002)))
    out("bind.again=" + code(s.start_bind, net, v4(0, 0, 0, 0, 7002)))
    out("finish-bind=" + code(s.finish_bind))
    out("local-address=" + fmt(s.local_address()))
    s2 = udp_create_socket.create_udp_socket(N.IpAddressFamily.IPV4)
    out("bind.in-use=" + code(s2.start_bind, net, v4(0, 0, 0, 0, 7002)))
    out("stream.unspecified=" + code(s.stream, v4(0, 0, 0, 0, 53)))
    inp, outp = s.stream(None)
    out("unconnected.remote-address=" + code(s.remote_address))
    outp.check_send()
    out("send.no-address=" + code(outp.send, [udp.OutgoingDatagram(data=b"x", remote_address=None)]))
    out(
        "send.port-zero="
        + code(outp.send, [udp.OutgoingDatagram(data=b"x", remote_address=v4(127, 0, 0, 1, 0))])
    )
    out(
        "send.too-large="
        + code(outp.send, [udp.OutgoingDatagram(data=bytes(70000), remote_address=v4(127, 0, 0, 1, 9))])
    )
    out("receive.nothing=" + str(len(inp.receive(10))))
    # to itself, through the container's port map
    send(outp, [udp.OutgoingDatagram(data=b"self", remote_address=v4(127, 0, 0, 1, 7002))])
    poll.poll([inp.subscribe()])
    got = inp.receive(10)
    out("self=" + ",".join(d.data.decode() for d in got))
    out("done")


class Run(exports.Run):
    def run(self) -> None:
        what = sys.argv[1]
        if what == "server":
            server(int(sys.argv[2]))
        elif what == "client":
            client(sys.argv[2], int(sys.argv[3]), sys.argv[4])
        elif what == "errors":
            errors()
