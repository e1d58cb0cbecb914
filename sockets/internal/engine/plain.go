package engine

import (
	"errors"
	"fmt"
	"io"

	"github.com/go-zeromq/zmq4"
)

// ErrAuth is why a PLAIN handshake failed on credentials: the server refused
// ours, or we refused the client's.
var ErrAuth = errors.New("authentication failed")

// PLAIN (RFC 24): the client sends HELLO with a user name and a password;
// the server answers WELCOME, or ERROR when it refuses them; the client
// sends its metadata in INITIATE and the server its own in READY. The roles
// are the mechanism's, not the connection's: as in libzmq, a PLAIN server
// may be the side that dials.

// PlainClient presents user and password on every handshake, so a
// reconnecting socket authenticates again each time. (zmq4's security/plain
// drops the credentials after its first handshake.)
type PlainClient struct {
	User, Password string
}

// PlainServer checks each client's HELLO with Auth; a nil Auth accepts every
// client, as libzmq does when no ZAP handler is installed.
type PlainServer struct {
	Auth func(user, password string) bool
	// AuthPeer, when set, decides as well with the client's Peer (its
	// address and metadata; UserID empty, as that is what it decides): it
	// runs once INITIATE has brought the metadata, so a client it refuses
	// gets WELCOME first and then ERROR in place of READY.
	AuthPeer func(p *Peer, user, password string) bool

	adm *admission // this handshake's, set by Handshake
}

// zapRefused is the reason a refused client is given: ZAP's status code for
// failed authentication (RFC 27), which libzmq sends and reports on its side
// as ZMQ_EVENT_HANDSHAKE_FAILED_AUTH.
const zapRefused = "400"

var (
	_ zmq4.Security = PlainClient{}
	_ zmq4.Security = PlainServer{}
)

func (PlainClient) Type() zmq4.SecurityType { return zmq4.PlainSecurity }
func (PlainServer) Type() zmq4.SecurityType { return zmq4.PlainSecurity }

// PLAIN does not encrypt; the engine frames messages itself after the
// handshake, but the interface wants these.
func (PlainClient) Encrypt(w io.Writer, b []byte) (int, error) { return w.Write(b) }
func (PlainClient) Decrypt(w io.Writer, b []byte) (int, error) { return w.Write(b) }
func (PlainServer) Encrypt(w io.Writer, b []byte) (int, error) { return w.Write(b) }
func (PlainServer) Decrypt(w io.Writer, b []byte) (int, error) { return w.Write(b) }

// Handshake runs the client side whichever side accepted the connection.
func (p PlainClient) Handshake(c *zmq4.Conn, _ bool) error {
	if len(p.User) > 255 || len(p.Password) > 255 {
		return fmt.Errorf("PLAIN: user name and password are at most 255 bytes each")
	}
	hello := make([]byte, 0, 2+len(p.User)+len(p.Password))
	hello = append(hello, byte(len(p.User)))
	hello = append(hello, p.User...)
	hello = append(hello, byte(len(p.Password)))
	hello = append(hello, p.Password...)
	if err := c.SendCmd(zmq4.CmdHello, hello); err != nil {
		return fmt.Errorf("PLAIN: sending HELLO: %w", err)
	}
	if err := expectCmd(c, zmq4.CmdWelcome); err != nil {
		return err
	}
	meta, err := c.Meta.MarshalZMTP()
	if err != nil {
		return fmt.Errorf("PLAIN: %w", err)
	}
	if err := c.SendCmd(zmq4.CmdInitiate, meta); err != nil {
		return fmt.Errorf("PLAIN: sending INITIATE: %w", err)
	}
	return recvMeta(c, zmq4.CmdReady)
}

