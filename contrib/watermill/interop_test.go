//go:build interop

// Interop with libzmq, through pyzmq: the wire format is plain ZMTP, so a
// libzmq program takes part as it is. The peer runs under $ZMQKIT_PYTHON
// (default /usr/bin/python3), which must import zmq (Debian: python3-zmq,
// installed by scripts/ensure-libzmq.sh); if it cannot, these tests fail.
package zmqwatermill_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/internal/testutil"

	zmqwatermill "github.com/zmqkit/zmqkit/contrib/watermill"
)

func python() string {
	if p := os.Getenv("ZMQKIT_PYTHON"); p != "" {
		return p
	}
	return "/usr/bin/python3"
}

// startPython runs script with args and returns its stdout lines.
func startPython(t *testing.T, ctx context.Context, script string, args ...string) <-chan string {
	t.Helper()
	out, err := exec.Command(python(), "-c", "import zmq").CombinedOutput()
	require.NoError(t, err, "the libzmq peer needs pyzmq (scripts/ensure-libzmq.sh): %s", out)
	cmd := exec.CommandContext(ctx, python(), append([]string{"-c", script}, args...)...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	lines := make(chan string, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		_ = cmd.Wait()
	})
	return lines
}

// A libzmq SUB that subscribes to "orders\x00" receives a Publisher's
// messages as the three documented frames.
const pySub = `
import sys, zmq
ctx = zmq.Context()
s = ctx.socket(zmq.SUB)
s.setsockopt(zmq.SUBSCRIBE, b"orders\x00")
s.connect(sys.argv[1])
s.RCVTIMEO = 20000
frames = s.recv_multipart()
print("|".join(f.hex() for f in frames), flush=True)
`

func TestInteropLibzmqSub(t *testing.T) {
	ctx := testutil.Context(t, 30*time.Second)
	pub := newPub(t, zmqwatermill.FanOut, zmqwatermill.Bind("tcp://127.0.0.1:0"))
	lines := startPython(t, ctx, pySub, pub.Addrs()[0])
	msg := message.NewMessage("id-1", []byte("p"))
	msg.Metadata.Set("a", "1")
	// libzmq's SUB does not join: publish until its subscription is in.
	stop := testutil.Every(t, 20*time.Millisecond, func() { _ = pub.Publish("orders", msg) })
	defer stop()
	select {
	case line := <-lines:
		assert.Equal(t, "6f726465727300|01000469642d310101610131|70", line)
	case <-ctx.Done():
		t.Fatal("the libzmq SUB received nothing")
	}
}

// A libzmq PUB sending the documented frames reaches a Subscriber, which
// decodes the UUID, metadata and payload.
const pyPub = `
import sys, time, zmq
ctx = zmq.Context()
p = ctx.socket(zmq.PUB)
port = p.bind_to_random_port("tcp://127.0.0.1")
print("tcp://127.0.0.1:%d" % port, flush=True)
header = bytes([1, 0, 4]) + b"id-7" + bytes([1, 1]) + b"k" + bytes([2]) + b"vv"
for _ in range(1500):
    p.send_multipart([b"orders\x00", header, b"from libzmq"])
    time.sleep(0.01)
`

func TestInteropLibzmqPub(t *testing.T) {
	ctx := testutil.Context(t, 30*time.Second)
	lines := startPython(t, ctx, pyPub)
	var ep string
	select {
	case ep = <-lines:
	case <-ctx.Done():
		t.Fatal("the libzmq PUB did not start")
	}
	require.True(t, strings.HasPrefix(ep, "tcp://"), ep)
	sub := newSub(t, zmqwatermill.SubscriberConfig{
		Endpoints: []zmqwatermill.Endpoint{zmqwatermill.Connect(ep)},
		// A libzmq PUB does not answer joins.
		JoinTimeout: -1,
	})
	ch, err := sub.Subscribe(ctx, "orders")
	require.NoError(t, err)
	m := receive(t, ch)
	assert.Equal(t, "id-7", m.UUID)
	assert.Equal(t, "vv", m.Metadata.Get("k"))
	assert.Equal(t, "from libzmq", string(m.Payload))
	m.Ack()
	assert.Zero(t, sub.Stats().Malformed)
}
