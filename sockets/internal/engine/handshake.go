package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/go-zeromq/zmq4/security/null"
)

// ErrHandshake wraps every reason a ZMTP handshake fails.
var ErrHandshake = errors.New("handshake failed")

// maxHandshakeFrame bounds any frame read during the handshake (greeting
// commands and metadata); libzmq's READY is a few hundred bytes.
const maxHandshakeFrame = 64 << 10

// Peer is what the handshake learned about the other side.
type Peer struct {
	Type     zmq4.SocketType
	Identity []byte
	Meta     map[string]string
}

// HandshakeConfig is our side of a handshake.
type HandshakeConfig struct {
	Security zmq4.Security // nil means NULL
	Type     zmq4.SocketType
	Identity []byte
	Server   bool // the side that accepted the connection
	Timeout  time.Duration
}

// Handshake runs zmq4's ZMTP greeting and security handshake over c and
// checks that the peer's socket type fits ours. Whatever the peer sends, it
// returns an error rather than panicking, blocking past Timeout, or
// allocating for an announced frame size.
func Handshake(c net.Conn, cfg HandshakeConfig) (peer Peer, err error) {
	if cfg.Timeout > 0 {
		_ = c.SetDeadline(time.Now().Add(cfg.Timeout))
		defer func() { _ = c.SetDeadline(time.Time{}) }()
	}
	sec := cfg.Security
	if sec == nil {
		sec = nullSecurity
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: malformed peer handshake (%v)", ErrHandshake, r)
		}
	}()
	guard := &guardConn{Conn: c, greeting: 64}
	zc, err := zmq4.Open(guard, sec, cfg.Type, zmq4.SocketIdentity(cfg.Identity), cfg.Server, nil)
	if err != nil {
		if guard.err != nil {
			return Peer{}, fmt.Errorf("%w: %v", ErrHandshake, guard.err)
		}
		return Peer{}, fmt.Errorf("%w: %v", ErrHandshake, err)
	}
	peer.Meta = zc.Peer.Meta
	peer.Type = zmq4.SocketType(zc.Peer.Meta["Socket-Type"])
	if id := zc.Peer.Meta["Identity"]; id != "" {
		peer.Identity = []byte(id)
	}
	return peer, nil
}

var nullSecurity = null.Security()

// guardConn watches the bytes zmq4 reads during the handshake and fails the
// read that would make it allocate for a frame larger than maxHandshakeFrame.
// zmq4 reads exactly what it needs, so no data frame is consumed here.
type guardConn struct {
	net.Conn
	greeting int     // greeting bytes still to pass
	hdr      [9]byte // frame header being collected
	hdrN     int
	body     uint64 // body bytes still to pass
	err      error
}

func (g *guardConn) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	n, err := g.Conn.Read(p)
	for _, b := range p[:n] {
		switch {
		case g.greeting > 0:
			g.greeting--
		case g.body > 0:
			g.body--
		default:
			g.hdr[g.hdrN] = b
			g.hdrN++
			long := g.hdr[0]&flagLong != 0
			if (!long && g.hdrN == 2) || (long && g.hdrN == 9) {
				size := uint64(g.hdr[1])
				if long {
					size = binary.BigEndian.Uint64(g.hdr[1:9])
				}
				g.hdrN = 0
				if size > maxHandshakeFrame {
					g.err = fmt.Errorf("handshake frame of %d bytes (limit %d)", size, maxHandshakeFrame)
					return 0, g.err
				}
				g.body = size
			}
		}
	}
	return n, err
}
