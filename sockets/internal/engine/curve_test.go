package engine

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/nacl/box"
)

func newKeys(t *testing.T) CurveKeypair {
	t.Helper()
	k, err := NewCurveKeypair()
	require.NoError(t, err)
	return k
}

func z85Key(t *testing.T, s string) [32]byte {
	t.Helper()
	b, err := Z85Decode(s)
	require.NoError(t, err)
	require.Len(t, b, 32)
	return [32]byte(b)
}

// The key pairs of libzmq's zmq_curve(7) manual page.
func TestCurvePublicMatchesLibzmq(t *testing.T) {
	for _, pair := range [][2]string{
		{"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7", "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6"},
		{"Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID", "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs"},
	} {
		assert.Equal(t, z85Key(t, pair[0]), CurvePublic(z85Key(t, pair[1])))
	}
	k := newKeys(t)
	assert.Equal(t, k.Public, CurvePublic(k.Secret))
}

func TestCurveSharedKey(t *testing.T) {
	a, b := newKeys(t), newKeys(t)
	var want [32]byte
	box.Precompute(&want, &b.Public, &a.Secret)
	got, err := curveShared(&b.Public, &a.Secret)
	require.NoError(t, err)
	assert.Equal(t, want, got)
	back, err := curveShared(&a.Public, &b.Secret)
	require.NoError(t, err)
	assert.Equal(t, want, back)

	var zero [32]byte
	_, err = curveShared(&zero, &a.Secret)
	assert.Error(t, err, "a low-order key is refused")
}

// curvePair runs a handshake over loopback TCP. The accepting side uses
// acceptSec, the dialing side dialSec; either may be the CURVE server.
func curvePair(t *testing.T, dialSec, acceptSec zmq4.Security) (dialPeer, acceptPeer Peer, dialErr, acceptErr error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	type result struct {
		p   Peer
		err error
	}
	done := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- result{err: err}
			return
		}
		defer c.Close()
		p, err := Handshake(c, HandshakeConfig{Security: acceptSec, Type: zmq4.Dealer, Server: true, Timeout: 2 * time.Second})
		done <- result{p, err}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	dialPeer, dialErr = Handshake(c, HandshakeConfig{Security: dialSec, Type: zmq4.Dealer, Timeout: 2 * time.Second})
	c.Close()
	r := <-done
	return dialPeer, r.p, dialErr, r.err
}

// curveCiphers returns the client's and the server's ciphers after a
// handshake.
func curveCiphers(t *testing.T) (client, server FrameCipher) {
	t.Helper()
	sk := newKeys(t)
	cp, sp, cerr, serr := curvePair(t, CurveClient{ServerPublic: sk.Public, Keys: newKeys(t)}, CurveServer{Keys: sk})
	require.NoError(t, cerr)
	require.NoError(t, serr)
	return cp.Cipher, sp.Cipher
}

func TestCurveHandshake(t *testing.T) {
	for _, serverDials := range []bool{false, true} {
		sk, ck := newKeys(t), newKeys(t)
		var seen [32]byte
		server := CurveServer{Keys: sk, Auth: func(k [32]byte) bool { seen = k; return true }}
		client := CurveClient{ServerPublic: sk.Public, Keys: ck}
		var cp, sp Peer
		var cerr, serr error
		if serverDials {
			sp, cp, serr, cerr = curvePair(t, server, client)
		} else {
			cp, sp, cerr, serr = curvePair(t, client, server)
		}
		require.NoError(t, cerr, "server dials: %v", serverDials)
		require.NoError(t, serr, "server dials: %v", serverDials)
		assert.Equal(t, ck.Public, seen, "Auth sees the client's long-term key")
		id, err := Z85Encode(ck.Public[:])
		require.NoError(t, err)
		assert.Equal(t, id, sp.UserID)
		assert.Empty(t, cp.UserID, "the client authenticated nobody")
		assert.Equal(t, zmq4.Dealer, cp.Type, "metadata came through READY")
		assert.Equal(t, zmq4.Dealer, sp.Type, "metadata came through INITIATE")
		require.NotNil(t, cp.Cipher)
		require.NotNil(t, sp.Cipher)

		big := bytes.Repeat([]byte("z"), maxScratch+10)
		for i, tc := range []struct {
			flags byte
			frame []byte
		}{
			{0, []byte("hello")},
			{flagMore, []byte("first")},
			{0, nil},
			{flagCommand, []byte("\x04PING\x00\x00")},
			{flagMore, big},
			{0, big[:300]},
		} {
			for _, dir := range []struct {
				name       string
				from, to   FrameCipher
				sealedWith byte
			}{{"client to server", cp.Cipher, sp.Cipher, 'C'}, {"server to client", sp.Cipher, cp.Cipher, 'S'}} {
				body := dir.from.Seal([]byte("prefix"), tc.flags, tc.frame)
				require.Equal(t, "prefix", string(body[:6]), "Seal appends")
				body = body[6:]
				assert.Len(t, body, dir.from.SealedLen(len(tc.frame)))
				flags, frame, err := dir.to.Open(body)
				require.NoError(t, err, "%s, frame %d", dir.name, i)
				assert.Equal(t, tc.flags, flags, "%s, frame %d", dir.name, i)
				assert.Equal(t, len(tc.frame), len(frame), "%s, frame %d", dir.name, i)
				assert.True(t, bytes.Equal(tc.frame, frame), "%s, frame %d", dir.name, i)
			}
		}
	}
}

