package engine

import (
	"errors"
	"io"
	"net"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rawPair is a connected pair over network ("tcp" or "unix"): a, the side
// under test, with small kernel buffers so that writes meet a full socket,
// and b, the other end.
func rawPair(t *testing.T, network string) (a, b net.Conn) {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == "unix" {
		addr = filepath.Join(t.TempDir(), "s")
	}
	ln, err := net.Listen(network, addr)
	require.NoError(t, err)
	defer ln.Close()
	a, err = net.Dial(network, ln.Addr().String())
	require.NoError(t, err)
	b, err = ln.Accept()
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.Close(); _ = b.Close() })
	type bufs interface {
		SetWriteBuffer(int) error
		SetReadBuffer(int) error
	}
	require.NoError(t, a.(bufs).SetWriteBuffer(32<<10))
	require.NoError(t, b.(bufs).SetReadBuffer(32<<10))
	return a, b
}

// pattern is n bytes that differ from any shifted copy of themselves over
// short distances, so a repeated or skipped byte shows.
func pattern(seed, n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(seed*31 + i*7 + i>>8)
	}
	return p
}

// readAll collects n bytes from c in reads of at most 16 KiB, slowly
// enough that the writer finds the socket full. It gives up 10 s after the
// last byte came, with what it has.
func readAll(c net.Conn, n int) chan []byte {
	out := make(chan []byte, 1)
	go func() {
		got := make([]byte, 0, n)
		buf := make([]byte, 16<<10)
		for len(got) < n {
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			k, err := c.Read(buf)
			got = append(got, buf[:k]...)
			if err != nil {
				break
			}
		}
		out <- got
	}()
	return out
}

func TestRawIOWritevKeepsOrder(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			a, b := rawPair(t, network)
			r := newRawIO(a)
			require.NotNil(t, r)
			// Segments of every kind of length: tiny ones (more of them than
			// one writev takes), ones that cross maxRawIO, and one that is
			// larger than maxRawIO by itself.
			var segs [][]byte
			var want []byte
			sizes := []int{1, 7, 100, 4096, 70000, maxRawIO + 12345, 0, 3}
			for i := 0; i < 1500; i++ {
				n := sizes[i%len(sizes)]
				if i >= 40 {
					n = 1 + i%13 // then many small ones: over maxIov in one call
				}
				s := pattern(i, n)
				segs = append(segs, s)
				want = append(want, s...)
			}
			got := readAll(b, len(want))
			require.NoError(t, r.Writev(segs))
			assert.True(t, string(want) == string(<-got), "the stream read differs from the segments written")
			assert.Empty(t, r.iov)
		})
	}
}

func TestRawIOWriteAll(t *testing.T) {
	a, b := rawPair(t, "tcp")
	r := newRawIO(a)
	want := pattern(1, 3*maxRawIO+77)
	got := readAll(b, len(want))
	n, err := r.Write(want)
	require.NoError(t, err)
	assert.Equal(t, len(want), n)
	assert.True(t, string(want) == string(<-got), "the stream read differs from the bytes written")
}

func TestRawIORead(t *testing.T) {
	a, b := rawPair(t, "tcp")
	r := newRawIO(a)
	_, err := b.Write([]byte("hello"))
	require.NoError(t, err)
	buf := make([]byte, 64)
	n, err := r.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "hello", string(buf[:n]))

	// A passed deadline ends a read that waits, as a timeout.
	require.NoError(t, a.SetReadDeadline(time.Now().Add(20*time.Millisecond)))
	_, err = r.Read(buf)
	var ne net.Error
	require.True(t, errors.As(err, &ne), "got %v", err)
	assert.True(t, ne.Timeout())
	require.NoError(t, a.SetReadDeadline(time.Time{}))

	// The peer's close is io.EOF, after what it sent.
	_, err = b.Write([]byte("bye"))
	require.NoError(t, err)
	require.NoError(t, b.Close())
	n, err = r.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "bye", string(buf[:n]))
	_, err = r.Read(buf)
	assert.ErrorIs(t, err, io.EOF)

	// Our own close ends a read and a write with an error, not a hang.
	require.NoError(t, a.Close())
	_, err = r.Read(buf)
	assert.ErrorIs(t, err, net.ErrClosed)
	_, err = r.Write([]byte("x"))
	assert.ErrorIs(t, err, net.ErrClosed)
}

func TestRawIOWriteToGonePeer(t *testing.T) {
	a, b := rawPair(t, "tcp")
	r := newRawIO(a)
	require.NoError(t, b.Close())
	var err error
	for i := 0; i < 1000 && err == nil; i++ {
		_, err = r.Write(make([]byte, 64<<10))
	}
	require.Error(t, err, "writes to a closed peer keep succeeding")
	var oe *net.OpError
	require.True(t, errors.As(err, &oe), "got %T %v", err, err)
	assert.Equal(t, "write", oe.Op)
	assert.Equal(t, a.RemoteAddr(), oe.Addr, "the error names the peer, as net.Conn's do")
	assert.True(t, errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET), "got %v", err)
}

func TestRawIOOnlyForSockets(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	assert.Nil(t, newRawIO(a))
	assert.Nil(t, newRawIO(&countingConn{Conn: a}))
}
