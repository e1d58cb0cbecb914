package engine

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/go-zeromq/zmq4"
	"golang.org/x/crypto/curve25519"
	"golang.org/x/crypto/nacl/box"
	"golang.org/x/crypto/nacl/secretbox"
	"golang.org/x/crypto/salsa20/salsa"
)

// CURVE (RFC 26, CurveZMQ): each side has a long-term key pair, and the
// client knows the server's public key S beforehand. For one connection
// both sides make transient key pairs C' and S'; every box below is a NaCl
// crypto_box, MAC first, as libzmq puts it on the wire.
//
//	client HELLO    version 1.0, 72 zero bytes (so that HELLO is no smaller
//	                than WELCOME), C', nonce, Box[64 zeros](C'->S)
//	server WELCOME  long nonce, Box[S' + cookie](S->C'); the cookie is
//	                C' and s' sealed with a key only the server knows
//	client INITIATE cookie, nonce, Box[C + vouch + metadata](C'->S'),
//	                vouch = long nonce, Box[C' + S](C->S')
//	server READY    nonce, Box[metadata](S'->C')
//
// The vouch proves that the owner of C made C'; the server then asks Auth
// about C. Afterwards every frame travels in a MESSAGE box between C' and S'
// (see FrameCipher), so the long-term keys never encrypt data.
//
// A socket's security value is shared by all its connections, but each
// handshake needs its own transient keys and leaves a cipher behind, so
// CurveServer and CurveClient hand Handshake a fresh session per connection.

// ErrDecrypt is why an encrypted frame is refused: it is not a MESSAGE, it
// is cut short, its nonce does not increase, or it does not authenticate.
var ErrDecrypt = errors.New("encrypted frame refused")

// CurveKeypair is a Curve25519 key pair, as libzmq's zmq_curve_keypair
// makes (it prints them in Z85; see Z85Encode).
type CurveKeypair struct {
	Public, Secret [32]byte
}

// NewCurveKeypair makes a key pair from crypto/rand.
func NewCurveKeypair() (CurveKeypair, error) {
	var k CurveKeypair
	if _, err := io.ReadFull(rand.Reader, k.Secret[:]); err != nil {
		return CurveKeypair{}, fmt.Errorf("CURVE: generating a key: %w", err)
	}
	k.Public = CurvePublic(k.Secret)
	return k, nil
}

// CurvePublic derives the public key of a secret key, as libzmq's
// zmq_curve_public does.
func CurvePublic(secret [32]byte) [32]byte {
	var pub [32]byte
	// Only a low-order point fails, and the base point is not one.
	p, _ := curve25519.X25519(secret[:], curve25519.Basepoint)
	copy(pub[:], p)
	return pub
}

// CurveServer is the server side of CURVE: it holds the key pair whose
// public half the clients know, and checks each client's long-term public
// key with Auth. A nil Auth accepts every client, as libzmq does without a
// ZAP handler. As with PLAIN the role is the mechanism's: a CURVE server may
// be the side that dials.
type CurveServer struct {
	Keys CurveKeypair
	Auth func(clientPublic [32]byte) bool
	// AuthPeer, when set, decides as well with the client's Peer (its
	// address and metadata; UserID empty, as that is what it decides),
	// once INITIATE has proved the key and brought the metadata.
	AuthPeer func(p *Peer, clientPublic [32]byte) bool
}

// CurveClient is the client side of CURVE: it knows the server's public key
// and proves its own key pair to the server.
type CurveClient struct {
	ServerPublic [32]byte
	Keys         CurveKeypair
}

var (
	_ sessionSecurity = CurveServer{}
	_ sessionSecurity = CurveClient{}
	_ securitySession = (*curveServerSession)(nil)
	_ securitySession = (*curveClientSession)(nil)
)

// sessionSecurity is a security value that runs each handshake in a fresh
// per-connection session; Handshake passes that session to zmq4.
type sessionSecurity interface {
	zmq4.Security
	newSession() securitySession
}