// Handshake runs the server side whichever side accepted the connection.
func (p PlainServer) Handshake(c *zmq4.Conn, _ bool) error {
	cmd, err := c.RecvCmd()
	if err != nil {
		return fmt.Errorf("PLAIN: waiting for HELLO: %w", err)
	}
	if cmd.Name != zmq4.CmdHello {
		sendError(c, "HELLO expected")
		return fmt.Errorf("PLAIN: got %s, want HELLO", cmd.Name)
	}
	user, pass, ok := parseHello(cmd.Body)
	if !ok {
		sendError(c, "malformed HELLO")
		return fmt.Errorf("PLAIN: malformed HELLO (%d bytes)", len(cmd.Body))
	}
	if p.Auth != nil && !p.Auth(user, pass) {
		sendError(c, zapRefused)
		return fmt.Errorf("%w: PLAIN credentials of user %q refused", ErrAuth, user)
	}
	if err := c.SendCmd(zmq4.CmdWelcome, nil); err != nil {
		return fmt.Errorf("PLAIN: sending WELCOME: %w", err)
	}
	if err := recvMeta(c, zmq4.CmdInitiate); err != nil {
		return err
	}
	if p.AuthPeer != nil && !p.AuthPeer(p.adm.peer(c.Peer.Meta, ""), user, pass) {
		sendError(c, zapRefused)
		return fmt.Errorf("%w: PLAIN credentials of user %q refused", ErrAuth, user)
	}
	if err := p.adm.check(c.Peer.Meta, user); err != nil {
		sendError(c, zapRefused)
		return err
	}
	c.Peer.Meta["User-Id"] = user
	meta, err := c.Meta.MarshalZMTP()
	if err != nil {
		return fmt.Errorf("PLAIN: %w", err)
	}
	if err := c.SendCmd(zmq4.CmdReady, meta); err != nil {
		return fmt.Errorf("PLAIN: sending READY: %w", err)
	}
	return nil
}

// parseHello splits a HELLO body: a length-prefixed user name, then a
// length-prefixed password, and nothing after.
func parseHello(b []byte) (user, pass string, ok bool) {
	field := func() (string, bool) {
		if len(b) == 0 || int(b[0]) > len(b)-1 {
			return "", false
		}
		n := int(b[0])
		s := string(b[1 : 1+n])
		b = b[1+n:]
		return s, true
	}
	if user, ok = field(); !ok {
		return "", "", false
	}
	if pass, ok = field(); !ok {
		return "", "", false
	}
	return user, pass, len(b) == 0
}

// expectCmd reads one command and fails unless it is want; an ERROR says
// why the peer refused.
func expectCmd(c *zmq4.Conn, want string) error {
	cmd, err := c.RecvCmd()
	if err != nil {
		return fmt.Errorf("PLAIN: waiting for %s: %w", want, err)
	}
	switch cmd.Name {
	case want:
		return nil
	case zmq4.CmdError:
		return errorReason(cmd.Body)
	default:
		return fmt.Errorf("PLAIN: got %s, want %s", cmd.Name, want)
	}
}

func recvMeta(c *zmq4.Conn, want string) error {
	cmd, err := c.RecvCmd()
	if err != nil {
		return fmt.Errorf("PLAIN: waiting for %s: %w", want, err)
	}
	if cmd.Name == zmq4.CmdError {
		return errorReason(cmd.Body)
	}
	if cmd.Name != want {
		return fmt.Errorf("PLAIN: got %s, want %s", cmd.Name, want)
	}
	if err := checkMeta(cmd.Body); err != nil {
		return fmt.Errorf("PLAIN: %s metadata: %w", want, err)
	}
	if err := c.Peer.Meta.UnmarshalZMTP(cmd.Body); err != nil {
		return fmt.Errorf("PLAIN: %s metadata: %w", want, err)
	}
	return nil
}

// sendError tells the client why, as RFC 23 frames it: a length-prefixed
// reason. The handshake fails either way, so a write error is moot.
func sendError(c *zmq4.Conn, reason string) {
	_ = c.SendCmd(zmq4.CmdError, append([]byte{byte(len(reason))}, reason...))
}