func TestCurveCipherRefuses(t *testing.T) {
	client, server := curveCiphers(t)

	first := client.Seal(nil, 0, []byte("one"))
	second := client.Seal(nil, 0, []byte("two"))
	_, _, err := server.Open(second)
	require.NoError(t, err)
	_, _, err = server.Open(first)
	assert.ErrorIs(t, err, ErrDecrypt, "a nonce that does not increase")
	_, _, err = server.Open(second)
	assert.ErrorIs(t, err, ErrDecrypt, "a replay")

	third := client.Seal(nil, flagMore, []byte("three"))
	for i := 8; i < len(third); i++ {
		tampered := bytes.Clone(third)
		tampered[i] ^= 0x20
		_, _, err = server.Open(tampered)
		assert.ErrorIs(t, err, ErrDecrypt, "byte %d tampered", i)
	}
	flags, frame, err := server.Open(third)
	require.NoError(t, err, "failed opens do not move the nonce on")
	assert.Equal(t, byte(flagMore), flags)
	assert.Equal(t, "three", string(frame))

	// A frame sealed for the other direction does not open: the nonce
	// prefixes differ even where the counters would pass.
	own := server.Seal(nil, 0, []byte("to the client"))
	_, _, err = server.Open(own)
	assert.ErrorIs(t, err, ErrDecrypt)
	_, _, err = client.Open(own)
	require.NoError(t, err)

	for _, body := range []string{
		"",
		"\x07MESSAG",
		"\x05HELLO" + string(make([]byte, 40)),
		"\x07MESSAGE" + string(make([]byte, 8+16)), // no room for the flags byte
	} {
		_, _, err = server.Open([]byte(body))
		assert.ErrorIs(t, err, ErrDecrypt, "%q", body)
	}
}

// The layout libzmq 4.3 reads: each side's MESSAGE nonces go on from its
// handshake nonces (the client's HELLO and INITIATE used 1 and 2, the
// server's READY 1), and inside the box a command is 0x02, not 0x04.
func TestCurveWireLayout(t *testing.T) {
	client, server := curveCiphers(t)
	for _, tc := range []struct {
		from      FrameCipher
		prefix    string
		nonce     uint64
		flags     byte
		wireFlags byte
	}{
		{client, prefixClient, 3, flagCommand, 0x02},
		{client, prefixClient, 4, flagMore, 0x01},
		{server, prefixServer, 2, flagMore | flagCommand, 0x03},
		{server, prefixServer, 3, 0, 0x00},
	} {
		body := tc.from.Seal(nil, tc.flags, []byte("frame"))
		require.Equal(t, "\x07MESSAGE", string(body[:8]))
		assert.Equal(t, tc.nonce, binary.BigEndian.Uint64(body[8:16]))
		plain, ok := box.OpenAfterPrecomputation(nil, body[16:], shortNonce(tc.prefix, tc.nonce), &tc.from.(*curveCipher).key)
		require.True(t, ok)
		assert.Equal(t, append([]byte{tc.wireFlags}, "frame"...), plain)
	}
}