// securitySession is one connection's handshake; after a successful one it
// gives the connection its cipher.
type securitySession interface {
	zmq4.Security
	frameCipher() FrameCipher
}

var errCurveSession = errors.New("CURVE runs through engine.Handshake, which makes a session per connection")

// Type is CURVE.
func (CurveServer) Type() zmq4.SecurityType { return zmq4.CurveSecurity }

// Type is CURVE.
func (CurveClient) Type() zmq4.SecurityType { return zmq4.CurveSecurity }

// Handshake fails: the shared value has nowhere to keep one connection's
// keys, so Handshake (the package's) runs a session per connection instead.
func (CurveServer) Handshake(*zmq4.Conn, bool) error { return errCurveSession }

// Handshake fails, as CurveServer's does.
func (CurveClient) Handshake(*zmq4.Conn, bool) error { return errCurveSession }

// Encrypt fails: a connection's FrameCipher encrypts.
func (CurveServer) Encrypt(io.Writer, []byte) (int, error) { return 0, errCurveSession }

// Decrypt fails: a connection's FrameCipher decrypts.
func (CurveServer) Decrypt(io.Writer, []byte) (int, error) { return 0, errCurveSession }

// Encrypt fails: a connection's FrameCipher encrypts.
func (CurveClient) Encrypt(io.Writer, []byte) (int, error) { return 0, errCurveSession }

// Decrypt fails: a connection's FrameCipher decrypts.
func (CurveClient) Decrypt(io.Writer, []byte) (int, error) { return 0, errCurveSession }

func (s CurveServer) newSession() securitySession { return &curveServerSession{cfg: s} }
func (c CurveClient) newSession() securitySession { return &curveClientSession{cfg: c} }

// Sessions only handshake; the engine frames data itself afterwards, so
// zmq4's hooks pass the handshake's commands through.
func (s *curveServerSession) Type() zmq4.SecurityType                    { return zmq4.CurveSecurity }
func (s *curveClientSession) Type() zmq4.SecurityType                    { return zmq4.CurveSecurity }
func (s *curveServerSession) Encrypt(w io.Writer, b []byte) (int, error) { return w.Write(b) }
func (s *curveServerSession) Decrypt(w io.Writer, b []byte) (int, error) { return w.Write(b) }
func (s *curveClientSession) Encrypt(w io.Writer, b []byte) (int, error) { return w.Write(b) }
func (s *curveClientSession) Decrypt(w io.Writer, b []byte) (int, error) { return w.Write(b) }

func (s *curveServerSession) frameCipher() FrameCipher {
	if s.cipher == nil {
		return nil
	}
	return s.cipher
}

func (s *curveClientSession) frameCipher() FrameCipher {
	if s.cipher == nil {
		return nil
	}
	return s.cipher
}

// Nonce prefixes (RFC 26). A short nonce is a 16-byte prefix and an 8-byte
// counter, a long nonce an 8-byte prefix and 16 random bytes.
const (
	prefixHello    = "CurveZMQHELLO---"
	prefixWelcome  = "WELCOME-"
	prefixCookie   = "COOKIE--"
	prefixInitiate = "CurveZMQINITIATE"
	prefixVouch    = "VOUCH---"
	prefixReady    = "CurveZMQREADY---"
	prefixClient   = "CurveZMQMESSAGEC" // MESSAGE from the client
	prefixServer   = "CurveZMQMESSAGES" // MESSAGE from the server
)

// Command body sizes, without the command names.
const (
	curveHelloLen   = 2 + 72 + 32 + 8 + box.Overhead + 64 // 194
	curveCookieLen  = 16 + secretbox.Overhead + 64        // 96
	curveWelcomeLen = 16 + box.Overhead + 32 + curveCookieLen
	curveVouchLen   = 16 + box.Overhead + 64
	// INITIATE: cookie, nonce, then a box of C, the vouch and metadata.
	curveInitiateMin = curveCookieLen + 8 + box.Overhead + 32 + curveVouchLen
	curveReadyMin    = 8 + box.Overhead
)

