package engine

import (
	"bytes"
	"encoding/binary"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// streamConn is a net.Conn whose peer sends data and then, for ever (up to
// limit bytes), the last 16 bytes of data again: a handshake that takes
// the bait of a repeating pattern (frames with MORE set, say) reads on
// until limit. It counts what was read; writes go nowhere.
type streamConn struct {
	data  []byte
	tail  []byte
	off   int
	read  int
	limit int
}

func newStreamConn(data []byte, limit int) *streamConn {
	c := &streamConn{data: data, limit: limit}
	if len(data) > 0 {
		c.tail = data[max(0, len(data)-16):]
	}
	return c
}

func (c *streamConn) Read(p []byte) (int, error) {
	if c.read >= c.limit {
		return 0, net.ErrClosed
	}
	p = p[:min(len(p), c.limit-c.read)]
	n := 0
	for n < len(p) {
		if c.off < len(c.data) {
			m := copy(p[n:], c.data[c.off:])
			c.off += m
			n += m
			continue
		}
		if len(c.tail) == 0 {
			break
		}
		n += copy(p[n:], c.tail[(c.off-len(c.data))%len(c.tail):])
		c.off = len(c.data) + (c.off-len(c.data)+n)%len(c.tail)
		break
	}
	if n == 0 {
		return 0, net.ErrClosed
	}
	c.read += n
	return n, nil
}

func (c *streamConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c *streamConn) Close() error                     { return nil }
func (c *streamConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *streamConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *streamConn) SetDeadline(time.Time) error      { return nil }
func (c *streamConn) SetReadDeadline(time.Time) error  { return nil }
func (c *streamConn) SetWriteDeadline(time.Time) error { return nil }

// fuzzGreeting is a ZMTP 3.0 greeting naming mech.
func fuzzGreeting(mech string, server bool) []byte {
	g := make([]byte, 64)
	g[0], g[9], g[10] = 0xFF, 0x7F, 3
	copy(g[12:32], mech)
	if server {
		g[32] = 1
	}
	return g
}

func fuzzCmd(flags byte, name string, body []byte) []byte {
	b := append([]byte{byte(len(name))}, name...)
	b = append(b, body...)
	if len(b) > 255 {
		h := make([]byte, 9)
		h[0] = flags | flagLong
		binary.BigEndian.PutUint64(h[1:], uint64(len(b)))
		return append(h, b...)
	}
	return append([]byte{flags, byte(len(b))}, b...)
}

// FuzzHandshake drives arbitrary peer bytes through the guarded handshake
// of a NULL, a PLAIN and a CURVE server, and of a NULL client: whatever
// they are, the handshake returns (no panic, no hang) having read at most
// MaxHandshakeBytes and allocated a bounded amount.
func FuzzHandshake(f *testing.F) {
	ready := fuzzCmd(flagCommand, "READY", append([]byte{11}, []byte("Socket-Type\x00\x00\x00\x04PUSH")...))
	more := fuzzCmd(flagCommand|flagMore, "READY", bytes.Repeat([]byte{'x'}, 40000))
	f.Add(append(fuzzGreeting("NULL", false), ready...))
	f.Add(append(fuzzGreeting("NULL", false), more...))
	f.Add(append(fuzzGreeting("PLAIN", false), fuzzCmd(flagCommand, "HELLO", []byte{1, 'u', 1, 'p'})...))
	f.Add(append(fuzzGreeting("CURVE", false), fuzzCmd(flagCommand, "HELLO", make([]byte, 194))...))
	f.Add(append(fuzzGreeting("NULL", false), fuzzCmd(flagCommand, "READY", make([]byte, 60000))...))
	f.Add(append(fuzzGreeting("NULL", false), 0x06, 0, 0, 0, 0, 0, 0, 0xff, 0xff))
	f.Add([]byte{0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0x7f})

	keys, err := NewCurveKeypair()
	require.NoError(f, err)
	cases := []struct {
		name   string
		sec    zmq4.Security
		server bool
	}{
		{"null-server", nil, true},
		{"null-client", nil, false},
		{"plain-server", PlainServer{}, true},
		{"curve-server", CurveServer{Keys: keys}, true},
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, c := range cases {
			// The peer's bytes repeat their last 16 for up to 64 MiB.
			conn := newStreamConn(data, 64<<20)
			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			_, _ = Handshake(conn, HandshakeConfig{Security: c.sec, Type: zmq4.Pull, Server: c.server, Timeout: time.Second})
			runtime.ReadMemStats(&m1)
			assert.LessOrEqual(t, conn.read, MaxHandshakeBytes, "%s: bytes read", c.name)
			// zmq4 parses a 64 KiB READY of empty properties into ~4 MiB
			// of short-lived allocations; 16 MiB bounds that and is far
			// below the 64 MiB an unbounded read would take.
			assert.Less(t, m1.TotalAlloc-m0.TotalAlloc, uint64(16<<20), "%s: bytes allocated", c.name)
		}
	})
}
