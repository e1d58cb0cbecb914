package pubsub_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/zmqkit/zmqkit/internal/testutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var endpointSeq atomic.Uint64

// endpoint returns a fresh endpoint to Listen on.
func endpoint(t *testing.T, transport string) string {
	switch transport {
	case "tcp":
		return "tcp://127.0.0.1:0"
	case "inproc":
		return fmt.Sprintf("inproc://pubsub-%s-%d", strings.ReplaceAll(t.Name(), "/", "-"), endpointSeq.Add(1))
	}
	t.Fatalf("unknown transport %q", transport)
	return ""
}

var transports = []string{"tcp", "inproc"}

// Short names for the shared helpers: testCtx ends with the test or after
// d, eventually polls a condition until it holds.
var (
	testCtx    = testutil.Context
	eventually = testutil.Eventually
)

// runner is something with Run(ctx) error.
type runner interface{ Run(context.Context) error }

// goRun runs r until the test ends; the cleanup cancels it and waits, and
// fails the test if Run ended for any reason other than the cancel.
func goRun(t *testing.T, r runner) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var err error
	wg.Add(1)
	go func() {
		defer wg.Done()
		err = r.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		require.ErrorIs(t, err, context.Canceled, "Run ended by itself")
	})
}

// closer registers c.Close as a cleanup.
func closer(t *testing.T, c interface{ Close() error }) {
	t.Cleanup(func() { _ = c.Close() })
}