func shortNonce(prefix string, n uint64) *[24]byte {
	var nonce [24]byte
	copy(nonce[:], prefix)
	binary.BigEndian.PutUint64(nonce[16:], n)
	return &nonce
}

func longNonce(prefix string, random []byte) *[24]byte {
	var nonce [24]byte
	copy(nonce[:], prefix)
	copy(nonce[8:], random)
	return &nonce
}

// newLongNonce returns 16 random bytes and the nonce they make with prefix.
func newLongNonce(prefix string) ([]byte, *[24]byte) {
	r := make([]byte, 16)
	_, _ = rand.Read(r) // crypto/rand.Read does not fail
	return r, longNonce(prefix, r)
}

// curveShared is the key box.Precompute derives for a peer's public key and
// our secret, refusing a peer key of low order, which would make the key
// predictable (libsodium refuses those too).
func curveShared(peer, secret *[32]byte) ([32]byte, error) {
	var k, dh [32]byte
	p, err := curve25519.X25519(secret[:], peer[:])
	if err != nil {
		return k, fmt.Errorf("CURVE: unusable public key: %w", err)
	}
	copy(dh[:], p)
	var zero [16]byte
	salsa.HSalsa20(&k, &zero, &dh, &salsa.Sigma)
	return k, nil
}

func checkKeypair(k CurveKeypair) error {
	if pub := CurvePublic(k.Secret); subtle.ConstantTimeCompare(pub[:], k.Public[:]) != 1 {
		return errors.New("CURVE: Keys.Public is not the public key of Keys.Secret")
	}
	return nil
}

// curveClientSession is one connection's client handshake.
type curveClientSession struct {
	cfg     CurveClient
	t       CurveKeypair // C', c'
	nonce   uint64       // our last short nonce
	kHello  [32]byte     // c' and S: HELLO, WELCOME
	kMsg    [32]byte     // c' and S': INITIATE, READY, MESSAGE
	kVouch  [32]byte     // c and S': the vouch
	cipher  *curveCipher
	serverT [32]byte // S'
	// awaitingWelcome: HELLO is sent and no WELCOME came yet. A libzmq
	// server that cannot open our HELLO (we have the wrong server key)
	// closes the connection then, without a word; see refusedByServer.
	awaitingWelcome bool
}

// Handshake runs the client side whichever side accepted the connection.
func (s *curveClientSession) Handshake(c *zmq4.Conn, _ bool) error {
	hello, err := s.hello()
	if err != nil {
		return err
	}
	if err := c.SendCmd(zmq4.CmdHello, hello); err != nil {
		return fmt.Errorf("CURVE: sending HELLO: %w", err)
	}
	s.awaitingWelcome = true
	body, err := recvCurveCmd(c, zmq4.CmdWelcome)
	if err != nil {
		return err
	}
	s.awaitingWelcome = false
	cookie, err := s.welcome(body)
	if err != nil {
		return err
	}
	vouch := s.vouch(s.t.Public)
	meta, err := c.Meta.MarshalZMTP()
	if err != nil {
		return fmt.Errorf("CURVE: %w", err)
	}
	if err := c.SendCmd(zmq4.CmdInitiate, s.initiate(cookie, vouch, meta)); err != nil {
		return fmt.Errorf("CURVE: sending INITIATE: %w", err)
	}
	if body, err = recvCurveCmd(c, zmq4.CmdReady); err != nil {
		return err
	}
	if meta, err = s.ready(body); err != nil {
		return err
	}
	if err := unmarshalMeta(c, meta, zmq4.CmdReady); err != nil {
		return err
	}
	return nil
}

// hello makes the transient key pair and the HELLO body.
func (s *curveClientSession) hello() ([]byte, error) {
	if err := checkKeypair(s.cfg.Keys); err != nil {
		return nil, err
	}
	t, err := NewCurveKeypair()
	if err != nil {
		return nil, err
	}
	s.t = t
	if s.kHello, err = curveShared(&s.cfg.ServerPublic, &s.t.Secret); err != nil {
		return nil, fmt.Errorf("CURVE: the server key: %w", err)
	}
	s.nonce++
	b := make([]byte, 2+72, curveHelloLen)
	b[0], b[1] = 1, 0
	b = append(b, s.t.Public[:]...)
	b = binary.BigEndian.AppendUint64(b, s.nonce)
	var zeros [64]byte
	return box.SealAfterPrecomputation(b, zeros[:], shortNonce(prefixHello, s.nonce), &s.kHello), nil
}