func TestCurveSealAllocations(t *testing.T) {
	client, _ := curveCiphers(t)
	frame := make([]byte, 1000)
	dst := make([]byte, 0, client.SealedLen(len(frame)))
	client.Seal(dst, 0, frame) // warm the scratch buffer
	allocs := testing.AllocsPerRun(100, func() { dst = client.Seal(dst[:0], flagMore, frame) })
	assert.Zero(t, allocs)
}

func TestCurveHandshakeRefused(t *testing.T) {
	sk, ck := newKeys(t), newKeys(t)
	other := newKeys(t)

	// The client has another key for the server: the server cannot open
	// HELLO and says so.
	cerr, serr := handshakePair(t, CurveClient{ServerPublic: other.Public, Keys: ck}, CurveServer{Keys: sk})
	require.Error(t, serr)
	assert.Contains(t, serr.Error(), "HELLO does not authenticate")
	assert.False(t, errors.Is(serr, ErrAuth))
	assert.ErrorIs(t, cerr, ErrPeerError)

	refuse := CurveServer{Keys: sk, Auth: func(k [32]byte) bool { return k == other.Public }}
	cerr, serr = handshakePair(t, CurveClient{ServerPublic: sk.Public, Keys: ck}, refuse)
	assert.ErrorIs(t, serr, ErrAuth)
	assert.ErrorIs(t, cerr, ErrAuth, "the client learns it from ERROR 400")

	cerr, serr = handshakePair(t, CurveClient{ServerPublic: sk.Public, Keys: other}, refuse)
	require.NoError(t, cerr)
	require.NoError(t, serr)

	// A key pair whose halves do not match fails before anything is sent.
	bad := CurveClient{ServerPublic: sk.Public, Keys: CurveKeypair{Public: ck.Public, Secret: other.Secret}}
	_, _, cerr, serr = curvePair(t, bad, CurveServer{Keys: sk})
	require.Error(t, cerr)
	assert.Contains(t, cerr.Error(), "Keys.Public")
	require.Error(t, serr)

	// Both sides servers: each waits for the other's HELLO until the timeout.
	cerr, serr = handshakePairWithin(t, CurveServer{Keys: ck}, CurveServer{Keys: sk}, 100*time.Millisecond)
	require.Error(t, cerr)
	require.Error(t, serr)

	// The shared value cannot run a handshake itself: it would have nowhere
	// to keep the connection's keys.
	assert.Error(t, CurveServer{}.Handshake(nil, false))
	assert.Error(t, CurveClient{}.Handshake(nil, false))
}

// curveSessions runs HELLO and WELCOME between a client and a server
// session in memory and returns them with the cookie the client got.
func curveSessions(t *testing.T) (*curveClientSession, *curveServerSession, []byte) {
	t.Helper()
	sk := newKeys(t)
	c := &curveClientSession{cfg: CurveClient{ServerPublic: sk.Public, Keys: newKeys(t)}}
	s := &curveServerSession{cfg: CurveServer{Keys: sk}}
	hello, err := c.hello()
	require.NoError(t, err)
	require.Len(t, hello, 200-len("\x05HELLO"))
	require.NoError(t, s.hello(hello))
	welcome, err := s.welcome()
	require.NoError(t, err)
	require.Len(t, welcome, 168-len("\x07WELCOME"))
	cookie, err := c.welcome(welcome)
	require.NoError(t, err)
	return c, s, cookie
}

func TestCurveHostileHello(t *testing.T) {
	c, s, _ := curveSessions(t)
	good, err := c.hello()
	require.NoError(t, err)
	require.NoError(t, s.hello(good))

	garbage := make([]byte, len(good))
	_, _ = rand.Read(garbage)
	garbage[0], garbage[1] = 1, 0
	tampered := bytes.Clone(good)
	tampered[len(tampered)-10] ^= 1
	lowOrder := bytes.Clone(good)
	clear(lowOrder[2+72 : 2+72+32])
	for name, body := range map[string][]byte{
		"empty":         nil,
		"short":         good[:len(good)-1],
		"long":          append(bytes.Clone(good), 0),
		"200 bytes":     append(bytes.Clone(good), 1, 2, 3, 4, 5, 6),
		"version 2.0":   append([]byte{2, 0}, good[2:]...),
		"version 1.1":   append([]byte{1, 1}, good[2:]...),
		"garbage":       garbage,
		"tampered":      tampered,
		"low-order key": lowOrder,
	} {
		assert.Error(t, s.hello(body), name)
	}
}

