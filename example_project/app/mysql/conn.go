package mysql

import (
	"crypto/sha1"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Capability flags we ask for (protocol 4.1 with plugin auth).
const (
	clientLongPassword     = 1 << 0
	clientFoundRows        = 1 << 1
	clientLongFlag         = 1 << 2
	clientConnectWithDB    = 1 << 3
	clientProtocol41       = 1 << 9
	clientTransactions     = 1 << 13
	clientSecureConnection = 1 << 15
	clientMultiResults     = 1 << 17
	clientPluginAuth       = 1 << 19
	charsetUTF8MB4         = 45
	nativePassword         = "mysql_native_password"
)

// Config is what a mysql:// URL carries.
type Config struct {
	User, Password, Host, Database string
	Port                           int
}

// ParseURL reads mysql://user:password@host:port/database (the DATABASE_URL of the original).
func ParseURL(raw string) (Config, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Config{}, fmt.Errorf("DATABASE_URL is not a URL: %w", err)
	}
	if u.Scheme != "mysql" {
		return Config{}, fmt.Errorf("DATABASE_URL must start with mysql://, got %q", u.Scheme+"://")
	}
	c := Config{Host: u.Hostname(), Port: 3306, Database: strings.TrimPrefix(u.Path, "/")}
	if u.User != nil {
		c.User = u.User.Username()
		c.Password, _ = u.User.Password()
	}
	if p := u.Port(); p != "" {
		if c.Port, err = strconv.Atoi(p); err != nil || c.Port <= 0 || c.Port > 65535 {
			return Config{}, fmt.Errorf("DATABASE_URL has a bad port %q", p)
		}
	}
	if c.Host == "" {
		return Config{}, errors.New("DATABASE_URL has no host")
	}
	if c.Database == "" {
		return Config{}, errors.New("DATABASE_URL needs a database name, e.g. mysql://root:pass@db:3306/mysql")
	}
	return c, nil
}

// ServerError is an ERR packet from the server.
type ServerError struct {
	Code     uint16
	SQLState string
	Message  string
}

func (e *ServerError) Error() string {
	return fmt.Sprintf("mysql error %d (%s): %s", e.Code, e.SQLState, e.Message)
}

func parseErr(p []byte) error {
	r := reader{b: p[1:]}
	e := &ServerError{Code: r.uint16()}
	if len(r.b) > 0 && r.b[0] == '#' {
		r.take(1)
		e.SQLState = string(r.take(5))
	}
	e.Message = string(r.b)
	return e
}

// Conn is one client connection. Not safe for concurrent use.
type Conn struct {
	nc      net.Conn
	pc      packetConn
	Timeout time.Duration
	Server  string
}

// ScrambleNative computes the mysql_native_password auth response:
// SHA1(password) XOR SHA1(seed + SHA1(SHA1(password))).
func ScrambleNative(seed []byte, password string) []byte {
	if password == "" {
		return nil
	}
	h1 := sha1.Sum([]byte(password))
	h2 := sha1.Sum(h1[:])
	h := sha1.New()
	h.Write(seed)
	h.Write(h2[:])
	out := h.Sum(nil)
	for i := range out {
		out[i] ^= h1[i]
	}
	return out
}

