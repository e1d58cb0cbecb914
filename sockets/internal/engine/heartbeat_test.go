package engine

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/internal/testutil"
)

// Heartbeats paced by a hand-driven ticker (Options.Ticker): each tick
// makes one side PING and the other answer PONG, whatever the scheduler
// does meanwhile. The intervals are an hour, so no real timer fires and no
// silence timeout can end the connection.
func TestHeartbeatTicksSendPingsAnsweredByPongs(t *testing.T) {
	ticks := make(chan time.Time) // unbuffered: a send returns once a writer took the tick
	o := &Options{HeartbeatIvl: time.Hour, HeartbeatTimeout: time.Hour,
		Ticker: func(time.Duration) (<-chan time.Time, func()) { return ticks, func() {} }}
	pa, pb, ended, read := serveCounted(t, o, nil, nil)

	const (
		ping = 2 + 1 + 4 + 2 // frame header, name length, "PING", TTL
		pong = 2 + 1 + 4     // frame header, name length, "PONG" (no context)
		n    = 5
	)
	for i := range n {
		select {
		case ticks <- time.Now():
		case <-ended:
			require.FailNow(t, "the connection ended", "after %d ticks", i)
		}
	}
	total := func() int64 { return read[0].Load() + read[1].Load() }
	testutil.Eventually(t, 10*time.Second, func() bool { return total() >= n*(ping+pong) },
		"%d ticks: %d bytes read in all, want %d", n, total(), n*(ping+pong))
	assert.EqualValues(t, n*(ping+pong), total(), "one PING and one PONG per tick, nothing else")

	// The link still carries data both ways.
	require.Equal(t, Pushed, pa.Out.TryPush(Msg{Head: []byte("there")}))
	assert.Equal(t, "there", string(popWithin(t, pb.In, 5*time.Second).Head))
	require.Equal(t, Pushed, pb.Out.TryPush(Msg{Head: []byte("back")}))
	assert.Equal(t, "back", string(popWithin(t, pa.In, 5*time.Second).Head))
}