func TestCurveHostileWelcome(t *testing.T) {
	c, s, _ := curveSessions(t)
	welcome, err := s.welcome()
	require.NoError(t, err)
	for name, body := range map[string][]byte{
		"empty":   nil,
		"short":   welcome[:len(welcome)-1],
		"long":    append(bytes.Clone(welcome), 0),
		"garbage": bytes.Repeat([]byte{0xaa}, len(welcome)),
		"nonce":   append([]byte{welcome[0] ^ 1}, welcome[1:]...),
	} {
		_, err := c.welcome(body)
		assert.Error(t, err, name)
	}
	_, err = c.welcome(welcome)
	assert.NoError(t, err)
}

func TestCurveHostileInitiate(t *testing.T) {
	meta := []byte("\x0bSocket-Type\x00\x00\x00\x06DEALER")
	c, s, cookie := curveSessions(t)
	vouch := c.vouch(c.t.Public)
	good := c.initiate(cookie, vouch, meta)

	cases := map[string][]byte{
		"empty":      nil,
		"cookie":     good[:curveCookieLen],
		"just short": good[:curveInitiateMin-1],
		"no meta":    good[:curveInitiateMin],
		"cut":        good[:len(good)-1],
	}
	badCookie := bytes.Clone(good)
	badCookie[20] ^= 1
	cases["bad cookie"] = badCookie

	_, _, cookie2 := curveSessions(t)
	cases["another session's cookie"] = c.initiate(cookie2, vouch, meta)

	other := newKeys(t)
	cases["vouch for another transient key"] = c.initiate(cookie, c.vouch(other.Public), meta)

	// A vouch made with another long-term key than the C in the box.
	impostor := *c
	impostor.kVouch, _ = curveShared(&c.serverT, &other.Secret)
	cases["vouch by another key"] = c.initiate(cookie, impostor.vouch(c.t.Public), meta)

	// INITIATE reusing HELLO's nonce.
	replay := *c
	replay.nonce = 0
	cases["HELLO's nonce"] = replay.initiate(cookie, vouch, meta)

	for name, body := range cases {
		_, _, err := s.initiate(body)
		assert.Error(t, err, name)
	}
	client, gotMeta, err := s.initiate(good)
	require.NoError(t, err)
	assert.Equal(t, c.cfg.Keys.Public, client)
	assert.Equal(t, meta, gotMeta)
}

func TestCurveHostileReady(t *testing.T) {
	c, s, cookie := curveSessions(t)
	_, _, err := s.initiate(c.initiate(cookie, c.vouch(c.t.Public), nil))
	require.NoError(t, err)
	good := s.ready([]byte("\x0bSocket-Type\x00\x00\x00\x06DEALER"))
	for name, body := range map[string][]byte{
		"empty":    nil,
		"short":    good[:curveReadyMin-1],
		"cut":      good[:len(good)-1],
		"nonce":    append([]byte{good[0] ^ 1}, good[1:]...),
		"tampered": append(bytes.Clone(good[:len(good)-1]), good[len(good)-1]^1),
	} {
		_, err := c.ready(body)
		assert.Error(t, err, name)
		assert.Nil(t, c.frameCipher(), name)
	}
	meta, err := c.ready(good)
	require.NoError(t, err)
	assert.Equal(t, "\x0bSocket-Type\x00\x00\x00\x06DEALER", string(meta))
	assert.NotNil(t, c.frameCipher())
}

func TestCheckMeta(t *testing.T) {
	for _, tc := range []struct {
		meta string
		ok   bool
	}{
		{"", true},
		{"\x0bSocket-Type\x00\x00\x00\x06DEALER", true},
		{"\x0bSocket-Type\x00\x00\x00\x06DEALER\x08Identity\x00\x00\x00\x00", true},
		{"\x00\x00\x00\x00\x00", false},                  // empty name
		{"\x0bSocket-Type", false},                       // no value length
		{"\x0bSocket-Type\x00\x00\x00", false},           // value length cut
		{"\x0bSocket-Type\x00\x00\x00\x07DEALER", false}, // value cut
		{"\x0bSocket-Type\xff\xff\xff\xffDEALER", false}, // huge value length
		{"\x0bSocket", false},                            // name cut
		{"\x0bSocket-Type\x00\x00\x00\x06DEALER\x01", false},
	} {
		err := checkMeta([]byte(tc.meta))
		assert.Equal(t, tc.ok, err == nil, "%q: %v", tc.meta, err)
	}
}