// welcome opens WELCOME and returns the cookie to send back.
func (s *curveClientSession) welcome(b []byte) ([]byte, error) {
	if len(b) != curveWelcomeLen {
		return nil, fmt.Errorf("CURVE: WELCOME of %d bytes, want %d", len(b), curveWelcomeLen)
	}
	plain, ok := box.OpenAfterPrecomputation(nil, b[16:], longNonce(prefixWelcome, b[:16]), &s.kHello)
	if !ok {
		return nil, errors.New("CURVE: WELCOME does not authenticate (wrong server key?)")
	}
	copy(s.serverT[:], plain[:32])
	var err error
	if s.kMsg, err = curveShared(&s.serverT, &s.t.Secret); err != nil {
		return nil, fmt.Errorf("CURVE: the server's transient key: %w", err)
	}
	if s.kVouch, err = curveShared(&s.serverT, &s.cfg.Keys.Secret); err != nil {
		return nil, fmt.Errorf("CURVE: the server's transient key: %w", err)
	}
	return plain[32:], nil
}

// vouch says, with our long-term key, that transient (C' unless a test
// says otherwise) is ours, for this server.
func (s *curveClientSession) vouch(transient [32]byte) []byte {
	r, nonce := newLongNonce(prefixVouch)
	plain := make([]byte, 0, 64)
	plain = append(plain, transient[:]...)
	plain = append(plain, s.cfg.ServerPublic[:]...)
	return box.SealAfterPrecomputation(r, plain, nonce, &s.kVouch)
}

// initiate makes the INITIATE body.
func (s *curveClientSession) initiate(cookie, vouch, meta []byte) []byte {
	s.nonce++
	b := make([]byte, 0, len(cookie)+8+box.Overhead+32+len(vouch)+len(meta))
	b = append(b, cookie...)
	b = binary.BigEndian.AppendUint64(b, s.nonce)
	plain := make([]byte, 0, 32+len(vouch)+len(meta))
	plain = append(plain, s.cfg.Keys.Public[:]...)
	plain = append(plain, vouch...)
	plain = append(plain, meta...)
	return box.SealAfterPrecomputation(b, plain, shortNonce(prefixInitiate, s.nonce), &s.kMsg)
}

// ready opens READY, returns the server's metadata and keeps the cipher.
func (s *curveClientSession) ready(b []byte) ([]byte, error) {
	if len(b) < curveReadyMin {
		return nil, fmt.Errorf("CURVE: READY of %d bytes, want at least %d", len(b), curveReadyMin)
	}
	n := binary.BigEndian.Uint64(b)
	meta, ok := box.OpenAfterPrecomputation(nil, b[8:], shortNonce(prefixReady, n), &s.kMsg)
	if !ok {
		return nil, errors.New("CURVE: READY does not authenticate")
	}
	s.cipher = &curveCipher{key: s.kMsg, sendPrefix: prefixClient, recvPrefix: prefixServer, sent: s.nonce, received: n}
	return meta, nil
}

// curveServerSession is one connection's server handshake.
type curveServerSession struct {
	cfg           CurveServer
	t             CurveKeypair // S', s'
	clientT       [32]byte     // C'
	cookieKey     [32]byte
	helloNonce    uint64
	initiateNonce uint64
	nonce         uint64   // our last short nonce
	kHello        [32]byte // s and C': HELLO, WELCOME
	kMsg          [32]byte // s' and C': INITIATE, READY, MESSAGE
	cipher        *curveCipher
	adm           *admission // set by Handshake
}

