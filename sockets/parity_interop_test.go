//go:build interop

package sockets_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/sockets"
)

// libzmq connects to the path our ipc://* bind returned.
func TestInteropIPCWildcard(t *testing.T) {
	ctx := iopCtx(t)
	push := iopSocket(t, sockets.Push)
	ep, err := push.Listen("ipc://*")
	require.NoError(t, err)
	path, ok := strings.CutPrefix(ep, "ipc://")
	require.True(t, ok && filepath.IsAbs(path), "Listen returned %s", ep)
	p := iopStartPeer(t, iopSpec{Type: "PULL", Connect: []string{ep}, Steps: []iopStep{iopRecv(1)}})
	require.NoError(t, push.Send(ctx, []byte("over ipc://*")))
	assert.Equal(t, []string{"over ipc://*"}, iopShow(p.nextRecv()))
	p.finish()
	require.NoError(t, push.Close())
	_, err = os.Lstat(path)
	assert.True(t, os.IsNotExist(err), "Close removes %s", path)
}

// libzmq's XPUB with ZMQ_XPUB_VERBOSER, under the scenario our own XPUB
// passes in TestXPubVerboser: the two behave alike.
func TestInteropXPubVerboser(t *testing.T) {
	p := iopStartPeer(t, iopSpec{Type: "XPUB", Bind: "tcp://127.0.0.1:*",
		Opts: map[string]any{"XPUB_VERBOSER": 1}, Steps: []iopStep{iopRecv(8)}})
	addr := p.endpoint()
	sub1 := iopSocket(t, sockets.Sub)
	sub2 := iopSocket(t, sockets.Sub)
	semDialSub(t, sub1, addr)
	semDialSub(t, sub2, addr)
	next := func() string {
		m := p.nextRecv()
		require.Len(t, m, 1)
		require.NotEmpty(t, m[0])
		if m[0][0] == 1 {
			return "+" + string(m[0][1:])
		}
		return "-" + string(m[0][1:])
	}
	verboserScenario(t, next, sub1, sub2)
	p.finish()
}
