//go:build !wasip1

// Host builds (go vet, go test on the developer's machine) use the ordinary net package.
package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"
)

func Listen(port int) (net.Listener, error) { return net.Listen("tcp4", fmt.Sprintf(":%d", port)) }

func DialIP(ip netip.Addr, port int, timeout time.Duration) (net.Conn, error) {
	return net.DialTimeout("tcp", netip.AddrPortFrom(ip, uint16(port)).String(), timeout)
}

func lookupGetaddrinfo(host string, _ int) ([]netip.Addr, error) {
	return net.DefaultResolver.LookupNetIP(context.Background(), "ip4", host)
}
