package mysql

import (
	"bytes"
	"crypto/sha1"
	"net"
	"strings"
	"testing"
)

// The server's check of a native-password reply: SHA1(reply XOR SHA1(seed + stored)) == stored,
// where stored = SHA1(SHA1(password)) is what mysql.user keeps.
func TestScrambleNativePassesTheServersCheck(t *testing.T) {
	seed := []byte("abcdefghij0123456789")
	reply := ScrambleNative(seed, "whalehello")
	h1 := sha1.Sum([]byte("whalehello"))
	stored := sha1.Sum(h1[:])
	mix := sha1.Sum(append(append([]byte{}, seed...), stored[:]...))
	candidate := make([]byte, 20)
	for i := range candidate {
		candidate[i] = reply[i] ^ mix[i]
	}
	if got := sha1.Sum(candidate); got != stored {
		t.Fatalf("server would reject the scramble")
	}
	if ScrambleNative(seed, "") != nil {
		t.Fatalf("an empty password sends an empty auth response")
	}
}

func TestEscape(t *testing.T) {
	got := Escape("it's \"x\" \\ \n\r\x00\x1a ok")
	want := `'it\'s \"x\" \\ \n\r\0\Z ok'`
	if got != want {
		t.Fatalf("Escape = %s, want %s", got, want)
	}
}

func TestInterpolate(t *testing.T) {
	got, err := Interpolate("INSERT INTO t VALUES (?, ?, ?, '?', ?, ?)", int32(-3), float32(15.99), "a'b", nil, true)
	if err != nil {
		t.Fatal(err)
	}
	want := `INSERT INTO t VALUES (-3, 15.99, 'a\'b', '?', NULL, TRUE)`
	if got != want {
		t.Fatalf("got %s\nwant %s", got, want)
	}
	if _, err := Interpolate("SELECT ?, ?", 1); err == nil || !strings.Contains(err.Error(), "placeholders") {
		t.Fatalf("too few arguments: %v", err)
	}
	if _, err := Interpolate("SELECT ?", 1, 2); err == nil {
		t.Fatal("too many arguments accepted")
	}
	if _, err := Interpolate("SELECT ?", []int{1}); err == nil {
		t.Fatal("unsupported type accepted")
	}
}

func TestLenencRoundTrip(t *testing.T) {
	for _, v := range []uint64{0, 250, 251, 65535, 65536, 1<<24 - 1, 1 << 24, 1<<64 - 1} {
		r := reader{b: appendLenencInt(nil, v)}
		got, null := r.lenencInt()
		if got != v || null || r.err != nil || len(r.b) != 0 {
			t.Fatalf("%d -> %d (null=%v err=%v)", v, got, null, r.err)
		}
	}
	r := reader{b: []byte{0xFB}}
	if _, null := r.lenencString(); !null {
		t.Fatal("0xFB is NULL")
	}
	r = reader{b: []byte{0xFC, 0x01}}
	r.lenencInt()
	if r.err == nil {
		t.Fatal("truncated integer not reported")
	}
}

func TestPacketsSplitAtSixteenMegabytes(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	big := bytes.Repeat([]byte{'x'}, maxPayload+10)
	go func() {
		w := packetConn{rw: a}
		_ = w.writePacket(big)
		_ = w.writePacket([]byte("next"))
	}()
	r := packetConn{rw: b}
	got, err := r.readPacket()
	if err != nil || !bytes.Equal(got, big) {
		t.Fatalf("big packet: %d bytes, %v", len(got), err)
	}
	if got, err := r.readPacket(); err != nil || string(got) != "next" {
		t.Fatalf("next packet: %q %v", got, err)
	}
}

func TestParseURL(t *testing.T) {
	c, err := ParseURL("mysql://root:whale%40hello@db:3306/mysql")
	if err != nil || c.User != "root" || c.Password != "whale@hello" || c.Host != "db" || c.Port != 3306 || c.Database != "mysql" {
		t.Fatalf("%+v %v", c, err)
	}
	for _, bad := range []string{"postgres://db/x", "mysql://db", "mysql://:3306/x", "mysql://db:99999/x"} {
		if _, err := ParseURL(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestServerErrorPacket(t *testing.T) {
	err := parseErr(append([]byte{0xFF, 0x15, 0x04, '#', '2', '8', '0', '0', '0'}, "Access denied"...))
	se, ok := err.(*ServerError)
	if !ok || se.Code != 1045 || se.SQLState != "28000" || se.Message != "Access denied" {
		t.Fatalf("%#v", err)
	}
}
