package dnstcp

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
)

func TestQueryWireFormat(t *testing.T) {
	q, err := Query(0x1234, "db.", TypeA)
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 2, 'd', 'b', 0, 0, 1, 0, 1}
	if !bytes.Equal(q, want) {
		t.Fatalf("% x", q)
	}
	for _, bad := range []string{"", "a..b", string(bytes.Repeat([]byte{'a'}, 64))} {
		if _, err := Query(1, bad, TypeA); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// answer builds a reply with a compressed answer name, as DNS servers send them.
func answer(id uint16, rcode uint16, ips ...string) []byte {
	q, _ := Query(id, "db", TypeA)
	binary.BigEndian.PutUint16(q[2:], 0x8180|rcode)
	binary.BigEndian.PutUint16(q[6:], uint16(len(ips)))
	for _, s := range ips {
		ip := netip.MustParseAddr(s)
		typ, raw := uint16(TypeA), ip.AsSlice()
		if ip.Is6() {
			typ = TypeAAAA
		}
		q = append(q, 0xC0, 12)
		q = binary.BigEndian.AppendUint16(q, typ)
		q = append(q, 0, 1, 0, 0, 0, 60)
		q = binary.BigEndian.AppendUint16(q, uint16(len(raw)))
		q = append(q, raw...)
	}
	return q
}

func TestParse(t *testing.T) {
	addrs, err := Parse(answer(7, 0, "10.0.0.2", "fd00::1", "10.0.0.3"), 7, TypeA)
	if err != nil || len(addrs) != 2 || addrs[0].String() != "10.0.0.2" || addrs[1].String() != "10.0.0.3" {
		t.Fatalf("%v %v", addrs, err)
	}
	if _, err := Parse(answer(7, 3), 7, TypeA); err == nil {
		t.Fatal("NXDOMAIN accepted")
	}
	if _, err := Parse(answer(8, 0, "10.0.0.2"), 7, TypeA); err == nil {
		t.Fatal("answer to another id accepted")
	}
	full := answer(7, 0, "10.0.0.2")
	for n := 0; n < len(full); n++ {
		if _, err := Parse(full[:n], 7, TypeA); err == nil {
			t.Fatalf("truncated at %d accepted", n)
		}
	}
}

func TestResolveOverTCPFraming(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	go func() {
		defer server.Close()
		var size [2]byte
		if _, err := server.Read(size[:]); err != nil {
			return
		}
		q := make([]byte, binary.BigEndian.Uint16(size[:]))
		if _, err := server.Read(q); err != nil {
			return
		}
		reply := answer(binary.BigEndian.Uint16(q), 0, "10.1.2.3")
		_, _ = server.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(reply))), reply...))
	}()
	addrs, err := Resolve(client, 99, "db")
	if err != nil || len(addrs) != 1 || addrs[0].String() != "10.1.2.3" {
		t.Fatalf("%v %v", addrs, err)
	}
}
