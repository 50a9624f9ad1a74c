//go:build wasip1

// Sockets through WasmEdge's socket extension (the ABI of the wasmedge_wasi_socket crate, 0.5.x).
// Go's wasip1 port can only wrap sockets it is given, so we open, bind and connect them with the
// extension's imports, switch them to non-blocking and hand them to net.FileListener/FileConn:
// from there Go's own netpoller (poll_oneoff) and goroutines drive them.
package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"time"
	"unsafe"
)

//go:wasmimport wasi_snapshot_preview1 sock_open
func sockOpen(af, typ uint32, fd unsafe.Pointer) uint32

//go:wasmimport wasi_snapshot_preview1 sock_bind
func sockBind(fd uint32, addr unsafe.Pointer, port uint32) uint32

//go:wasmimport wasi_snapshot_preview1 sock_listen
func sockListen(fd, backlog uint32) uint32

//go:wasmimport wasi_snapshot_preview1 sock_connect
func sockConnect(fd uint32, addr unsafe.Pointer, port uint32) uint32

//go:wasmimport wasi_snapshot_preview1 sock_getsockopt
func sockGetsockopt(fd uint32, level, name int32, flag, flagSize unsafe.Pointer) uint32

//go:wasmimport wasi_snapshot_preview1 sock_setsockopt
func sockSetsockopt(fd uint32, level, name int32, flag unsafe.Pointer, flagSize uint32) uint32

//go:wasmimport wasi_snapshot_preview1 sock_getaddrinfo
func sockGetaddrinfo(node unsafe.Pointer, nodeLen uint32, service unsafe.Pointer, serviceLen uint32,
	hint, res unsafe.Pointer, maxLen uint32, resLen unsafe.Pointer) uint32

// The crate's enums (repr(u8)): AddressFamily, SocketType, AiProtocol; SocketOptName::SoError.
const (
	afInet4     = 1
	sockStream  = 2
	protoTCP    = 1
	solSocket   = 0
	soReuseaddr = 0
	soError     = 2
	maxAddrinfo = 8
)

// wasiAddress is the crate's WasiAddress {buf: *const u8, size: usize} on wasm32.
type wasiAddress struct{ buf, size uint32 }

func ptr[T any](p *T) uint32 { return uint32(uintptr(unsafe.Pointer(p))) }

func errno(call string, e uint32) error {
	return os.NewSyscallError(call, syscall.Errno(e))
}

func openStream() (uint32, error) {
	var fd uint32
	if e := sockOpen(afInet4, sockStream, unsafe.Pointer(&fd)); e != 0 {
		return 0, errno("sock_open", e)
	}
	return fd, nil
}

// Listen opens a TCP listener on 0.0.0.0:port (the original binds every interface).
func Listen(port int) (net.Listener, error) {
	fd, err := openStream()
	if err != nil {
		return nil, err
	}
	fail := func(err error) (net.Listener, error) {
		syscall.Close(int(fd))
		return nil, err
	}
	// SO_REUSEADDR as Rust's std and Go's net do, so a restarted service can rebind at once.
	one := int32(1)
	if e := sockSetsockopt(fd, solSocket, soReuseaddr, unsafe.Pointer(&one), 4); e != 0 {
		return fail(errno("sock_setsockopt", e))
	}
	ip := [4]byte{}
	addr := wasiAddress{ptr(&ip[0]), 4}
	if e := sockBind(fd, unsafe.Pointer(&addr), uint32(port)); e != 0 {
		return fail(errno("sock_bind", e))
	}
	if e := sockListen(fd, 128); e != 0 {
		return fail(errno("sock_listen", e))
	}
	if err := syscall.SetNonblock(int(fd), true); err != nil {
		return fail(err)
	}
	f := os.NewFile(uintptr(fd), fmt.Sprintf("listener:%d", port))
	defer f.Close() // the listener holds its own reference to the fd
	return net.FileListener(f)
}

