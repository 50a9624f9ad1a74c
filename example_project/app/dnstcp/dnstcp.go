// Package dnstcp resolves a name with one DNS query over TCP (RFC 1035 section 4.2.2), the way
// wasmedge_wasi_socket 0.5+ does when DNS_SERVER is set: Docker's embedded DNS at 127.0.0.11:53
// answers over TCP, and a Wasm guest has no UDP.
package dnstcp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
)

const (
	TypeA    = 1
	TypeAAAA = 28
	classIN  = 1
)

// Query builds a recursive query for one name and type.
func Query(id uint16, name string, qtype uint16) ([]byte, error) {
	msg := make([]byte, 12, 64)
	binary.BigEndian.PutUint16(msg[0:], id)
	binary.BigEndian.PutUint16(msg[2:], 0x0100) // RD
	binary.BigEndian.PutUint16(msg[4:], 1)      // QDCOUNT
	name = strings.TrimSuffix(name, ".")
	if name == "" || len(name) > 253 {
		return nil, fmt.Errorf("invalid DNS name %q", name)
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 {
			return nil, fmt.Errorf("invalid DNS name %q", name)
		}
		msg = append(msg, byte(len(label)))
		msg = append(msg, label...)
	}
	msg = append(msg, 0, byte(qtype>>8), byte(qtype), 0, classIN)
	return msg, nil
}

// Exchange writes a query with the 2-byte TCP length prefix and reads one framed answer.
func Exchange(rw io.ReadWriter, query []byte) ([]byte, error) {
	framed := binary.BigEndian.AppendUint16(nil, uint16(len(query)))
	if _, err := rw.Write(append(framed, query...)); err != nil {
		return nil, err
	}
	var size [2]byte
	if _, err := io.ReadFull(rw, size[:]); err != nil {
		return nil, fmt.Errorf("reading DNS answer length: %w", err)
	}
	answer := make([]byte, binary.BigEndian.Uint16(size[:]))
	if _, err := io.ReadFull(rw, answer); err != nil {
		return nil, fmt.Errorf("reading DNS answer: %w", err)
	}
	return answer, nil
}

var errShort = errors.New("truncated DNS message")

// skipName steps over a (possibly compressed) name and returns the offset after it.
func skipName(msg []byte, off int) (int, error) {
	for {
		if off >= len(msg) {
			return 0, errShort
		}
		n := int(msg[off])
		switch {
		case n == 0:
			return off + 1, nil
		case n&0xC0 == 0xC0:
			return off + 2, nil
		case n&0xC0 != 0:
			return 0, errors.New("bad DNS label")
		}
		off += 1 + n
	}
}

// Parse returns the addresses of type qtype in an answer to the query with the given id.
func Parse(msg []byte, id uint16, qtype uint16) ([]netip.Addr, error) {
	if len(msg) < 12 {
		return nil, errShort
	}
	be := binary.BigEndian
	if be.Uint16(msg) != id {
		return nil, errors.New("DNS answer for another query")
	}
	flags := be.Uint16(msg[2:])
	if flags&0x8000 == 0 {
		return nil, errors.New("DNS message is not a response")
	}
	switch rcode := flags & 0xF; rcode {
	case 0:
	case 3:
		return nil, errors.New("no such host (NXDOMAIN)")
	default:
		return nil, fmt.Errorf("DNS server answered rcode %d", rcode)
	}
	qd, an := int(be.Uint16(msg[4:])), int(be.Uint16(msg[6:]))
	off := 12
	for i := 0; i < qd; i++ {
		end, err := skipName(msg, off)
		if err != nil {
			return nil, err
		}
		off = end + 4
	}
	var out []netip.Addr
	for i := 0; i < an; i++ {
		end, err := skipName(msg, off)
		if err != nil {
			return nil, err
		}
		if end+10 > len(msg) {
			return nil, errShort
		}
		typ, class, rdlen := be.Uint16(msg[end:]), be.Uint16(msg[end+2:]), int(be.Uint16(msg[end+8:]))
		data := end + 10
		if data+rdlen > len(msg) {
			return nil, errShort
		}
		if class == classIN && typ == qtype {
			if addr, ok := netip.AddrFromSlice(msg[data : data+rdlen]); ok {
				out = append(out, addr)
			}
		}
		off = data + rdlen
	}
	return out, nil
}

// Resolve asks for the A records of name over an established connection to a DNS server.
func Resolve(rw io.ReadWriter, id uint16, name string) ([]netip.Addr, error) {
	q, err := Query(id, name, TypeA)
	if err != nil {
		return nil, err
	}
	answer, err := Exchange(rw, q)
	if err != nil {
		return nil, err
	}
	addrs, err := Parse(answer, id, TypeA)
	if err != nil {
		return nil, fmt.Errorf("lookup %s: %w", name, err)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("lookup %s: no IPv4 address", name)
	}
	return addrs, nil
}
