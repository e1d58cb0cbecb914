package sockets

import (
	"fmt"

	"github.com/zmqkit/zmqkit/sockets/internal/engine"
)

// CurveKeypair is a long-term CURVE key pair (Curve25519), what libzmq's
// zmq_curve_keypair makes. Keys print and parse in Z85 (RFC 32), the 40
// character form libzmq and pyzmq use: see CurveKey and ParseCurveKey.
type CurveKeypair struct {
	Public, Secret [32]byte
}

// NewCurveKeypair makes a fresh key pair from crypto/rand.
func NewCurveKeypair() (CurveKeypair, error) {
	k, err := engine.NewCurveKeypair()
	return CurveKeypair(k), err
}

// CurveKeypairFromSecret rebuilds a key pair from its secret half (libzmq's
// zmq_curve_public).
func CurveKeypairFromSecret(secret [32]byte) CurveKeypair {
	return CurveKeypair{Public: engine.CurvePublic(secret), Secret: secret}
}

// CurveKey is key in Z85, 40 characters.
func CurveKey(key [32]byte) string {
	s, _ := engine.Z85Encode(key[:]) // 32 bytes always encode
	return s
}

// ParseCurveKey reads a key in Z85 (40 characters) or as 32 raw bytes.
func ParseCurveKey(s string) ([32]byte, error) {
	var k [32]byte
	switch len(s) {
	case 32:
		copy(k[:], s)
		return k, nil
	case 40:
		b, err := engine.Z85Decode(s)
		if err != nil {
			return k, fmt.Errorf("%w: %w", ErrBadOption, &Z85Error{Reason: err.Error()})
		}
		copy(k[:], b)
		return k, nil
	}
	return k, fmt.Errorf("%w: a CURVE key is 40 Z85 characters or 32 bytes, not %d", ErrBadOption, len(s))
}

// WithCurveServer makes the socket a CURVE server (RFC 26; libzmq's
// ZMQ_CURVE_SERVER with ZMQ_CURVE_SECRETKEY), whether it listens or dials:
// every connection is encrypted and authenticated, and clients must know
// keys.Public. auth decides each client by its long-term public key, as a
// ZAP handler would; a refused client gets ZAP's 400 and no connection, and
// both sides see EventHandshakeFailed with an error matching ErrAuth. A nil
// auth accepts any client that completes the handshake.
func WithCurveServer(keys CurveKeypair, auth func(clientPublic [32]byte) bool) Option {
	return func(c *config) error {
		if keys.Public != engine.CurvePublic(keys.Secret) {
			return fmt.Errorf("%w: CURVE public key does not belong to the secret key", ErrBadOption)
		}
		c.Security = engine.CurveServer{Keys: engine.CurveKeypair(keys), Auth: auth}
		return nil
	}
}

// WithCurveServerAuth is WithCurveServer with an auth that also sees the
// client's Peer: its address (Remote) and the metadata it announced (Type,
// Identity, Property); UserID is empty, as auth is what decides it. auth
// runs once the client has proved its key and sent its metadata (INITIATE);
// a refused client gets ZAP's 400 and no connection, and both sides see
// EventHandshakeFailed with an error matching ErrAuth. A nil auth accepts
// any client that completes the handshake.
func WithCurveServerAuth(keys CurveKeypair, auth func(p Peer, clientPublic [32]byte) bool) Option {
	return func(c *config) error {
		if keys.Public != engine.CurvePublic(keys.Secret) {
			return fmt.Errorf("%w: CURVE public key does not belong to the secret key", ErrBadOption)
		}
		var ap func(*engine.Peer, [32]byte) bool
		if auth != nil {
			ap = func(p *engine.Peer, k [32]byte) bool { return auth(peerOf(p), k) }
		}
		c.Security = engine.CurveServer{Keys: engine.CurveKeypair(keys), AuthPeer: ap}
		return nil
	}
}

// WithCurve makes the socket a CURVE client of the server whose public key
// is serverPublic, proving keys (libzmq's ZMQ_CURVE_SERVERKEY,
// ZMQ_CURVE_PUBLICKEY and ZMQ_CURVE_SECRETKEY). A client whose server does
// not hold serverPublic's secret cannot complete a handshake.
func WithCurve(serverPublic [32]byte, keys CurveKeypair) Option {
	return func(c *config) error {
		if keys.Public != engine.CurvePublic(keys.Secret) {
			return fmt.Errorf("%w: CURVE public key does not belong to the secret key", ErrBadOption)
		}
		c.Security = engine.CurveClient{ServerPublic: serverPublic, Keys: engine.CurveKeypair(keys)}
		return nil
	}
}

// Z85Error is why ParseCurveKey refused a 40-character key: it is not Z85
// (an invalid character, or a group of five that exceeds 32 bits).
type Z85Error struct{ Reason string }

func (e *Z85Error) Error() string { return "not valid Z85: " + e.Reason }