// Handshake runs the server side whichever side accepted the connection.
func (s *curveServerSession) Handshake(c *zmq4.Conn, _ bool) error {
	if err := checkKeypair(s.cfg.Keys); err != nil {
		return err
	}
	body, err := recvCurveCmd(c, zmq4.CmdHello)
	if err != nil {
		return err
	}
	if err := s.hello(body); err != nil {
		sendError(c, "malformed HELLO")
		return err
	}
	welcome, err := s.welcome()
	if err != nil {
		return err
	}
	if err := c.SendCmd(zmq4.CmdWelcome, welcome); err != nil {
		return fmt.Errorf("CURVE: sending WELCOME: %w", err)
	}
	if body, err = recvCurveCmd(c, zmq4.CmdInitiate); err != nil {
		return err
	}
	client, meta, err := s.initiate(body)
	if err != nil {
		sendError(c, "malformed INITIATE")
		return err
	}
	if s.cfg.Auth != nil && !s.cfg.Auth(client) {
		sendError(c, zapRefused)
		id, _ := Z85Encode(client[:])
		return fmt.Errorf("%w: CURVE client key %s refused", ErrAuth, id)
	}
	if err := unmarshalMeta(c, meta, zmq4.CmdInitiate); err != nil {
		sendError(c, "malformed INITIATE")
		return err
	}
	id, _ := Z85Encode(client[:])
	if s.cfg.AuthPeer != nil && !s.cfg.AuthPeer(s.adm.peer(c.Peer.Meta, ""), client) {
		sendError(c, zapRefused)
		return fmt.Errorf("%w: CURVE client key %s refused", ErrAuth, id)
	}
	if err := s.adm.check(c.Peer.Meta, id); err != nil {
		sendError(c, zapRefused)
		return err
	}
	c.Peer.Meta["User-Id"] = id
	if meta, err = c.Meta.MarshalZMTP(); err != nil {
		return fmt.Errorf("CURVE: %w", err)
	}
	if err := c.SendCmd(zmq4.CmdReady, s.ready(meta)); err != nil {
		return fmt.Errorf("CURVE: sending READY: %w", err)
	}
	return nil
}

// hello checks HELLO and keeps the client's transient key.
func (s *curveServerSession) hello(b []byte) error {
	if len(b) != curveHelloLen {
		return fmt.Errorf("CURVE: HELLO of %d bytes, want %d", len(b), curveHelloLen)
	}
	if b[0] != 1 || b[1] != 0 {
		return fmt.Errorf("CURVE: HELLO version %d.%d, want 1.0", b[0], b[1])
	}
	b = b[2+72:]
	copy(s.clientT[:], b[:32])
	var err error
	if s.kHello, err = curveShared(&s.clientT, &s.cfg.Keys.Secret); err != nil {
		return fmt.Errorf("CURVE: the client's transient key: %w", err)
	}
	s.helloNonce = binary.BigEndian.Uint64(b[32:40])
	plain, ok := box.OpenAfterPrecomputation(nil, b[40:], shortNonce(prefixHello, s.helloNonce), &s.kHello)
	if !ok {
		return errors.New("CURVE: HELLO does not authenticate (the client has another server key?)")
	}
	if subtle.ConstantTimeCompare(plain, make([]byte, 64)) != 1 {
		return errors.New("CURVE: HELLO signature is not zeros")
	}
	return nil
}

// welcome makes our transient key pair and the WELCOME body.
func (s *curveServerSession) welcome() ([]byte, error) {
	t, err := NewCurveKeypair()
	if err != nil {
		return nil, err
	}
	s.t = t
	if s.kMsg, err = curveShared(&s.clientT, &s.t.Secret); err != nil {
		return nil, fmt.Errorf("CURVE: the client's transient key: %w", err)
	}
	if _, err := io.ReadFull(rand.Reader, s.cookieKey[:]); err != nil {
		return nil, fmt.Errorf("CURVE: generating a key: %w", err)
	}
	// The cookie holds the connection's keys for INITIATE to bring back;
	// this server keeps them anyway, so it only checks they match.
	r, nonce := newLongNonce(prefixCookie)
	keys := make([]byte, 0, 64)
	keys = append(keys, s.clientT[:]...)
	keys = append(keys, s.t.Secret[:]...)
	cookie := secretbox.Seal(r, keys, nonce, &s.cookieKey)

	plain := make([]byte, 0, 32+curveCookieLen)
	plain = append(plain, s.t.Public[:]...)
	plain = append(plain, cookie...)
	r, nonce = newLongNonce(prefixWelcome)
	return box.SealAfterPrecomputation(r, plain, nonce, &s.kHello), nil
}

