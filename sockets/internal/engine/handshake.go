package engine

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/go-zeromq/zmq4/security/null"
)

// ErrHandshake wraps every reason a ZMTP handshake fails.
var ErrHandshake = errors.New("handshake failed")

// zmq4Error is a failure of zmq4.Open as ErrHandshake: errors.Is sees the
// whole chain, and the text says each step once, without the "zmq4: "
// that zmq4 puts in front of every step (and which a socket's error,
// which says "zmqkit: ", would only repeat).
func zmq4Error(err error) error {
	if errors.Is(err, ErrHandshake) {
		return err
	}
	return &handshakeError{cause: err}
}

type handshakeError struct{ cause error }

func (e *handshakeError) Error() string {
	why := strings.ReplaceAll(e.cause.Error(), "zmq4: ", "")
	why = strings.TrimPrefix(why, "could not initialize ZMTP connection: ")
	return ErrHandshake.Error() + ": " + why
}

func (e *handshakeError) Unwrap() []error { return []error{ErrHandshake, e.cause} }

// maxHandshakeFrame bounds any frame read during the handshake (greeting
// commands and metadata); libzmq's READY is a few hundred bytes.
const maxHandshakeFrame = 64 << 10

// MaxHandshakeBytes is everything a peer can make us read before its
// handshake is done (and, under PLAIN and CURVE, before it is
// authenticated): the 64-byte greeting and at most two commands of
// maxHandshakeFrame bytes with their headers (HELLO and INITIATE, or
// WELCOME and READY; NULL needs one READY). zmq4 holds at most one command
// at a time, so this bounds what an unauthenticated peer costs a
// connection. No handshake command carries MORE: a frame header with MORE
// set ends the handshake at once (zmq4 would otherwise keep appending
// frames until the handshake timeout).
const MaxHandshakeBytes = 64 + 2*(9+maxHandshakeFrame)

// maxProperties bounds the metadata properties a peer may announce: what
// a connection keeps of its handshake for its lifetime. libzmq sends two or
// three, applications a few "X-" ones; a 64 KiB READY could hold ten
// thousand.
const maxProperties = 64

// Peer is what the handshake learned about the other side.
type Peer struct {
	Type     zmq4.SocketType
	Identity []byte
	Meta     map[string]string // as the peer announced it, less any "User-Id"
	// UserID is who our security mechanism authenticated: a PLAIN user
	// name, a CURVE client key (Z85). It is set on the side that checked
	// the peer's credentials only; a peer cannot claim one in metadata.
	UserID string
	Remote string // the peer's network address ("" for inproc)
	// Cipher, for a mechanism that encrypts, seals and opens every frame
	// after the handshake; nil for NULL and PLAIN.
	Cipher FrameCipher
}

