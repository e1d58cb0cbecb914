package engine

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/internal/testutil"
)

// xorCipher stands in for CURVE in tests of the data path: the MESSAGE
// layout with a counter nonce, and a "box" that XORs with a key byte and
// carries a 16-byte checksum-ish tag.
type xorCipher struct {
	key        byte
	sent, seen uint64
}

func (x *xorCipher) SealedLen(n int) int { return 8 + 8 + 16 + 1 + n }

func (x *xorCipher) Seal(dst []byte, flags byte, frame []byte) []byte {
	x.sent++
	dst = append(dst, "\x07MESSAGE"...)
	dst = binary.BigEndian.AppendUint64(dst, x.sent)
	dst = append(dst, bytes.Repeat([]byte{x.key}, 16)...)
	dst = append(dst, flags^x.key)
	for _, b := range frame {
		dst = append(dst, b^x.key)
	}
	return dst
}

func (x *xorCipher) Open(body []byte) (byte, []byte, error) {
	if len(body) < 33 || string(body[:8]) != "\x07MESSAGE" {
		return 0, nil, errors.New("not a MESSAGE")
	}
	nonce := binary.BigEndian.Uint64(body[8:])
	if nonce <= x.seen {
		return 0, nil, errors.New("replayed nonce")
	}
	x.seen = nonce
	if !bytes.Equal(body[16:32], bytes.Repeat([]byte{x.key}, 16)) {
		return 0, nil, errors.New("bad tag")
	}
	out := make([]byte, len(body)-33)
	for i, b := range body[33:] {
		out[i] = b ^ x.key
	}
	return body[32] ^ x.key, out, nil
}

// servePair runs Serve over a loopback TCP pair with a cipher on each side;
// ended is closed when either Serve returns.
func servePair(t *testing.T, o *Options, a, b FrameCipher) (pa, pb *Pipe, ended <-chan struct{}) {
	t.Helper()
	pa, pb, ended, _ = serveCounted(t, o, a, b)
	return pa, pb, ended
}

// countingConn counts the bytes read from it.
type countingConn struct {
	net.Conn
	read *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

// serveCounted is servePair that also tells how many bytes each side has
// read: read[0] side a, read[1] side b.
func serveCounted(t *testing.T, o *Options, a, b FrameCipher) (pa, pb *Pipe, ended <-chan struct{}, read [2]*atomic.Int64) {
	t.Helper()
	read = [2]*atomic.Int64{new(atomic.Int64), new(atomic.Int64)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	acc := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		acc <- c
	}()
	ca, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	cb := <-acc
	require.NotNil(t, cb)
	ca, cb = countingConn{ca, read[0]}, countingConn{cb, read[1]}
	pa, pb = NewPipe("a", true, 0, 0), NewPipe("b", false, 0, 0)
	pa.SetPeer(Peer{Cipher: a})
	pb.SetPeer(Peer{Cipher: b})
	var wg sync.WaitGroup
	var once sync.Once
	first := make(chan struct{})
	for _, side := range []struct {
		c net.Conn
		p *Pipe
	}{{ca, pa}, {cb, pb}} {
		wg.Go(func() {
			_ = Serve(side.c, side.p, o)
			once.Do(func() { close(first) })
		})
	}
	t.Cleanup(func() {
		pa.Out.Close()
		pb.Out.Close()
		wg.Wait()
	})
	return pa, pb, first, read
}

func popWithin(t *testing.T, q *Queue, d time.Duration) Msg {
	t.Helper()
	var m Msg
	testutil.Eventually(t, d, func() bool {
		var ok bool
		m, ok, _ = q.TryPop()
		return ok
	}, "no message")
	return m
}

func TestEncryptedDataPath(t *testing.T) {
	// The timeout is far beyond what a loaded machine can stall a
	// goroutine: this test is about heartbeats getting through encrypted,
	// not about their timing.
	o := &Options{HeartbeatIvl: 20 * time.Millisecond, HeartbeatTimeout: time.Minute}
	pa, pb, ended, read := serveCounted(t, o, &xorCipher{key: 0x5a}, &xorCipher{key: 0x5a})
	msgs := []Msg{
		{Head: []byte("one")},
		{Head: []byte{}},
		{Head: []byte("multi"), Tail: [][]byte{[]byte("part"), {}, bytes.Repeat([]byte("x"), 100<<10)}},
		{Head: bytes.Repeat([]byte("y"), 3<<20)}, // bigger than the staging buffer
	}
	for _, m := range msgs {
		require.Equal(t, Pushed, pa.Out.TryPush(m))
	}
	for _, want := range msgs {
		got := popWithin(t, pb.In, 5*time.Second)
		assert.Equal(t, want.Frames(), got.Frames())
	}
	// Heartbeats (PING/PONG commands, encrypted too) flow on the idle
	// link, each way, and are understood: a command that did not open
	// would end the connection.
	const beat = 2 + 33 + 4 // a frame header, the sealed overhead, "PING" at least
	a0, b0 := read[0].Load(), read[1].Load()
	testutil.Eventually(t, 10*time.Second, func() bool {
		return read[0].Load()-a0 >= 3*beat && read[1].Load()-b0 >= 3*beat
	}, "no three heartbeats each way (read %d and %d bytes)", read[0].Load()-a0, read[1].Load()-b0)
	select {
	case <-ended:
		require.FailNow(t, "the connection ended while idle")
	default:
	}
	require.Equal(t, Pushed, pb.Out.TryPush(Msg{Head: []byte("back")}))
	assert.Equal(t, "back", string(popWithin(t, pa.In, 5*time.Second).Head))
}

func TestEncryptedDataPathRejectsBadFrames(t *testing.T) {
	// The two sides disagree on the key: the first frame fails to open
	// and the connection ends instead of delivering garbage.
	o := &Options{}
	pa, pb, ended := servePair(t, o, &xorCipher{key: 1}, &xorCipher{key: 2})
	require.Equal(t, Pushed, pa.Out.TryPush(Msg{Head: []byte("secret")}))
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		require.FailNow(t, "the connection outlived a frame that does not open")
	}
	_, ok, _ := pb.In.TryPop()
	assert.False(t, ok, "nothing that failed to open is delivered")
}
