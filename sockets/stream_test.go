package sockets_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/internal/testutil"
	"github.com/zmqkit/zmqkit/sockets"
)

func newStream(t *testing.T, opts ...sockets.Option) *sockets.Socket {
	t.Helper()
	s, err := sockets.NewStream(opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// streamRecv returns the next message, which must be [routing id, data].
func streamRecv(t *testing.T, ctx context.Context, s *sockets.Socket) (id, data []byte) {
	t.Helper()
	m, err := s.Recv(ctx)
	require.NoError(t, err)
	require.Len(t, m, 2, "a STREAM message is [id, data]")
	require.Len(t, m[0], 5, "routing id")
	return m[0], m[1]
}

// streamClient listens on tcp, connects a plain TCP client, and returns it
// with the routing id the socket announced it under. The test closes it.
func streamClient(t *testing.T, ctx context.Context, s *sockets.Socket) (net.Conn, []byte) {
	t.Helper()
	addr, err := s.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	c, err := net.Dial("tcp", strings.TrimPrefix(addr, "tcp://"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	id, data := streamRecv(t, ctx, s)
	require.Empty(t, data, "a connection is announced as [id, empty]")
	return c, id
}

// streamRecvData receives from id until want has come, in however many
// chunks; every message on the way must be id's data.
func streamRecvData(t *testing.T, ctx context.Context, s *sockets.Socket, id []byte, want []byte) {
	t.Helper()
	var got []byte
	for len(got) < len(want) {
		from, data := streamRecv(t, ctx, s)
		require.Equal(t, id, from)
		require.NotEmpty(t, data, "data, not a connect or disconnect notification")
		require.LessOrEqual(t, len(data), 8192, "a STREAM reads in chunks of at most 8 KiB")
		got = append(got, data...)
	}
	require.Equal(t, want, got)
}

func TestStreamListen(t *testing.T) {
	for _, ep := range []string{"tcp://127.0.0.1:0", "ipc://*"} {
		t.Run(ep[:3], func(t *testing.T) {
			ctx := ctxT(t)
			s := newStream(t)
			addr, err := s.Listen(ep)
			require.NoError(t, err)
			network, hostport := "tcp", strings.TrimPrefix(addr, "tcp://")
			if strings.HasPrefix(addr, "ipc://") {
				network, hostport = "unix", strings.TrimPrefix(addr, "ipc://")
			}
			c, err := net.Dial(network, hostport)
			require.NoError(t, err)
			defer c.Close()

			id, data := streamRecv(t, ctx, s)
			assert.Empty(t, data, "a connection is announced as [id, empty]")

			_, err = c.Write([]byte("hello"))
			require.NoError(t, err)
			streamRecvData(t, ctx, s, id, []byte("hello"))

			require.NoError(t, s.Send(ctx, id, []byte("world")))
			got := make([]byte, 5)
			_, err = io.ReadFull(c, got)
			require.NoError(t, err)
			assert.Equal(t, "world", string(got), "written raw: no ZMTP framing")

			require.NoError(t, c.Close())
			from, data := streamRecv(t, ctx, s)
			assert.Equal(t, id, from)
			assert.Empty(t, data, "the peer's disconnect is announced as [id, empty]")
		})
	}
}

// Send [id, empty] closes that peer's connection and nobody else's; the
// end of a connection the application closed is not announced.
func TestStreamSendEmptyCloses(t *testing.T) {
	ctx := ctxT(t)
	s := newStream(t)
	addr, err := s.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	hostport := strings.TrimPrefix(addr, "tcp://")
	c1, err := net.Dial("tcp", hostport)
	require.NoError(t, err)
	defer c1.Close()
	id1, _ := streamRecv(t, ctx, s)
	c2, err := net.Dial("tcp", hostport)
	require.NoError(t, err)
	defer c2.Close()
	id2, _ := streamRecv(t, ctx, s)
	require.NotEqual(t, id1, id2)

	require.NoError(t, s.Send(ctx, id1, nil))
	require.NoError(t, c1.SetReadDeadline(time.Now().Add(10*time.Second)))
	n, err := c1.Read(make([]byte, 1))
	assert.Equal(t, 0, n)
	assert.ErrorIs(t, err, io.EOF, "the peer sees its connection closed")
	testutil.Eventually(t, 10*time.Second, func() bool { return s.Stats().Peers == 1 }, "c1's reader ended")
	assert.ErrorIs(t, s.Send(ctx, id1, []byte("x")), sockets.ErrHostUnreachable)

	// c2 is untouched; and what comes next is its data, not an
	// announcement of c1's end.
	_, err = c2.Write([]byte("still here"))
	require.NoError(t, err)
	streamRecvData(t, ctx, s, id2, []byte("still here"))
}

func TestStreamDial(t *testing.T) {
	ctx := ctxT(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	s := newStream(t, sockets.WithReconnect(10*time.Millisecond, 100*time.Millisecond))
	require.NoError(t, s.Dial("tcp://"+ln.Addr().String()))

	c, err := ln.Accept()
	require.NoError(t, err)
	id, data := streamRecv(t, ctx, s)
	assert.Empty(t, data, "the connection Dial made is announced")

	require.NoError(t, s.Send(ctx, id, []byte("ping")))
	got := make([]byte, 4)
	_, err = io.ReadFull(c, got)
	require.NoError(t, err)
	assert.Equal(t, "ping", string(got))
	_, err = c.Write([]byte("pong"))
	require.NoError(t, err)
	streamRecvData(t, ctx, s, id, []byte("pong"))

	// The server ends the connection: announced, then Dial reconnects,
	// under a new routing id.
	require.NoError(t, c.Close())
	from, data := streamRecv(t, ctx, s)
	assert.Equal(t, id, from)
	assert.Empty(t, data)
	c2, err := ln.Accept()
	require.NoError(t, err)
	defer c2.Close()
	id2, data := streamRecv(t, ctx, s)
	assert.Empty(t, data)
	assert.NotEqual(t, id, id2)

	// Disconnect closes it, and stops reconnecting.
	require.NoError(t, s.Disconnect("tcp://"+ln.Addr().String()))
	require.NoError(t, c2.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, err = c2.Read(make([]byte, 1))
	assert.ErrorIs(t, err, io.EOF)
}

func TestStreamBadInput(t *testing.T) {
	ctx := ctxT(t)
	s := newStream(t)
	assert.ErrorIs(t, s.Send(ctx, []byte("nobody"), []byte("x")), sockets.ErrHostUnreachable)
	assert.ErrorIs(t, s.Send(ctx, []byte("id only")), sockets.ErrStreamMessage)
	assert.ErrorIs(t, s.Send(ctx, []byte("id"), []byte("a"), []byte("b")), sockets.ErrStreamMessage)
	_, err := s.Listen("inproc://stream")
	assert.ErrorIs(t, err, sockets.ErrBadEndpoint)
	assert.ErrorIs(t, s.Dial("inproc://stream"), sockets.ErrBadEndpoint)
}

// A peer that writes more than the socket may hold is held back by TCP,
// not buffered: what arrives is all there, in order, in chunks, once Recv
// catches up.
func TestStreamBackpressure(t *testing.T) {
	ctx := ctxT(t)
	s := newStream(t, sockets.WithRecvHWM(4), sockets.WithRecvBufferBytes(16<<10))
	c, id := streamClient(t, ctx, s)

	payload := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	var wg sync.WaitGroup
	wg.Add(1)
	var werr error
	go func() {
		defer wg.Done()
		_, werr = c.Write(payload)
	}()
	streamRecvData(t, ctx, s, id, payload)
	wg.Wait()
	require.NoError(t, werr)
}

// Close ends every connection and unblocks Recv and Send.
func TestStreamClose(t *testing.T) {
	ctx := ctxT(t)
	s, err := sockets.NewStream(sockets.WithRecvHWM(1))
	require.NoError(t, err)
	c, id := streamClient(t, ctx, s)
	// The reader is held at its HWM of one, and a Send blocks on a peer
	// that does not read.
	_, err = c.Write(bytes.Repeat([]byte("x"), 64<<10))
	require.NoError(t, err)
	sendErr := make(chan error, 1)
	go func() {
		big := bytes.Repeat([]byte("y"), 32<<20)
		sendErr <- s.Send(ctx, id, big)
	}()
	_, err = io.ReadFull(c, make([]byte, 1))
	require.NoError(t, err, "Send is writing")
	require.NoError(t, s.Close())
	select {
	case err := <-sendErr:
		assert.True(t, errors.Is(err, sockets.ErrClosed) || errors.Is(err, sockets.ErrHostUnreachable), "blocked Send ends: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("Send still blocked after Close")
	}
	_, err = s.Recv(ctx)
	assert.ErrorIs(t, err, sockets.ErrClosed)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, err = io.Copy(io.Discard, c)
	var ne net.Error
	assert.False(t, errors.As(err, &ne) && ne.Timeout(), "the peer sees its connection end (EOF, or a reset for what we left unread): %v", err)
}

// A Send cut short by its context closes the connection (the peer's stream
// is at an unknown place) and the end is announced.
func TestStreamSendContext(t *testing.T) {
	ctx := ctxT(t)
	s := newStream(t)
	c, id := streamClient(t, ctx, s)
	short, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Send(short, id, bytes.Repeat([]byte("y"), 32<<20)) }()
	_, err := io.ReadFull(c, make([]byte, 1))
	require.NoError(t, err, "Send is writing")
	cancel()
	select {
	case err := <-done:
		assert.ErrorIs(t, err, context.Canceled)
	case <-time.After(10 * time.Second):
		t.Fatal("Send did not end with its context")
	}
	from, data := streamRecv(t, ctx, s)
	assert.Equal(t, id, from)
	assert.Empty(t, data, "the connection's end is announced")
}

// Options that act on ZMTP mean nothing to a STREAM socket: refused.
func TestStreamRefusesZMTPOptions(t *testing.T) {
	for name, opt := range map[string]sockets.Option{
		"heartbeat": sockets.WithHeartbeat(time.Second, time.Second, 0),
		"metadata":  sockets.WithMetadata("X-App", "x"),
		"plain":     sockets.WithPlain("u", "p"),
		"conflate":  sockets.WithConflate(true),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := sockets.NewStream(opt)
			assert.ErrorIs(t, err, sockets.ErrBadOption)
		})
	}
	s, err := sockets.NewStream(sockets.WithRecvHWM(10), sockets.WithMaxConnections(5), sockets.WithReconnect(time.Millisecond, time.Second))
	require.NoError(t, err, "the options that bound or pace connections apply")
	require.NoError(t, s.Close())
}
