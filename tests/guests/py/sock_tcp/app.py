"""A wasi:sockets TCP command for the tests (componentize-py), straight on the bindings.

argv[1] picks what it does:
  server PORT [ipv6]   listen on 0.0.0.0:PORT (or [::]:PORT), echo every connection (poll loop)
  client NAME PORT MSG resolve NAME, connect to it, send MSG, print the reply and the addresses
  errors               try bad state transitions and print each error code
"""

import sys

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import instance_network, ip_name_lookup, network, poll, streams, tcp, tcp_create_socket

N = network


def fmt(addr):
    v = addr.value
    if isinstance(addr, N.IpSocketAddress_Ipv4):
        return ".".join(map(str, v.address)) + f":{v.port}"
    return "[" + ":".join(f"{x:x}" for x in v.address) + f"]:{v.port}"


def v4(a, b, c, d, port):
    return N.IpSocketAddress_Ipv4(N.Ipv4SocketAddress(port=port, address=(a, b, c, d)))


def v6(port, *parts):
    parts = parts or (0,) * 8
    return N.IpSocketAddress_Ipv6(N.Ipv6SocketAddress(port=port, flow_info=0, address=parts, scope_id=0))


def out(line):
    print(line, flush=True)


def code(f, *args):
    try:
        f(*args)
        return "ok"
    except Err as e:
        v = e.value
        return v.name.lower().replace("_", "-") if hasattr(v, "name") else type(v).__name__


def server(port, family):
    net = instance_network.instance_network()
    fam = N.IpAddressFamily.IPV6 if family == "ipv6" else N.IpAddressFamily.IPV4
    sock = tcp_create_socket.create_tcp_socket(fam)
    sock.start_bind(net, v6(port) if family == "ipv6" else v4(0, 0, 0, 0, port))
    sock.finish_bind()
    sock.start_listen()
    sock.finish_listen()
    out(f"listening {fmt(sock.local_address())}")
    conns = []  # (socket, input, output)
    accept_ready = sock.subscribe()
    while True:
        pollables = [accept_ready] + [c[1].subscribe() for c in conns]
        ready = poll.poll(pollables)
        for p in pollables[1:]:
            p.__exit__(None, None, None)
        if 0 in ready:
            while True:
                try:
                    c = sock.accept()
                except Err as e:
                    if e.value == N.ErrorCode.WOULD_BLOCK:
                        break
                    raise
                out(f"accepted local={fmt(c[0].local_address())} remote={fmt(c[0].remote_address())}")
                conns.append(c)
        for i in sorted((i - 1 for i in ready if i > 0), reverse=True):
            s, inp, outp = conns[i]
            try:
                data = inp.read(65536)
            except Err as e:
                if not isinstance(e.value, streams.StreamError_Closed):
                    raise
                out("closed")
                outp.__exit__(None, None, None)
                inp.__exit__(None, None, None)
                s.__exit__(None, None, None)
                del conns[i]
                continue
            while data:
                n = outp.check_write()
                if n == 0:
                    w = outp.subscribe()
                    poll.poll([w])
                    w.__exit__(None, None, None)
                    continue
                outp.write(data[:n])
                data = data[n:]
            outp.flush()


def client(name, port, msg):
    net = instance_network.instance_network()
    stream = ip_name_lookup.resolve_addresses(net, name)
    addrs = []
    while True:
        try:
            a = stream.resolve_next_address()
        except Err as e:
            if e.value != N.ErrorCode.WOULD_BLOCK:
                raise
            poll.poll([stream.subscribe()])
            continue
        if a is None:
            break
        addrs.append(a)
    ip = addrs[0].value
    out("resolved " + ".".join(map(str, ip)))
    sock = tcp_create_socket.create_tcp_socket(N.IpAddressFamily.IPV4)
    sock.start_connect(net, v4(*ip, port))
    while True:
        try:
            inp, outp = sock.finish_connect()
            break
        except Err as e:
            if e.value != N.ErrorCode.WOULD_BLOCK:
                out("connect failed " + e.value.name.lower().replace("_", "-"))
                raise
            poll.poll([sock.subscribe()])
    out(f"connected remote={fmt(sock.remote_address())}")
    outp.blocking_write_and_flush(msg.encode())
    sock.shutdown(tcp.ShutdownType.SEND)
    got = b""
    while True:
        try:
            got += inp.blocking_read(65536)
        except Err:
            break
    out("reply " + got.decode())