// Handshake logs in over an established connection.
func Handshake(nc net.Conn, c Config, timeout time.Duration) (*Conn, error) {
	conn := &Conn{nc: nc, pc: packetConn{rw: nc}, Timeout: timeout}
	conn.deadline()
	greeting, err := conn.pc.readPacket()
	if err != nil {
		return nil, err
	}
	if len(greeting) > 0 && greeting[0] == 0xFF {
		return nil, parseErr(greeting)
	}
	r := reader{b: greeting}
	if v := r.byte1(); v != 10 {
		return nil, fmt.Errorf("unsupported handshake protocol version %d (want 10)", v)
	}
	conn.Server = string(r.nulString())
	r.uint32() // connection id
	seed := append([]byte{}, r.take(8)...)
	r.byte1()
	caps := uint32(r.uint16())
	plugin := nativePassword
	if len(r.b) > 0 {
		r.byte1()  // charset
		r.uint16() // status
		caps |= uint32(r.uint16()) << 16
		authLen := int(r.byte1())
		r.take(10)
		if caps&clientSecureConnection != 0 {
			n := authLen - 8
			if n < 13 {
				n = 13
			}
			part := r.take(n)
			if len(part) > 0 && part[len(part)-1] == 0 {
				part = part[:len(part)-1]
			}
			seed = append(seed, part...)
		}
		if caps&clientPluginAuth != 0 && len(r.b) > 0 {
			plugin = strings.TrimRight(string(r.b), "\x00")
		}
	}
	if r.err != nil {
		return nil, fmt.Errorf("malformed server greeting: %w", r.err)
	}
	if caps&clientProtocol41 == 0 {
		return nil, errors.New("server does not speak protocol 4.1")
	}
	flags := uint32(clientLongPassword | clientFoundRows | clientLongFlag | clientConnectWithDB |
		clientProtocol41 | clientTransactions | clientSecureConnection | clientMultiResults | clientPluginAuth)
	auth := ScrambleNative(seed, c.Password)
	if plugin != nativePassword {
		auth = nil // ask for a switch to a plugin we know
	}
	resp := make([]byte, 0, 128)
	resp = append(resp, byte(flags), byte(flags>>8), byte(flags>>16), byte(flags>>24))
	resp = append(resp, 0, 0, 0, 1, charsetUTF8MB4) // max packet 16 MiB
	resp = append(resp, make([]byte, 23)...)
	resp = append(append(resp, c.User...), 0)
	resp = append(append(resp, byte(len(auth))), auth...)
	resp = append(append(resp, c.Database...), 0)
	resp = append(append(resp, nativePassword...), 0)
	if err := conn.pc.writePacket(resp); err != nil {
		return nil, err
	}
	for {
		p, err := conn.pc.readPacket()
		if err != nil {
			return nil, err
		}
		if len(p) == 0 {
			return nil, errors.New("empty packet during login")
		}
		switch p[0] {
		case 0x00:
			return conn, nil
		case 0xFF:
			return nil, parseErr(p)
		case 0xFE: // auth switch request: plugin name, then a new seed
			sr := reader{b: p[1:]}
			name := string(sr.nulString())
			if name != nativePassword {
				return nil, fmt.Errorf("server wants auth plugin %q; only %s is supported "+
					"(create the user WITH mysql_native_password)", name, nativePassword)
			}
			newSeed := strings.TrimRight(string(sr.b), "\x00")
			if err := conn.pc.writePacket(ScrambleNative([]byte(newSeed), c.Password)); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("unexpected packet 0x%02x during login", p[0])
		}
	}
}

func (c *Conn) deadline() {
	if c.Timeout > 0 {
		_ = c.nc.SetDeadline(time.Now().Add(c.Timeout))
	}
}

// Close sends COM_QUIT and closes the connection.
func (c *Conn) Close() error {
	c.pc.seq = 0
	_ = c.pc.writePacket([]byte{0x01})
	return c.nc.Close()
}

// Result is what a statement returned: affected rows for DML, columns and rows for queries.
type Result struct {
	AffectedRows uint64
	LastInsertID uint64
	Columns      []string
	Rows         [][]*string // nil for SQL NULL
}

func isEOF(p []byte) bool { return len(p) > 0 && p[0] == 0xFE && len(p) < 9 }

// Exec runs one statement with COM_QUERY. Arguments replace '?' placeholders (see Interpolate).
func (c *Conn) Exec(query string, args ...any) (*Result, error) {
	if len(args) > 0 {
		var err error
		if query, err = Interpolate(query, args...); err != nil {
			return nil, err
		}
	}
	c.deadline()
	c.pc.seq = 0
	if err := c.pc.writePacket(append([]byte{0x03}, query...)); err != nil {
		return nil, err
	}
	p, err := c.pc.readPacket()
	if err != nil {
		return nil, err
	}
	if len(p) == 0 {
		return nil, errors.New("empty response packet")
	}
	switch p[0] {
	case 0x00:
		r := reader{b: p[1:]}
		res := &Result{}
		res.AffectedRows, _ = r.lenencInt()
		res.LastInsertID, _ = r.lenencInt()
		return res, nil
	case 0xFF:
		return nil, parseErr(p)
	case 0xFB:
		return nil, errors.New("server asked for LOCAL INFILE, which is not supported")
	}
	r := reader{b: p}
	ncols, _ := r.lenencInt()
	res := &Result{}
	for i := uint64(0); i < ncols; i++ {
		def, err := c.pc.readPacket()
		if err != nil {
			return nil, err
		}
		// catalog, schema, table, org_table, name, org_name, ...
		dr := reader{b: def}
		for j := 0; j < 4; j++ {
			dr.lenencString()
		}
		name, _ := dr.lenencString()
		if dr.err != nil {
			return nil, fmt.Errorf("malformed column definition: %w", dr.err)
		}
		res.Columns = append(res.Columns, string(name))
	}
	if p, err = c.pc.readPacket(); err != nil {
		return nil, err
	} else if !isEOF(p) {
		return nil, fmt.Errorf("expected EOF after column definitions, got 0x%02x", p[0])
	}
	for {
		p, err := c.pc.readPacket()
		if err != nil {
			return nil, err
		}
		if isEOF(p) {
			return res, nil
		}
		if len(p) > 0 && p[0] == 0xFF {
			return nil, parseErr(p)
		}
		rr := reader{b: p}
		row := make([]*string, len(res.Columns))
		for i := range row {
			v, null := rr.lenencString()
			if !null {
				s := string(v)
				row[i] = &s
			}
		}
		if rr.err != nil {
			return nil, fmt.Errorf("malformed row: %w", rr.err)
		}
		res.Rows = append(res.Rows, row)
	}
}
