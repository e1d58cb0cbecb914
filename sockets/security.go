package sockets

import (
	"fmt"

	"github.com/zmqkit/zmqkit/sockets/internal/engine"
)

// WithPlain makes the socket a ZMTP PLAIN client (RFC 24): every connection,
// reconnects included, presents user and password, and the peer must be a
// PLAIN server. Like libzmq's ZMQ_PLAIN_USERNAME and ZMQ_PLAIN_PASSWORD. PLAIN
// sends the password in clear: use it on networks you trust, or under a
// tunnel.
func WithPlain(user, password string) Option {
	return func(c *config) error {
		if len(user) > 255 || len(password) > 255 {
			return fmt.Errorf("%w: PLAIN user name and password are at most 255 bytes each", ErrBadOption)
		}
		c.Security = engine.PlainClient{User: user, Password: password}
		return nil
	}
}

// WithPlainServer makes the socket a ZMTP PLAIN server, whether it listens
// or dials (libzmq's ZMQ_PLAIN_SERVER). auth decides each client's user name
// and password; a refused client gets an ERROR command and no connection,
// and this side sees EventHandshakeFailed with an error matching ErrAuth. A
// nil auth accepts every client, as libzmq does without a ZAP handler. auth
// runs on the connection's own goroutine, once per handshake.
func WithPlainServer(auth func(user, password string) bool) Option {
	return func(c *config) error {
		c.Security = engine.PlainServer{Auth: auth}
		return nil
	}
}

// ErrAuth matches the error of a connection whose PLAIN credentials were
// refused, on either side.
var ErrAuth = engine.ErrAuth