// HandshakeConfig is our side of a handshake.
type HandshakeConfig struct {
	Security zmq4.Security // nil means NULL
	Type     zmq4.SocketType
	Identity []byte
	Server   bool // the side that accepted the connection
	Timeout  time.Duration
	// Metadata are application properties ("X-" names, RFC 23) sent in
	// our READY or INITIATE beside Socket-Type and Identity.
	Metadata map[string]string
	// Remote is the peer's address, for Admit and the auth callbacks.
	Remote string
	// Admit, when set, vets the peer once the handshake knows it (see
	// Options.Admit); a refusal fails the handshake with an error that
	// matches ErrAuth and ErrRefused.
	Admit func(*Peer) error
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
	// CURVE keeps keys per connection: it runs in a session of its own.
	var session securitySession
	if ss, ok := sec.(sessionSecurity); ok {
		session = ss.newSession()
		sec = session
	}
	// The side that decides (a PLAIN or CURVE server; under NULL, with an
	// admission hook, our own NULL) vets the peer before its last command;
	// any other side does once the handshake is over.
	adm := &admission{remote: cfg.Remote, admit: cfg.Admit}
	var authenticates, decides bool
	switch s := sec.(type) {
	case PlainServer:
		s.adm = adm
		sec, authenticates, decides = s, true, true
	case *PlainServer:
		cp := *s
		cp.adm = adm
		sec, authenticates, decides = cp, true, true
	case *curveServerSession:
		s.adm = adm
		authenticates, decides = true, true
	default:
		if cfg.Admit != nil && sec.Type() == zmq4.NullSecurity {
			sec, decides = nullAdmitting{adm}, true
		}
	}
	if len(cfg.Metadata) > 0 {
		sec = withMetadata{sec, cfg.Metadata}
	}
	guard := &guardConn{Conn: c, greeting: 64, budget: MaxHandshakeBytes}
	zc, err := zmq4.Open(guard, sec, cfg.Type, zmq4.SocketIdentity(cfg.Identity), cfg.Server, nil)
	if err != nil {
		if guard.refusal != nil && !errors.Is(err, ErrAuth) && !errors.Is(err, ErrPeerError) {
			// zmq4 could not parse the peer's ERROR (libzmq's is
			// malformed); the guard saw why.
			err = guard.refusal
			if hint := refusedByServer(cfg.Security, session, err); hint != "" {
				return Peer{}, fmt.Errorf("%w: %w", ErrHandshake, &serverRefusal{hint, err})
			}
			return Peer{}, fmt.Errorf("%w: %w", ErrHandshake, err)
		}
		if guard.err != nil {
			return Peer{}, fmt.Errorf("%w: %v", ErrHandshake, guard.err)
		}
		if hint := refusedByServer(cfg.Security, session, err); hint != "" {
			return Peer{}, zmq4Error(&serverRefusal{hint, err})
		}
		return Peer{}, zmq4Error(err)
	}
	if len(zc.Peer.Meta) > maxProperties {
		return Peer{}, fmt.Errorf("%w: %d metadata properties (limit %d)", ErrHandshake, len(zc.Peer.Meta), maxProperties)
	}
	// Our PLAIN and CURVE servers write "User-Id" after the peer's own
	// metadata; anything else of that name is the peer's claim.
	var userID string
	if authenticates {
		userID = zc.Peer.Meta["User-Id"]
	}
	if !decides {
		if err := adm.check(zc.Peer.Meta, userID); err != nil {
			return Peer{}, fmt.Errorf("%w: %w", ErrHandshake, err)
		}
	}
	peer = peerFrom(zc.Peer.Meta, userID)
	if session != nil {
		peer.Cipher = session.frameCipher()
	}
	return peer, nil
}

var nullSecurity = null.Security()

// ErrRefusedByServer is why the handshake of a PLAIN or CURVE client
// failed when the server turned it down: it refused our credentials or our
// CURVE key, could not open our CURVE HELLO (we hold the wrong server
// public key), or, as a libzmq CURVE server does then, hung up on our
// HELLO. An error that matches it matches ErrAuth too, and words the
// likely cause; the server's log says more.
var ErrRefusedByServer = errors.New("the server refused our handshake")

// serverRefusal is a client's handshake turned down by the server.
type serverRefusal struct {
	hint  string // the likely cause, for the user
	cause error  // what the handshake saw
}

func (r *serverRefusal) Error() string {
	// zmq4's wrapping says nothing the reader needs here.
	cause := strings.TrimPrefix(r.cause.Error(), "zmq4: could not initialize ZMTP connection: ")
	cause = strings.TrimPrefix(cause, "zmq4: could not perform security handshake: ")
	return fmt.Sprintf("%v (%s): %s", ErrRefusedByServer, r.hint, cause)
}

func (r *serverRefusal) Unwrap() error { return r.cause }

func (r *serverRefusal) Is(target error) bool {
	return target == ErrRefusedByServer || target == ErrAuth
}

// refusedByServer tells whether a failed client handshake is the server's
// refusal, and if so words the likely cause; "" when it is not (our side
// is no PLAIN or CURVE client, the connection failed, the peer went
// silent, it speaks another mechanism).
func refusedByServer(sec zmq4.Security, session securitySession, err error) string {
	// ZAP's 400 is RFC 27's "authentication failure"; 300 and 500 (a
	// temporary or internal error of the server) are no verdict on us.
	auth := errors.Is(err, ErrAuth)
	switch sec.(type) {
	case PlainClient, *PlainClient:
		if auth {
			return "credentials refused: check the user name and password"
		}
	case CurveClient, *CurveClient:
		cs, _ := session.(*curveClientSession)
		var pe *peerError
		switch {
		case auth:
			return "our CURVE public key is not among the clients it admits"
		case errors.As(err, &pe) && pe.reason == "malformed HELLO":
			// What our server answers to a HELLO it cannot open.
			return "wrong server public key?"
		case cs != nil && cs.awaitingWelcome && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
			errors.Is(err, syscall.ECONNRESET)):
			// libzmq hangs up on a HELLO it cannot open.
			return "it hung up on our CURVE HELLO: wrong server public key?"
		}
	}
	return ""
}

