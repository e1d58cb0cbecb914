//go:build interop

package sockets_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/codec"
	"github.com/zmqkit/zmqkit/internal/testutil"
	"github.com/zmqkit/zmqkit/sockets"
)

// obs (issue 14): a libzmq peer (pyzmq) sees the header frame as one more
// part in front of the value, byte for byte as docs/headers.md writes it;
// and a header frame built in Python from that description reaches a
// typed zmqkit receiver as headers.
func TestInteropHeadersWithPyzmq(t *testing.T) {
	ctx := ctxT(t)
	push, err := sockets.NewPushOf(codec.String(), sockets.WithHeaders(true))
	require.NoError(t, err)
	defer push.Close()
	ep := "tcp://" + testutil.FreePort(t)
	wait := startPy(t, `
import sys, zmq
s = zmq.Context.instance().socket(zmq.PULL)
s.setsockopt(zmq.RCVTIMEO, 15000)
s.bind(sys.argv[1])
print(" ".join(f.hex() for f in s.recv_multipart()))
`, ep)
	require.NoError(t, push.Dial(ep))
	require.NoError(t, push.SendWithHeaders(ctx, "v", sockets.Headers{"k": "v", "a": ""}))
	assert.Equal(t, "ff5a4b4801000201610000016b000176 76", strings.TrimSpace(wait()))

	pull, err := sockets.NewPullOf(codec.String(), sockets.WithHeaders(true))
	require.NoError(t, err)
	defer pull.Close()
	addr, err := pull.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	startPy(t, `
import sys, struct, zmq
def headers(h):
    b = b"\xffZKH\x01" + struct.pack(">H", len(h))
    for k in sorted(h):
        kb, vb = k.encode(), h[k].encode()
        b += struct.pack(">B", len(kb)) + kb + struct.pack(">H", len(vb)) + vb
    return b
s = zmq.Context.instance().socket(zmq.PUSH)
s.setsockopt(zmq.LINGER, 5000)
s.connect(sys.argv[1])
s.send_multipart([headers({"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}), b"from python"])
s.close()
`, addr)
	v, h, err := pull.RecvWithHeaders(ctx)
	require.NoError(t, err)
	assert.Equal(t, "from python", v)
	assert.Equal(t, sockets.Headers{"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}, h)
}