// initiate checks INITIATE's cookie, box and vouch and returns the client's
// long-term key and its metadata.
func (s *curveServerSession) initiate(b []byte) (client [32]byte, meta []byte, err error) {
	if len(b) < curveInitiateMin {
		return client, nil, fmt.Errorf("CURVE: INITIATE of %d bytes, want at least %d", len(b), curveInitiateMin)
	}
	cookie := b[:curveCookieLen]
	keys, ok := secretbox.Open(nil, cookie[16:], longNonce(prefixCookie, cookie[:16]), &s.cookieKey)
	if !ok || subtle.ConstantTimeCompare(keys[:32], s.clientT[:]) != 1 ||
		subtle.ConstantTimeCompare(keys[32:], s.t.Secret[:]) != 1 {
		return client, nil, errors.New("CURVE: INITIATE brings a bad cookie")
	}
	b = b[curveCookieLen:]
	n := binary.BigEndian.Uint64(b)
	if n <= s.helloNonce {
		return client, nil, fmt.Errorf("CURVE: INITIATE nonce %d does not follow HELLO's %d", n, s.helloNonce)
	}
	plain, ok := box.OpenAfterPrecomputation(nil, b[8:], shortNonce(prefixInitiate, n), &s.kMsg)
	if !ok {
		return client, nil, errors.New("CURVE: INITIATE does not authenticate")
	}
	copy(client[:], plain[:32])
	vouch := plain[32 : 32+curveVouchLen]
	kVouch, err := curveShared(&client, &s.t.Secret)
	if err != nil {
		return client, nil, fmt.Errorf("CURVE: the client's key: %w", err)
	}
	vouched, ok := box.OpenAfterPrecomputation(nil, vouch[16:], longNonce(prefixVouch, vouch[:16]), &kVouch)
	if !ok {
		return client, nil, errors.New("CURVE: the vouch does not authenticate")
	}
	if subtle.ConstantTimeCompare(vouched[:32], s.clientT[:]) != 1 ||
		subtle.ConstantTimeCompare(vouched[32:], s.cfg.Keys.Public[:]) != 1 {
		return client, nil, errors.New("CURVE: the vouch is for another key")
	}
	s.initiateNonce = n
	return client, plain[32+curveVouchLen:], nil
}

// ready makes the READY body.
func (s *curveServerSession) ready(meta []byte) []byte {
	s.nonce++
	s.cipher = &curveCipher{key: s.kMsg, sendPrefix: prefixServer, recvPrefix: prefixClient, sent: s.nonce, received: s.initiateNonce}
	b := make([]byte, 0, 8+box.Overhead+len(meta))
	b = binary.BigEndian.AppendUint64(b, s.nonce)
	return box.SealAfterPrecomputation(b, meta, shortNonce(prefixReady, s.nonce), &s.kMsg)
}

// recvCurveCmd reads one command and fails unless it is want; an ERROR says
// why the peer refused.
func recvCurveCmd(c *zmq4.Conn, want string) ([]byte, error) {
	cmd, err := c.RecvCmd()
	if err != nil {
		return nil, fmt.Errorf("CURVE: waiting for %s: %w", want, err)
	}
	switch cmd.Name {
	case want:
		return cmd.Body, nil
	case zmq4.CmdError:
		return nil, errorReason(cmd.Body)
	default:
		return nil, fmt.Errorf("CURVE: got %s, want %s", cmd.Name, want)
	}
}

