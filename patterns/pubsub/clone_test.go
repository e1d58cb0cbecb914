package pubsub_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/codec"
	"github.com/zmqkit/zmqkit/patterns/pubsub"
	"github.com/zmqkit/zmqkit/sockets"
)

// newServer starts a Publisher with a snapshot endpoint; it returns the
// updates and snapshot endpoints.
func newServer(t *testing.T, tr string, opts ...pubsub.PublisherOption) (*pubsub.Publisher[int], string, string) {
	pub, err := pubsub.NewPublisher(codec.JSON[int](), append([]pubsub.PublisherOption{pubsub.WithHeartbeat(20 * time.Millisecond)}, opts...)...)
	require.NoError(t, err)
	closer(t, pub)
	updates, err := pub.Listen(endpoint(t, tr))
	require.NoError(t, err)
	snaps, err := pub.ListenSnapshots(endpoint(t, tr))
	require.NoError(t, err)
	goRun(t, pub)
	return pub, updates, snaps
}

func newReplica(t *testing.T, updates, snaps string, opts ...pubsub.ReplicaOption) *pubsub.Replica[int] {
	r, err := pubsub.NewReplica(codec.JSON[int](), opts...)
	require.NoError(t, err)
	closer(t, r)
	require.NoError(t, r.Dial(updates, snaps))
	goRun(t, r)
	return r
}

// mutate publishes n changes over keys key0..key(keys-1), deleting now
// and then; it returns the last stamp.
func mutate(t *testing.T, ctx context.Context, pub *pubsub.Publisher[int], from, n, keys int) pubsub.Stamp {
	var st pubsub.Stamp
	var err error
	for i := from; i < from+n; i++ {
		k := fmt.Sprintf("key%03d", i%keys)
		if i%17 == 16 {
			st, err = pub.Delete(ctx, k)
		} else {
			st, err = pub.Publish(ctx, k, i)
		}
		require.NoError(t, err)
	}
	return st
}

// A replica that joins after N updates, while more keep coming, ends with
// exactly the publisher's state.
func TestReplicaJoiningLateEndsWithPublisherState(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			ctx := testCtx(t, 20*time.Second)
			pub, updates, snaps := newServer(t, tr)
			mutate(t, ctx, pub, 0, 3000, 200)

			r := newReplica(t, updates, snaps)
			for i := 0; i < 20; i++ { // updates while the replica syncs
				mutate(t, ctx, pub, 3000+50*i, 50, 200)
			}
			require.NoError(t, r.WaitFor(ctx, pub.Head()))

			want, head := pub.State()
			got, at := r.State()
			assert.Equal(t, head.Seq, at.Seq)
			assert.Equal(t, pub.ID(), at.Publisher)
			assert.Equal(t, want, got)
			assert.Len(t, got, len(want))
			st := r.Stats()
			assert.GreaterOrEqual(t, st.Snapshots, uint64(1))
			t.Logf("replica: %+v", st)
		})
	}
}

// A snapshot larger than one part (1024 topics) arrives whole.
func TestReplicaLargeSnapshot(t *testing.T) {
	ctx := testCtx(t, 20*time.Second)
	pub, updates, snaps := newServer(t, "tcp", pubsub.WithReplay(false))
	for i := 0; i < 2500; i++ {
		_, err := pub.Publish(ctx, fmt.Sprintf("k%05d", i), i)
		require.NoError(t, err)
	}
	r := newReplica(t, updates, snaps)
	require.NoError(t, r.WaitFor(ctx, pub.Head()))
	want, _ := pub.State()
	got, _ := r.State()
	assert.Equal(t, want, got)
	assert.Len(t, got, 2500)
}