// DialIP connects to an IPv4 address. The connect is non-blocking so an unreachable host costs
// at most the timeout, not a hung guest.
func DialIP(ip netip.Addr, port int, timeout time.Duration) (net.Conn, error) {
	if !ip.Is4() {
		return nil, fmt.Errorf("connect %s: only IPv4 is supported by sock_connect here", ip)
	}
	fd, err := openStream()
	if err != nil {
		return nil, err
	}
	if err := syscall.SetNonblock(int(fd), true); err != nil {
		syscall.Close(int(fd))
		return nil, err
	}
	raw := ip.As4()
	addr := wasiAddress{ptr(&raw[0]), 4}
	e := sockConnect(fd, unsafe.Pointer(&addr), uint32(port))
	runtime.KeepAlive(&raw)
	if e != 0 && syscall.Errno(e) != syscall.EINPROGRESS && syscall.Errno(e) != syscall.EAGAIN {
		syscall.Close(int(fd))
		return nil, fmt.Errorf("connect %s:%d: %w", ip, port, errno("sock_connect", e))
	}
	f := os.NewFile(uintptr(fd), fmt.Sprintf("%s:%d", ip, port))
	conn, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return nil, err
	}
	if e != 0 {
		if err := waitConnected(conn, fd, timeout); err != nil {
			conn.Close()
			return nil, fmt.Errorf("connect %s:%d: %w", ip, port, err)
		}
	}
	return conn, nil
}

// waitConnected waits until the socket is writable (the connect finished), then reads SO_ERROR.
func waitConnected(conn net.Conn, fd uint32, timeout time.Duration) error {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return errors.New("connection has no raw access")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	if err := conn.SetWriteDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	defer conn.SetWriteDeadline(time.Time{})
	first := true
	var soerr error
	werr := rc.Write(func(uintptr) bool {
		if first { // the callback runs once before waiting: the connect cannot be done yet
			first = false
			return false
		}
		var v int32
		size := uint32(4)
		if e := sockGetsockopt(fd, solSocket, soError, unsafe.Pointer(&v), unsafe.Pointer(&size)); e != 0 {
			soerr = errno("sock_getsockopt", e)
		} else if v != 0 {
			soerr = syscall.Errno(v)
		}
		return true
	})
	if werr != nil {
		return werr
	}
	return soerr
}

// lookupGetaddrinfo resolves a name with the extension's sock_getaddrinfo (IPv4, TCP). The port
// goes in as the service, as the crate's ToSocketAddrs does ("db", "3306").
func lookupGetaddrinfo(host string, port int) ([]netip.Addr, error) {
	node := append([]byte(host), 0)
	service := append([]byte(strconv.Itoa(port)), 0)
	// WasiAddrinfo, packed(4): flags u16@0 family u8@2 socktype u8@3 protocol u8@4
	// addrlen u32@8 addr*@12 canonname*@16 canonnamelen u32@20 next*@24 (28 bytes).
	// WasiSockaddr (repr C): family u8@0 sa_data_len u32@4 sa_data*@8 (12 bytes).
	const aiSize, saSize, dataSize = 28, 12, 26
	hint := make([]byte, aiSize)
	hint[2], hint[3], hint[4] = afInet4, sockStream, protoTCP
	infos := make([]byte, aiSize*maxAddrinfo)
	addrs := make([]byte, saSize*maxAddrinfo)
	data := make([]byte, dataSize*maxAddrinfo)
	canon := make([]byte, 32*maxAddrinfo)
	le := binary.LittleEndian
	for i := 0; i < maxAddrinfo; i++ {
		ai, sa := infos[i*aiSize:], addrs[i*saSize:]
		ai[2], ai[3], ai[4] = afInet4, sockStream, protoTCP
		le.PutUint32(ai[12:], ptr(&sa[0]))
		le.PutUint32(ai[16:], ptr(&canon[i*32]))
		if i+1 < maxAddrinfo {
			le.PutUint32(ai[24:], ptr(&infos[(i+1)*aiSize]))
		}
		sa[0] = afInet4
		le.PutUint32(sa[4:], 14)
		le.PutUint32(sa[8:], ptr(&data[i*dataSize]))
	}
	res := ptr(&infos[0])
	var n uint32
	e := sockGetaddrinfo(unsafe.Pointer(&node[0]), uint32(len(node)), unsafe.Pointer(&service[0]),
		uint32(len(service)), unsafe.Pointer(&hint[0]), unsafe.Pointer(&res), maxAddrinfo, unsafe.Pointer(&n))
	runtime.KeepAlive(infos)
	runtime.KeepAlive(addrs)
	runtime.KeepAlive(canon)
	if e != 0 {
		return nil, fmt.Errorf("lookup %s: %w", host, errno("sock_getaddrinfo", e))
	}
	var out []netip.Addr
	for i := 0; i < int(n) && i < maxAddrinfo; i++ {
		if addrs[i*saSize] != afInet4 {
			continue
		}
		d := data[i*dataSize:] // sa_data: port (big endian u16), then the IPv4 address
		out = append(out, netip.AddrFrom4([4]byte{d[2], d[3], d[4], d[5]}))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("lookup %s: no IPv4 address", host)
	}
	return out, nil
}
