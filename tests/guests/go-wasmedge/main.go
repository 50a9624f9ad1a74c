// GOOS=wasip1 HTTP server that opens its own listener through WasmEdge's socket imports
// (//go:wasmimport), one connection at a time. Env: PORT (8080). Routes: /hello, POST /echo.
package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"unsafe"
)

//go:wasmimport wasi_snapshot_preview1 sock_open
func sockOpen(af, typ uint32, fd unsafe.Pointer) uint32

//go:wasmimport wasi_snapshot_preview1 sock_bind
func sockBind(fd uint32, addr unsafe.Pointer, port uint32) uint32

//go:wasmimport wasi_snapshot_preview1 sock_listen
func sockListen(fd, backlog uint32) uint32

//go:wasmimport wasi_snapshot_preview1 sock_accept
func sockAccept(fd uint32, newfd unsafe.Pointer) uint32

//go:wasmimport wasi_snapshot_preview1 sock_recv
func sockRecv(fd uint32, iov unsafe.Pointer, n, flags uint32, rlen, oflags unsafe.Pointer) uint32

//go:wasmimport wasi_snapshot_preview1 sock_send
func sockSend(fd uint32, iov unsafe.Pointer, n, flags uint32, slen unsafe.Pointer) uint32

//go:wasmimport wasi_snapshot_preview1 fd_close
func fdClose(fd uint32) uint32

type iovec struct{ buf, size uint32 }
type wasiAddress struct{ buf, size uint32 }

func send(fd uint32, b []byte) {
	for len(b) > 0 {
		v := iovec{uint32(uintptr(unsafe.Pointer(&b[0]))), uint32(len(b))}
		var n uint32
		if e := sockSend(fd, unsafe.Pointer(&v), 1, 0, unsafe.Pointer(&n)); e != 0 {
			return
		}
		b = b[n:]
	}
}

func recv(fd uint32, buf []byte) int {
	v := iovec{uint32(uintptr(unsafe.Pointer(&buf[0]))), uint32(len(buf))}
	var n, of uint32
	if e := sockRecv(fd, unsafe.Pointer(&v), 1, 0, unsafe.Pointer(&n), unsafe.Pointer(&of)); e != 0 {
		return -1
	}
	return int(n)
}

func main() {
	port, _ := strconv.Atoi(os.Getenv("PORT"))
	if port == 0 {
		port = 8080
	}
	var lfd uint32
	if e := sockOpen(1, 2, unsafe.Pointer(&lfd)); e != 0 {
		fmt.Println("sock_open", e)
		os.Exit(1)
	}
	ip := [4]byte{0, 0, 0, 0}
	a := wasiAddress{uint32(uintptr(unsafe.Pointer(&ip[0]))), 4}
	if e := sockBind(lfd, unsafe.Pointer(&a), uint32(port)); e != 0 {
		fmt.Println("sock_bind", e)
		os.Exit(1)
	}
	sockListen(lfd, 16)
	fmt.Println("go-wasmedge: listening on port", port)
	chunk := make([]byte, 65536)
	for i := 0; ; i++ {
		var cfd uint32
		if e := sockAccept(lfd, unsafe.Pointer(&cfd)); e != 0 {
			fmt.Println("sock_accept", e)
			os.Exit(1)
		}
		var req []byte
		for bytes.Index(req, []byte("\r\n\r\n")) < 0 {
			n := recv(cfd, chunk)
			if n <= 0 {
				break
			}
			req = append(req, chunk[:n]...)
		}
		end := bytes.Index(req, []byte("\r\n\r\n"))
		if end < 0 {
			fdClose(cfd)
			continue
		}
		head := string(req[:end])
		body := req[end+4:]
		clen := 0
		for _, line := range strings.Split(head, "\r\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, "Content-Length") {
				clen, _ = strconv.Atoi(strings.TrimSpace(v))
			}
		}
		for len(body) < clen {
			n := recv(cfd, chunk)
			if n <= 0 {
				break
			}
			body = append(body, chunk[:n]...)
		}
		fields := strings.Fields(head)
		var out []byte
		if len(fields) > 1 && fields[1] == "/echo" {
			out = body
		} else {
			out = []byte(fmt.Sprintf("hello from go wasmedge-style #%d\n", i))
		}
		send(cfd, []byte(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", len(out))))
		send(cfd, out)
		fdClose(cfd)
	}
}