// A replica that loses messages (a tiny high-water mark and a flood while
// it is stuck) finds the gap and recovers through a fresh snapshot, ending
// with exactly the publisher's state.
func TestReplicaDetectsGapAndRecovers(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			ctx := testCtx(t, 20*time.Second)
			pub, updates, snaps := newServer(t, tr, pubsub.WithSocketOptions(sockets.WithSendHWM(8)))

			var (
				armed   atomic.Bool
				stuck   = make(chan struct{})
				release = make(chan struct{})
				resyncs = make(chan error, 100)
			)
			onUpdate := func(pubsub.Update[int]) {
				if armed.CompareAndSwap(true, false) {
					close(stuck)
					select {
					case <-release:
					case <-ctx.Done():
					}
				}
			}
			r := newReplica(t, updates, snaps,
				pubsub.WithSocketOptions(sockets.WithRecvHWM(8)),
				pubsub.WithOnUpdate(onUpdate),
				pubsub.WithOnResync(func(err error) {
					select {
					case resyncs <- err:
					default:
					}
				}))
			mutate(t, ctx, pub, 0, 100, 30)
			require.NoError(t, r.WaitFor(ctx, pub.Head()))
			before := r.Stats()

			// Stall the replica inside an update, then flood. (An update
			// can itself be lost at these high-water marks, and a snapshot
			// repairs that without calling OnUpdate: publish until one is
			// applied.)
			armed.Store(true)
			next := 100
			eventually(t, 10*time.Second, func() bool {
				mutate(t, ctx, pub, next, 1, 30)
				next++
				select {
				case <-stuck:
					return true
				case <-time.After(5 * time.Millisecond):
					return false
				}
			}, "the replica never applied an update")
			last := mutate(t, ctx, pub, next, 20000, 30)
			close(release)

			require.NoError(t, r.WaitFor(ctx, last))
			want, head := pub.State()
			got, at := r.State()
			assert.Equal(t, head.Seq, at.Seq)
			assert.Equal(t, want, got)

			st := r.Stats()
			t.Logf("replica: %+v; publisher dropped %d", st, pub.Stats().Socket.Dropped)
			assert.Positive(t, pub.Stats().Socket.Dropped, "the flood did overflow the high-water marks")
			assert.Greater(t, st.Gaps, before.Gaps, "the loss was detected")
			assert.Positive(t, st.Lost)
			assert.Greater(t, st.Snapshots, before.Snapshots, "and repaired by a snapshot")
			select {
			case err := <-resyncs:
				assert.ErrorIs(t, err, pubsub.ErrLoss)
				var lag *pubsub.LagError
				require.True(t, errors.As(err, &lag))
				assert.Equal(t, pub.ID(), lag.Publisher)
			default:
				t.Error("OnResync was not called")
			}
		})
	}
}

// When the publisher restarts (a new instance, on the same endpoints), the
// replica notices and takes the new instance's state.
func TestReplicaFollowsRestartedPublisher(t *testing.T) {
	ctx := testCtx(t, 20*time.Second)
	tr := "tcp"
	pub1, err := pubsub.NewPublisher(codec.JSON[int](), pubsub.WithHeartbeat(20*time.Millisecond))
	require.NoError(t, err)
	updates, err := pub1.Listen(endpoint(t, tr))
	require.NoError(t, err)
	snaps, err := pub1.ListenSnapshots(endpoint(t, tr))
	require.NoError(t, err)
	run1ctx, stop1 := context.WithCancel(ctx)
	done1 := make(chan error, 1)
	go func() { done1 <- pub1.Run(run1ctx) }()
	mutate(t, ctx, pub1, 0, 100, 10)

	var reasons []error
	var mu sync.Mutex
	r := newReplica(t, updates, snaps, pubsub.WithOnResync(func(err error) {
		mu.Lock()
		reasons = append(reasons, err)
		mu.Unlock()
	}))
	require.NoError(t, r.WaitFor(ctx, pub1.Head()))

	stop1()
	require.ErrorIs(t, <-done1, context.Canceled)
	require.NoError(t, pub1.Close())

	pub2, err := pubsub.NewPublisher(codec.JSON[int](), pubsub.WithHeartbeat(20*time.Millisecond))
	require.NoError(t, err)
	closer(t, pub2)
	_, err = pub2.Listen(updates)
	require.NoError(t, err)
	_, err = pub2.ListenSnapshots(snaps)
	require.NoError(t, err)
	goRun(t, pub2)
	last := mutate(t, ctx, pub2, 1000, 5, 3)
	require.NoError(t, r.WaitFor(ctx, last))
	want, _ := pub2.State()
	got, at := r.State()
	assert.Equal(t, want, got)
	assert.Equal(t, pub2.ID(), at.Publisher)
	mu.Lock()
	defer mu.Unlock()
	restarted := false
	for _, err := range reasons {
		restarted = restarted || errors.Is(err, pubsub.ErrRestarted)
	}
	assert.True(t, restarted, "resync reasons: %v", reasons)
}
