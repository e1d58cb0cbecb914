package devices_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/devices"
	"github.com/zmqkit/zmqkit/internal/testutil"
	"github.com/zmqkit/zmqkit/sockets"
)

// logWatch is a slog handler that closes a channel at the first record
// whose message contains a word.
type logWatch struct {
	word string
	once sync.Once
	seen chan struct{}
	mu   sync.Mutex
	msgs []string
}

func (w *logWatch) Enabled(context.Context, slog.Level) bool { return true }
func (w *logWatch) Handle(_ context.Context, r slog.Record) error {
	w.mu.Lock()
	w.msgs = append(w.msgs, r.Message)
	w.mu.Unlock()
	if strings.Contains(r.Message, w.word) {
		w.once.Do(func() { close(w.seen) })
	}
	return nil
}
func (w *logWatch) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w *logWatch) WithGroup(string) slog.Handler      { return w }

func (w *logWatch) messages() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.msgs...)
}

// A queue told to stop takes no new request from then on, and still routes
// the reply of the request a slow worker holds: the drain waits for it,
// not for a quiet spell. The drain is logged as it starts.
func TestQueueDrainDeliversRepliesTakesNoRequests(t *testing.T) {
	ctx := testutil.Context(t, 15*time.Second)
	front, back := must(t, sockets.Router), must(t, sockets.Dealer)
	fa, ba := listen(t, front), listen(t, back)
	watch := &logWatch{word: "draining", seen: make(chan struct{})}
	p, err := devices.NewQueue(front, back, devices.WithDrain(10*time.Second), devices.WithLogger(slog.New(watch)))
	require.NoError(t, err)
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(rctx) }()

	worker := must(t, sockets.Rep)
	require.NoError(t, worker.Dial(ba))
	early, late := must(t, sockets.Req), must(t, sockets.Req)
	require.NoError(t, early.Dial(fa))
	require.NoError(t, late.Dial(fa))
	waitPeers(t, front, 2)
	waitPeers(t, back, 1)

	// The request is with the worker, which takes its time.
	require.NoError(t, early.Send(ctx, []byte("in flight")))
	req, err := worker.Recv(ctx)
	require.NoError(t, err)
	require.Equal(t, "in flight", string(req[0]))

	stop()
	select {
	case <-watch.seen:
	case <-ctx.Done():
		t.Fatalf("no drain logged as it began; log: %q", watch.messages())
	}
	// Sent once the drain has begun: not taken.
	require.NoError(t, late.Send(ctx, []byte("too late")))

	require.NoError(t, worker.Send(ctx, []byte("answer")))
	rep, err := early.Recv(ctx)
	require.NoError(t, err, "the slow worker's reply was lost in the drain")
	assert.Equal(t, "answer", string(rep[0]))
	assert.ErrorIs(t, <-done, context.Canceled)

	// The late request is still in the frontend, untaken.
	m, err := front.Recv(ctx)
	require.NoError(t, err)
	assert.Equal(t, "too late", string(m[len(m)-1]))
	st := p.Stats()
	assert.Equal(t, uint64(1), st.Backend.MsgsOut, "requests given to workers")
	assert.Equal(t, uint64(1), st.Frontend.MsgsOut, "replies routed")
	assert.Equal(t, uint64(1), worker.Stats().MsgsIn)
	msgs := watch.messages()
	assert.Less(t, indexOf(msgs, "zmqkit: proxy draining"), indexOf(msgs, "zmqkit: proxy drained"), "log: %q", msgs)
}

func indexOf(msgs []string, m string) int {
	for i, s := range msgs {
		if s == m {
			return i
		}
	}
	return -1
}

// A streamer moves batches: a stop that finds it holding messages it took
// but could not send yet (the consumer is slow, every queue past the
// proxy is full) sends them first as it drains, in order, before what its
// frontend still holds. Nothing the proxy took is lost.
func TestStreamerStopLosesNothingItTook(t *testing.T) {
	const n = 40
	ctx := testutil.Context(t, 15*time.Second)
	front := must(t, sockets.Pull)
	back := must(t, sockets.Push, sockets.WithSendHWM(2))
	_, err := front.Listen("inproc://drain-taken-front")
	require.NoError(t, err)
	_, err = back.Listen("inproc://drain-taken-back")
	require.NoError(t, err)
	producer := must(t, sockets.Push)
	consumer := must(t, sockets.Pull, sockets.WithRecvHWM(2))
	require.NoError(t, producer.Dial("inproc://drain-taken-front"))
	require.NoError(t, consumer.Dial("inproc://drain-taken-back"))
	waitPeers(t, back, 1)
	for i := range n {
		require.NoError(t, producer.Send(ctx, []byte{byte(i)}))
	}

	p, err := devices.NewStreamer(front, back, devices.WithDrain(10*time.Second))
	require.NoError(t, err)
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(rctx) }()
	// Every message is taken from the frontend; a few fit past the proxy,
	// the rest are in its hands.
	testutil.Eventually(t, 5*time.Second, func() bool { return front.Stats().MsgsIn == n }, "the proxy never took the messages")
	require.Less(t, back.Stats().MsgsOut, uint64(n))
	stop()
	for i := range n {
		m, err := consumer.Recv(ctx)
		require.NoError(t, err, "message %d of %d lost in the stop", i, n)
		require.Equal(t, []byte{byte(i)}, m[0])
	}
	assert.ErrorIs(t, <-done, context.Canceled)
	assert.EqualValues(t, n, back.Stats().MsgsOut)
}