// curveScript is a CURVE peer that says whatever its script says.
type curveScript func(c *zmq4.Conn) error

func (curveScript) Type() zmq4.SecurityType                    { return zmq4.CurveSecurity }
func (curveScript) Encrypt(w io.Writer, b []byte) (int, error) { return w.Write(b) }
func (curveScript) Decrypt(w io.Writer, b []byte) (int, error) { return w.Write(b) }
func (f curveScript) Handshake(c *zmq4.Conn, _ bool) error     { return f(c) }

// Hostile commands over a real connection end both handshakes cleanly.
func TestCurveHostilePeers(t *testing.T) {
	sk := newKeys(t)
	server := CurveServer{Keys: sk}
	client := CurveClient{ServerPublic: sk.Public, Keys: newKeys(t)}

	// A HELLO of the wrong size.
	cerr, serr := handshakePair(t, curveScript(func(c *zmq4.Conn) error {
		if err := c.SendCmd(zmq4.CmdHello, make([]byte, 10)); err != nil {
			return err
		}
		_, err := recvCurveCmd(c, zmq4.CmdWelcome)
		return err
	}), server)
	require.Error(t, serr)
	assert.Contains(t, serr.Error(), "HELLO of 10 bytes")
	assert.ErrorIs(t, cerr, ErrPeerError, "the client is told")

	// A server answering HELLO with a short WELCOME, or with READY.
	for _, reply := range []struct{ name, body string }{
		{zmq4.CmdWelcome, "short"},
		{zmq4.CmdReady, ""},
	} {
		cerr, serr = handshakePair(t, client, curveScript(func(c *zmq4.Conn) error {
			if _, err := recvCurveCmd(c, zmq4.CmdHello); err != nil {
				return err
			}
			return c.SendCmd(reply.name, []byte(reply.body))
		}))
		require.Error(t, cerr, reply.name)
		require.Error(t, serr, reply.name)
	}

	// A client bringing a forged cookie.
	cerr, serr = handshakePair(t, curveScript(func(c *zmq4.Conn) error {
		s := &curveClientSession{cfg: client}
		hello, err := s.hello()
		if err != nil {
			return err
		}
		if err := c.SendCmd(zmq4.CmdHello, hello); err != nil {
			return err
		}
		welcome, err := recvCurveCmd(c, zmq4.CmdWelcome)
		if err != nil {
			return err
		}
		cookie, err := s.welcome(welcome)
		if err != nil {
			return err
		}
		cookie = bytes.Clone(cookie)
		cookie[len(cookie)-1] ^= 1
		if err := c.SendCmd(zmq4.CmdInitiate, s.initiate(cookie, s.vouch(s.t.Public), nil)); err != nil {
			return err
		}
		_, err = recvCurveCmd(c, zmq4.CmdReady)
		return err
	}), server)
	require.Error(t, serr)
	assert.Contains(t, serr.Error(), "bad cookie")
	assert.ErrorIs(t, cerr, ErrPeerError)

	// Well-formed boxes around malformed metadata.
	cerr, serr = handshakePair(t, curveScript(func(c *zmq4.Conn) error {
		s := &curveClientSession{cfg: client}
		hello, _ := s.hello()
		if err := c.SendCmd(zmq4.CmdHello, hello); err != nil {
			return err
		}
		welcome, err := recvCurveCmd(c, zmq4.CmdWelcome)
		if err != nil {
			return err
		}
		cookie, err := s.welcome(welcome)
		if err != nil {
			return err
		}
		if err := c.SendCmd(zmq4.CmdInitiate, s.initiate(cookie, s.vouch(s.t.Public), []byte("\x0bSocket-Type\xff"))); err != nil {
			return err
		}
		_, err = recvCurveCmd(c, zmq4.CmdReady)
		return err
	}), server)
	require.Error(t, serr)
	assert.Contains(t, serr.Error(), "INITIATE metadata")
	assert.ErrorIs(t, cerr, ErrPeerError)
}
