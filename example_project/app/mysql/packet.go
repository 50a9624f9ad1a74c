// Package mysql is a minimal MySQL/MariaDB client: protocol 4.1 handshake (v10),
// mysql_native_password, COM_QUERY with text result sets, and client-side parameter
// interpolation. Enough for the order service; no prepared statements, TLS or compression.
package mysql

import (
	"encoding/binary"
	"fmt"
	"io"
)

const maxPayload = 1<<24 - 1

// packetConn frames MySQL packets: a 3-byte little-endian length and a sequence number.
type packetConn struct {
	rw  io.ReadWriter
	seq byte
}

func (p *packetConn) readPacket() ([]byte, error) {
	var payload []byte
	for {
		var hdr [4]byte
		if _, err := io.ReadFull(p.rw, hdr[:]); err != nil {
			return nil, fmt.Errorf("reading packet header: %w", err)
		}
		size := int(hdr[0]) | int(hdr[1])<<8 | int(hdr[2])<<16
		if hdr[3] != p.seq {
			return nil, fmt.Errorf("packet out of order: got sequence %d, want %d", hdr[3], p.seq)
		}
		p.seq++
		chunk := make([]byte, size)
		if _, err := io.ReadFull(p.rw, chunk); err != nil {
			return nil, fmt.Errorf("reading packet: %w", err)
		}
		payload = append(payload, chunk...)
		if size < maxPayload { // a full-size chunk means more follow
			return payload, nil
		}
	}
}

func (p *packetConn) writePacket(payload []byte) error {
	for {
		n := len(payload)
		if n > maxPayload {
			n = maxPayload
		}
		buf := make([]byte, 4, 4+n)
		buf[0], buf[1], buf[2], buf[3] = byte(n), byte(n>>8), byte(n>>16), p.seq
		p.seq++
		if _, err := p.rw.Write(append(buf, payload[:n]...)); err != nil {
			return fmt.Errorf("writing packet: %w", err)
		}
		payload = payload[n:]
		if n < maxPayload {
			return nil
		}
	}
}

// reader walks a packet's fields.
type reader struct {
	b   []byte
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil || n > len(r.b) || n < 0 {
		r.err = io.ErrUnexpectedEOF
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) byte1() byte {
	b := r.take(1)
	if b == nil {
		return 0
	}
	return b[0]
}

func (r *reader) uint16() uint16 {
	b := r.take(2)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint16(b)
}

func (r *reader) uint32() uint32 {
	b := r.take(4)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(b)
}

func (r *reader) nulString() []byte {
	for i, c := range r.b {
		if c == 0 {
			s := r.b[:i]
			r.b = r.b[i+1:]
			return s
		}
	}
	if r.err == nil {
		r.err = io.ErrUnexpectedEOF
	}
	return nil
}

// lenencInt reads a length-encoded integer; null is true for the NULL marker 0xFB.
func (r *reader) lenencInt() (v uint64, null bool) {
	first := r.byte1()
	switch first {
	case 0xFB:
		return 0, true
	case 0xFC:
		return uint64(r.uint16()), false
	case 0xFD:
		b := r.take(3)
		if b == nil {
			return 0, false
		}
		return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16, false
	case 0xFE:
		b := r.take(8)
		if b == nil {
			return 0, false
		}
		return binary.LittleEndian.Uint64(b), false
	}
	return uint64(first), false
}

func (r *reader) lenencString() (s []byte, null bool) {
	n, null := r.lenencInt()
	if null {
		return nil, true
	}
	return r.take(int(n)), false
}

func appendLenencInt(b []byte, v uint64) []byte {
	switch {
	case v < 251:
		return append(b, byte(v))
	case v < 1<<16:
		return append(b, 0xFC, byte(v), byte(v>>8))
	case v < 1<<24:
		return append(b, 0xFD, byte(v), byte(v>>8), byte(v>>16))
	}
	return binary.LittleEndian.AppendUint64(append(b, 0xFE), v)
}
