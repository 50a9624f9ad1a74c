package main

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"orderservice/dnstcp"
	"orderservice/mysql"
)

const (
	dialTimeout  = 5 * time.Second
	queryTimeout = 15 * time.Second
	maxIdle      = 5
)

var dnsID atomic.Uint32

// resolve turns a host name into IPv4 addresses: IP literals as they are, then DNS over TCP
// when DNS_SERVER is set (as wasmedge_wasi_socket does), otherwise sock_getaddrinfo.
func resolve(host string, port int) ([]netip.Addr, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{ip}, nil
	}
	server := os.Getenv("DNS_SERVER")
	if server == "" {
		return lookupGetaddrinfo(host, port)
	}
	dnsIP, dnsPort, err := parseHostPort(server, 53)
	if err != nil {
		return nil, fmt.Errorf("DNS_SERVER=%q must be an address like 127.0.0.11:53: %w", server, err)
	}
	conn, err := DialIP(dnsIP, dnsPort, dialTimeout)
	if err != nil {
		return nil, fmt.Errorf("lookup %s: DNS server %s: %w", host, server, err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(dialTimeout))
	return dnstcp.Resolve(conn, uint16(dnsID.Add(1)), host)
}

// parseHostPort reads "ip" or "ip:port" (the DNS server must be an address, not a name).
func parseHostPort(s string, defaultPort int) (netip.Addr, int, error) {
	if ip, err := netip.ParseAddr(s); err == nil {
		return ip, defaultPort, nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return netip.Addr{}, 0, err
	}
	return ap.Addr(), int(ap.Port()), nil
}

func dial(host string, port int) (net.Conn, error) {
	addrs, err := resolve(host, port)
	if err != nil {
		return nil, err
	}
	var last error
	for _, ip := range addrs {
		conn, err := DialIP(ip, port, dialTimeout)
		if err == nil {
			return conn, nil
		}
		last = err
	}
	return nil, last
}

// Pool keeps a few logged-in connections; a connection that failed is dropped, not reused.
type Pool struct {
	cfg  mysql.Config
	mu   sync.Mutex
	idle []*mysql.Conn
}

// get returns an idle connection (reused=true) or a new one.
func (p *Pool) get() (c *mysql.Conn, reused bool, err error) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		c = p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return c, true, nil
	}
	p.mu.Unlock()
	c, err = p.connect()
	return c, false, err
}

func (p *Pool) connect() (*mysql.Conn, error) {
	nc, err := dial(p.cfg.Host, p.cfg.Port)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the database at %s: %w",
			net.JoinHostPort(p.cfg.Host, strconv.Itoa(p.cfg.Port)), err)
	}
	c, err := mysql.Handshake(nc, p.cfg, queryTimeout)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("cannot log in to the database as %q: %w", p.cfg.User, err)
	}
	return c, nil
}

func isServerError(err error) bool {
	_, ok := err.(*mysql.ServerError)
	return ok
}

func (p *Pool) put(c *mysql.Conn, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if (err != nil && !isServerError(err)) || len(p.idle) >= maxIdle {
		c.Close()
		return
	}
	p.idle = append(p.idle, c)
}

// Exec runs statements on one pooled connection, stopping at the first error. An idle connection
// the server has closed meanwhile (wait_timeout, restart) fails on its first write or read: that
// case is retried once on a new connection.
func (p *Pool) Exec(stmts func(c *mysql.Conn) error) error {
	c, reused, err := p.get()
	if err != nil {
		return err
	}
	err = stmts(c)
	p.put(c, err)
	if err != nil && reused && !isServerError(err) {
		if c, err = p.connect(); err != nil {
			return err
		}
		err = stmts(c)
		p.put(c, err)
	}
	return err
}
