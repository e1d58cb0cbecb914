package bench

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/sockets"
)

// A subscriber that cannot keep up with a publisher with small queues must
// show up as loss, not as a rate.
func TestLossyPubSubReportsItsLoss(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w := &wiring{ep: endpoints{tr: "tcp"}}
	pub := w.sock(sockets.Pub, sockets.WithSendHWM(10))
	sub := w.sock(sockets.Sub, sockets.WithSubscribe(""), sockets.WithRecvHWM(10))
	w.dial(sub, w.listen(pub))
	require.NoError(t, w.err)
	defer w.close()
	slow := recvLast(sub)
	n := 0
	r := &rig{
		send:  sendOne(pub),
		lossy: true,
		recv: func(ctx context.Context) ([]byte, error) {
			n++
			if n%100 == 0 {
				time.Sleep(2 * time.Millisecond) // a subscriber busy with other work
			}
			return slow(ctx)
		},
	}
	var row Row
	row.Size = 64
	throughput(ctx, r, 64, limits{d: 300 * time.Millisecond, n: 200000}, &row)
	require.Empty(t, row.Err)
	assert.Positive(t, row.Lost, "the slow subscriber lost messages")
	assert.Equal(t, row.Sent, row.Received+row.Lost)
	assert.Less(t, row.Delivered(), 100.0)
	assert.Positive(t, pub.Stats().Dropped, "the publisher counted its drops")
}