// unmarshalMeta checks the layout of the peer's metadata before zmq4 parses
// it: zmq4 indexes past the end of a truncated property.
func unmarshalMeta(c *zmq4.Conn, b []byte, cmd string) error {
	if err := checkMeta(b); err != nil {
		return fmt.Errorf("CURVE: %s metadata: %w", cmd, err)
	}
	if err := c.Peer.Meta.UnmarshalZMTP(b); err != nil {
		return fmt.Errorf("CURVE: %s metadata: %w", cmd, err)
	}
	return nil
}

// checkMeta walks ZMTP metadata (RFC 23): properties of a 1-byte name
// length, a name of 1 to 255 bytes, a 4-byte value length and a value.
func checkMeta(b []byte) error {
	for len(b) > 0 {
		n := int(b[0])
		if n == 0 || len(b) < 1+n+4 {
			return errors.New("malformed property")
		}
		b = b[1+n:]
		v := binary.BigEndian.Uint32(b)
		b = b[4:]
		if uint64(v) > uint64(len(b)) {
			return errors.New("property value cut short")
		}
		b = b[v:]
	}
	return nil
}

// curveCipher is a connection's FrameCipher once CURVE's handshake is done.
// Seal and Open touch separate fields, so a writer may seal while a reader
// opens; each of them is for one goroutine at a time.
type curveCipher struct {
	key                    [32]byte // C' and S'
	sendPrefix, recvPrefix string
	sent                   uint64 // our last short nonce
	received               uint64 // the peer's last short nonce
	scratch                []byte // Seal's plaintext
}

// Inside the box libzmq writes its own message flags, where a command is
// 0x02, not the frame header's 0x04.
const (
	boxMore    = 0x01
	boxCommand = 0x02
)

// maxScratch bounds the plaintext buffer a cipher keeps between frames; a
// larger frame gets a buffer of its own.
const maxScratch = 64 << 10

// Seal appends the MESSAGE body that carries frame; flags are the frame
// header's (flagMore, flagCommand).
func (c *curveCipher) Seal(dst []byte, flags byte, frame []byte) []byte {
	c.sent++
	nonce := shortNonce(c.sendPrefix, c.sent)
	var inner byte
	if flags&flagMore != 0 {
		inner |= boxMore
	}
	if flags&flagCommand != 0 {
		inner |= boxCommand
	}
	dst = append(dst, "\x07MESSAGE"...)
	dst = append(dst, nonce[16:]...)
	plain := append(c.scratch[:0], inner)
	plain = append(plain, frame...)
	dst = box.SealAfterPrecomputation(dst, plain, nonce, &c.key)
	if cap(plain) <= maxScratch {
		c.scratch = plain
	}
	return dst
}

// SealedLen is the MESSAGE body's length for a frame of n bytes.
func (c *curveCipher) SealedLen(n int) int { return sealOverhead + n }

// Open checks and decrypts a MESSAGE body; flags come back in the frame
// header's terms.
func (c *curveCipher) Open(body []byte) (flags byte, frame []byte, err error) {
	if len(body) < 8 || string(body[:8]) != "\x07MESSAGE" {
		return 0, nil, fmt.Errorf("%w: not a MESSAGE", ErrDecrypt)
	}
	if len(body) < sealOverhead {
		return 0, nil, fmt.Errorf("%w: MESSAGE of %d bytes", ErrDecrypt, len(body))
	}
	n := binary.BigEndian.Uint64(body[8:16])
	if n <= c.received {
		return 0, nil, fmt.Errorf("%w: nonce %d after %d", ErrDecrypt, n, c.received)
	}
	plain, ok := box.OpenAfterPrecomputation(nil, body[16:], shortNonce(c.recvPrefix, n), &c.key)
	if !ok {
		return 0, nil, fmt.Errorf("%w: MESSAGE does not authenticate", ErrDecrypt)
	}
	c.received = n
	if plain[0]&boxMore != 0 {
		flags |= flagMore
	}
	if plain[0]&boxCommand != 0 {
		flags |= flagCommand
	}
	return flags, plain[1:], nil
}
