package engine

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseHello(t *testing.T) {
	for _, tc := range []struct {
		body       string
		user, pass string
		ok         bool
	}{
		{"\x05alice\x06s3cret", "alice", "s3cret", true},
		{"\x00\x00", "", "", true},
		{"", "", "", false},
		{"\x05ali", "", "", false},              // user name cut short
		{"\x05alice", "", "", false},            // no password
		{"\x05alice\x07s3cret", "", "", false},  // password cut short
		{"\x05alice\x06s3cretX", "", "", false}, // trailing bytes
	} {
		user, pass, ok := parseHello([]byte(tc.body))
		assert.Equal(t, tc.ok, ok, "%q", tc.body)
		if tc.ok {
			assert.Equal(t, tc.user, user)
			assert.Equal(t, tc.pass, pass)
		}
	}
}

// rawHello is a client that sends whatever HELLO body it is given.
type rawHello struct{ body []byte }

func (rawHello) Type() zmq4.SecurityType                    { return zmq4.PlainSecurity }
func (rawHello) Encrypt(w io.Writer, b []byte) (int, error) { return w.Write(b) }
func (rawHello) Decrypt(w io.Writer, b []byte) (int, error) { return w.Write(b) }
func (r rawHello) Handshake(c *zmq4.Conn, _ bool) error {
	if err := c.SendCmd(zmq4.CmdHello, r.body); err != nil {
		return err
	}
	return expectCmd(c, zmq4.CmdWelcome)
}

// handshakePair runs both sides of a handshake over loopback TCP.
func handshakePair(t *testing.T, client, server zmq4.Security) (cerr, serr error) {
	return handshakePairWithin(t, client, server, 2*time.Second)
}

func handshakePairWithin(t *testing.T, client, server zmq4.Security, timeout time.Duration) (cerr, serr error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		_, err = Handshake(c, HandshakeConfig{Security: server, Type: zmq4.Pull, Server: true, Timeout: timeout})
		done <- err
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	_, cerr = Handshake(c, HandshakeConfig{Security: client, Type: zmq4.Push, Timeout: timeout})
	return cerr, <-done
}

func TestPlainHandshake(t *testing.T) {
	auth := PlainServer{Auth: func(u, p string) bool { return u == "alice" && p == "s3cret" }}

	cerr, serr := handshakePair(t, PlainClient{User: "alice", Password: "s3cret"}, auth)
	require.NoError(t, cerr)
	require.NoError(t, serr)

	cerr, serr = handshakePair(t, PlainClient{User: "alice", Password: "nope"}, auth)
	assert.ErrorIs(t, cerr, ErrAuth)
	assert.ErrorIs(t, serr, ErrAuth)

	for _, body := range []string{"", "\xff", "\x05alice\x06s3cretEXTRA"} {
		cerr, serr = handshakePair(t, rawHello{[]byte(body)}, auth)
		require.Error(t, serr, "HELLO %q", body)
		assert.Contains(t, serr.Error(), "malformed HELLO")
		assert.False(t, errors.Is(serr, ErrAuth))
		require.Error(t, cerr)
		assert.Contains(t, cerr.Error(), "malformed HELLO", "the client is told why")
	}

	// Two servers each wait for the other's HELLO until the handshake
	// timeout.
	cerr, serr = handshakePairWithin(t, PlainServer{}, auth, 200*time.Millisecond)
	require.Error(t, serr)
	require.Error(t, cerr)
}

// libzmq's ERROR command arrives as "^RROR" (its "\x05ERROR" literal is read
// by C as 0x5e, "RROR"); zmq4 cannot parse it, the guard can.
func TestPlainClientUnderstandsLibzmqError(t *testing.T) {
	for _, tc := range []struct {
		name  string
		frame []byte
		auth  bool
	}{
		{"libzmq 400", []byte("\x04\x09^RROR\x03400"), true},
		{"libzmq 500", []byte("\x04\x09^RROR\x03500"), false},
		{"rfc 400", []byte("\x04\x0a\x05ERROR\x03400"), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			defer ln.Close()
			go func() {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				g := make([]byte, 64)
				g[0], g[9], g[10], g[11] = 0xff, 0x7f, 3, 1
				copy(g[12:], "PLAIN")
				_, _ = c.Write(g)
				buf := make([]byte, 64+2+6+1+5+1+5)
				_, _ = io.ReadFull(c, buf) // greeting and HELLO
				_, _ = c.Write(tc.frame)
				_, _ = io.Copy(io.Discard, c)
			}()
			c, err := net.Dial("tcp", ln.Addr().String())
			require.NoError(t, err)
			defer c.Close()
			_, err = Handshake(c, HandshakeConfig{Security: PlainClient{User: "alice", Password: "wrong"}, Type: zmq4.Push, Timeout: 2 * time.Second})
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrHandshake)
			assert.Equal(t, tc.auth, errors.Is(err, ErrAuth), "%v", err)
			assert.Equal(t, !tc.auth, errors.Is(err, ErrPeerError), "%v", err)
			// Only ZAP's 400 is a verdict on our credentials.
			assert.Equal(t, tc.auth, errors.Is(err, ErrRefusedByServer), "%v", err)
		})
	}
}