def errors():
    net = instance_network.instance_network()
    v4fam = N.IpAddressFamily.IPV4
    t = tcp_create_socket.create_tcp_socket(v4fam)
    out("default.finish-bind=" + code(t.finish_bind))
    out("default.start-listen=" + code(t.start_listen))
    out("default.finish-connect=" + code(t.finish_connect))
    out("default.finish-listen=" + code(t.finish_listen))
    out("default.accept=" + code(t.accept))
    out("default.local-address=" + code(t.local_address))
    out("default.remote-address=" + code(t.remote_address))
    out("default.shutdown=" + code(t.shutdown, tcp.ShutdownType.BOTH))
    out("bind.wrong-family=" + code(t.start_bind, net, v6(0)))
    out("bind.multicast=" + code(t.start_bind, net, v4(224, 0, 0, 1, 0)))
    out("backlog.zero=" + code(t.set_listen_backlog_size, 0))
    out("keepalive-count.zero=" + code(t.set_keep_alive_count, 0))
    out("keepalive-idle.zero=" + code(t.set_keep_alive_idle_time, 0))
    out("hop-limit.zero=" + code(t.set_hop_limit, 0))
    out("recv-buffer.zero=" + code(t.set_receive_buffer_size, 0))
    out("hop-limit.set=" + code(t.set_hop_limit, 42) + f",{t.hop_limit()}")
    out("keepalive.set=" + code(t.set_keep_alive_enabled, True) + f",{t.keep_alive_enabled()}")
    out("keepalive-idle.set=" + code(t.set_keep_alive_idle_time, 30 * 10**9) + f",{t.keep_alive_idle_time()}")
    out("recv-buffer.set=" + code(t.set_receive_buffer_size, 65536) + f",{t.receive_buffer_size() > 0}")
    out("bind=" + code(t.start_bind, net, v4(0, 0, 0, 0, 7001)))
    out("bind.again=" + code(t.start_bind, net, v4(0, 0, 0, 0, 7001)))
    out("bound.local-address-before-finish=" + code(t.local_address))
    out("finish-bind=" + code(t.finish_bind))
    out("finish-bind.again=" + code(t.finish_bind))
    out("bound.local-address=" + fmt(t.local_address()))
    out("bound.finish-listen=" + code(t.finish_listen))
    out("start-listen=" + code(t.start_listen))
    out("start-listen.again=" + code(t.start_listen))
    out("finish-listen=" + code(t.finish_listen))
    out("listening=" + str(t.is_listening()))
    out("listening.accept=" + code(t.accept))
    out("listening.connect=" + code(t.start_connect, net, v4(127, 0, 0, 1, 7001)))
    out("listening.backlog=" + code(t.set_listen_backlog_size, 10))
    t2 = tcp_create_socket.create_tcp_socket(v4fam)
    out("bind.in-use=" + code(t2.start_bind, net, v4(0, 0, 0, 0, 7001)))
    t3 = tcp_create_socket.create_tcp_socket(v4fam)
    out("connect.unspecified=" + code(t3.start_connect, net, v4(0, 0, 0, 0, 80)))
    out("connect.port-zero=" + code(t3.start_connect, net, v4(127, 0, 0, 1, 0)))
    out("connect.wrong-family=" + code(t3.start_connect, net, v6(80, 0, 0, 0, 0, 0, 0, 0, 1)))
    out("connect.refused=" + code(t3.start_connect, net, v4(127, 0, 0, 1, int(sys.argv[2]))))
    out("connecting.connect=" + code(t3.start_connect, net, v4(127, 0, 0, 1, 1)))
    out("connecting.bind=" + code(t3.start_bind, net, v4(0, 0, 0, 0, 0)))
    poll.poll([t3.subscribe()])
    out("finish-connect=" + code(t3.finish_connect))
    out("failed.finish-connect=" + code(t3.finish_connect))
    out("failed.local-address=" + code(t3.local_address))
    out("failed.connect=" + code(t3.start_connect, net, v4(127, 0, 0, 1, 7001)))
    out("lookup.empty=" + code(ip_name_lookup.resolve_addresses, net, ""))
    out("lookup.bad=" + code(ip_name_lookup.resolve_addresses, net, "a b"))
    r = ip_name_lookup.resolve_addresses(net, "::1")
    out("lookup.ipv6-literal=" + str(r.resolve_next_address()) + "," + str(r.resolve_next_address()))
    # a connection to its own listener: through the container's port map
    c = tcp_create_socket.create_tcp_socket(v4fam)
    c.start_connect(net, v4(127, 0, 0, 1, 7001))
    poll.poll([c.subscribe()])
    _inp, outp = c.finish_connect()
    out("self.connected=" + fmt(c.remote_address()))
    out("self.finish-connect.again=" + code(c.finish_connect))
    out("self.bind=" + code(c.start_bind, net, v4(0, 0, 0, 0, 0)))
    poll.poll([t.subscribe()])
    s, sin, _sout = t.accept()
    out("self.accepted.local=" + fmt(s.local_address()))
    outp.blocking_write_and_flush(b"ping")
    out("self.read=" + sin.blocking_read(100).decode())
    c.shutdown(tcp.ShutdownType.SEND)
    try:
        sin.blocking_read(100)
        out("self.eof=no")
    except Err as e:
        out("self.eof=" + type(e.value).__name__)
    out("self.write-after-shutdown=" + code(outp.write, b"x"))
    out("done")


class Run(exports.Run):
    def run(self) -> None:
        what = sys.argv[1]
        if what == "server":
            server(int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else "ipv4")
        elif what == "client":
            client(sys.argv[2], int(sys.argv[3]), sys.argv[4])
        elif what == "errors":
            errors()
