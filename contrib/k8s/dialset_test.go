//go:build linux

package zmqk8s

import (
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/internal/testutil"
	"github.com/zmqkit/zmqkit/sockets"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// The resolver behind a socket: a PUSH that dials k8s://zmq/workers:work
// spreads its messages over the ready pods of the Service, and a pod that
// stops being ready gets nothing more. The pods are PULL sockets on
// 127.0.0.1 and 127.0.0.2 (loopback on Linux answers the whole 127/8).
func TestPushDialsServiceThroughResolver(t *testing.T) {
	ctx := testutil.Context(t, 30*time.Second)
	// One port, free on both addresses.
	var pulls [2]*sockets.Socket
	var portNum int
	for attempt := 0; ; attempt++ {
		require.Less(t, attempt, 20, "no port free on both loopback addresses")
		p, err := sockets.NewPull()
		require.NoError(t, err)
		ep, err := p.Listen("tcp://127.0.0.1:0")
		require.NoError(t, err)
		_, ps, _ := net.SplitHostPort(ep[len("tcp://"):])
		portNum, _ = strconv.Atoi(ps)
		q, err := sockets.NewPull()
		require.NoError(t, err)
		if _, err := q.Listen(fmt.Sprintf("tcp://127.0.0.2:%d", portNum)); err != nil {
			p.Close()
			q.Close()
			continue
		}
		pulls = [2]*sockets.Socket{p, q}
		break
	}
	for _, p := range pulls {
		defer p.Close()
	}

	c := fake.NewClientset(slice("workers-a", "workers", discoveryv1.AddressTypeIPv4,
		[]port{{name: "work", num: int32(portNum)}}, readyEPs("127.0.0.1", "127.0.0.2")))
	// client-go's fake replays nothing that changed between its list and
	// its watch: the test changes the slice only once the watch is up.
	watched := make(chan struct{})
	var once sync.Once
	c.PrependWatchReactor("*", func(k8stesting.Action) (bool, watch.Interface, error) {
		once.Do(func() { close(watched) })
		return false, nil, nil
	})

	push, err := sockets.NewPush(sockets.WithResolver("k8s", NewResolver(c)))
	require.NoError(t, err)
	defer push.Close()
	require.NoError(t, push.Dial("k8s://zmq/workers:work"))
	testutil.Eventually(t, 10*time.Second, func() bool { return push.Stats().Members == 2 }, "both ready pods dialed")
	testutil.Eventually(t, 10*time.Second, func() bool { return len(push.Peers()) == 2 }, "both pods connected")

	// Round-robin over the two members: 10 each.
	for i := 0; i < 20; i++ {
		require.NoError(t, push.Send(ctx, []byte{byte(i)}))
	}
	for _, p := range pulls {
		for i := 0; i < 10; i++ {
			_, err := p.Recv(ctx)
			require.NoError(t, err)
		}
	}

	// 127.0.0.2 is no longer ready: it leaves the set, and the next
	// messages all go to 127.0.0.1.
	select {
	case <-watched:
	case <-ctx.Done():
		t.Fatal("the resolver's informer started no watch")
	}
	update(t, c, slice("workers-a", "workers", discoveryv1.AddressTypeIPv4,
		[]port{{name: "work", num: int32(portNum)}}, []ep{{addr: "127.0.0.1", ready: yes()}, {addr: "127.0.0.2", ready: no()}}))
	testutil.Eventually(t, 10*time.Second, func() bool { return push.Stats().Members == 1 }, "the pod that is not ready let go")
	for i := 0; i < 10; i++ {
		require.NoError(t, push.Send(ctx, []byte{byte(i)}))
	}
	for i := 0; i < 10; i++ {
		_, err := pulls[0].Recv(ctx)
		require.NoError(t, err)
	}
	_, err = pulls[1].TryRecv()
	assert.ErrorIs(t, err, sockets.ErrWouldBlock, "nothing for the pod that left")
}