// withMetadata adds application properties to what a mechanism announces:
// every mechanism here, and zmq4's, sends the connection's Meta. zmq4
// writes a name it does not know as "X-" and the name in lower case, so
// the "X-" is taken off here (names are compared without case anyway).
type withMetadata struct {
	zmq4.Security
	props map[string]string
}

func (w withMetadata) Handshake(c *zmq4.Conn, server bool) error {
	for k, v := range w.props {
		c.Meta[k[len("X-"):]] = v
	}
	return w.Security.Handshake(c, server)
}

// noteError records the reason of an ERROR command, well-formed or in
// libzmq's form.
func (g *guardConn) noteError() {
	var rest []byte
	switch {
	case bytes.HasPrefix(g.head, []byte("\x05ERROR")):
		rest = g.head[6:]
	case bytes.HasPrefix(g.head, []byte("^RROR")):
		rest = g.head[5:]
	default:
		return
	}
	g.refusal = errorReason(rest)
}

// errorReason turns an ERROR command's length-prefixed reason into an error:
// ZAP's 400 (RFC 27: the credentials were refused) matches ErrAuth, any
// other reason ErrPeerError.
func errorReason(b []byte) error {
	var reason []byte
	if len(b) > 0 {
		reason = b[1:min(len(b), 1+int(b[0]))]
	}
	if string(reason) == zapRefused {
		return fmt.Errorf("%w: the peer refused our credentials (%s)", ErrAuth, reason)
	}
	return &peerError{string(reason)}
}

// peerError is an ERROR command's reason other than ZAP's 400.
type peerError struct{ reason string }

func (e *peerError) Error() string        { return fmt.Sprintf("%v: %q", ErrPeerError, e.reason) }
func (e *peerError) Is(target error) bool { return target == ErrPeerError }

// guardConn watches the bytes zmq4 reads during the handshake and fails the
// read that would make it allocate for a frame larger than maxHandshakeFrame.
// zmq4 reads exactly what it needs, so no data frame is consumed here. It
// also notes an ERROR command from the peer, which zmq4 cannot always parse:
// libzmq's source spells the command's prefix "\x05ERROR", which C reads as
// the single byte 0x5e followed by "RROR", so libzmq's ERROR arrives as
// "^RROR" and a reason. (libzmq expects that form back, too: its clients
// take our RFC-correct ERROR for an unexpected command, a protocol failure
// rather than a refused password; the connection is refused either way.)
type guardConn struct {
	net.Conn
	greeting int     // greeting bytes still to pass
	hdr      [9]byte // frame header being collected
	hdrN     int
	body     uint64 // body bytes still to pass
	cmd      bool   // the frame being passed is a command
	head     []byte // its first bytes
	budget   int    // bytes the peer may still send before the handshake ends
	err      error
	refusal  error // the peer sent ERROR; why
}

func (g *guardConn) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	n, err := g.Conn.Read(p)
	if n > g.budget {
		g.err = fmt.Errorf("handshake longer than %d bytes", MaxHandshakeBytes)
		return 0, g.err
	}
	g.budget -= n
	for _, b := range p[:n] {
		switch {
		case g.greeting > 0:
			g.greeting--
		case g.body > 0:
			g.body--
			if g.cmd && len(g.head) < 32 {
				g.head = append(g.head, b)
			}
			if g.body == 0 && g.cmd {
				g.noteError()
			}
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
				if g.hdr[0]&flagMore != 0 {
					// No ZMTP handshake command continues into another
					// frame; libzmq resets such a connection too.
					g.err = fmt.Errorf("handshake frame with MORE set (flags 0x%02x)", g.hdr[0])
					return 0, g.err
				}
				if g.hdr[0]&^(flagMore|flagLong|flagCommand) != 0 {
					g.err = fmt.Errorf("handshake frame with bad flags 0x%02x", g.hdr[0])
					return 0, g.err
				}
				if size > maxHandshakeFrame {
					g.err = fmt.Errorf("handshake frame of %d bytes (limit %d)", size, maxHandshakeFrame)
					return 0, g.err
				}
				g.body = size
				g.cmd, g.head = g.hdr[0]&flagCommand != 0, g.head[:0]
			}
		}
	}
	return n, err
}
