package sockets_test

import (
	"bytes"
	"context"
	"errors"
	"go/ast"
	"go/doc"
	"go/parser"
	"go/printer"
	"go/token"
	"io/fs"
	"net"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zmqkit/zmqkit/codec"
	"github.com/zmqkit/zmqkit/internal/testutil"
	"github.com/zmqkit/zmqkit/sockets"
)

// The public surface names no engine or zmq4 type or value: everything a
// caller sees in go doc is sockets' own.
func TestPublicSurfaceShowsNoInternals(t *testing.T) {
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, ".", func(fi fs.FileInfo) bool {
		return !strings.HasSuffix(fi.Name(), "_test.go")
	}, parser.ParseComments)
	require.NoError(t, err)
	p := doc.New(pkgs["sockets"], "github.com/zmqkit/zmqkit/sockets", 0)
	var out bytes.Buffer
	show := func(n any) {
		require.NoError(t, printer.Fprint(&out, fset, n))
		out.WriteByte('\n')
	}
	values := func(vs []*doc.Value) {
		for _, v := range vs {
			show(v.Decl)
		}
	}
	funcs := func(fs []*doc.Func) {
		for _, f := range fs {
			show(&ast.FuncDecl{Recv: f.Decl.Recv, Name: f.Decl.Name, Type: f.Decl.Type})
			out.WriteString(f.Doc)
		}
	}
	out.WriteString(p.Doc)
	values(p.Consts)
	values(p.Vars)
	funcs(p.Funcs)
	for _, typ := range p.Types {
		show(typ.Decl)
		out.WriteString(typ.Doc)
		values(typ.Consts)
		values(typ.Vars)
		funcs(typ.Funcs)
		funcs(typ.Methods)
	}
	api := out.String()
	require.Contains(t, api, "func (s *Socket) Send(", "the rendering covers the methods")
	for _, internal := range []string{"engine.", "zmq4."} {
		for _, line := range strings.Split(api, "\n") {
			assert.NotContains(t, line, internal)
		}
	}
	for _, gone := range []string{"Attach", "Detach", "Connected", "Emit", "EngineOptions", "WithSecurity"} {
		assert.NotContains(t, api, " "+gone+"(", "%s is plumbing, not API", gone)
	}
}

// Each typed socket has the methods its type can use, and not the others.
func TestTypedSocketsHaveOnlyTheirMethods(t *testing.T) {
	common := []string{"Listen", "Unbind", "Dial", "Disconnect", "Close", "Stats", "Events", "Peers", "DisconnectPeers", "Raw"}
	cases := []struct {
		typ      reflect.Type
		has, not []string
	}{
		{reflect.TypeFor[*sockets.PushOf[int]](), []string{"Send", "TrySend", "Codec"}, []string{"Recv", "TryRecv", "Subscribe", "Publish", "Call"}},
		{reflect.TypeFor[*sockets.PullOf[int]](), []string{"Recv", "TryRecv", "RecvFrom", "All", "Chan"}, []string{"Send", "TrySend", "Subscribe"}},
		{reflect.TypeFor[*sockets.PubOf[int]](), []string{"Publish"}, []string{"Send", "Recv", "Subscribe"}},
		{reflect.TypeFor[*sockets.SubOf[int]](), []string{"Recv", "Subscribe", "Unsubscribe"}, []string{"Send", "Publish"}},
		{reflect.TypeFor[*sockets.PairOf[int]](), []string{"Send", "Recv", "TrySend", "TryRecv"}, []string{"Subscribe"}},
		{reflect.TypeFor[*sockets.DealerOf[int]](), []string{"Send", "Recv"}, []string{"Subscribe", "DialRouted"}},
		{reflect.TypeFor[*sockets.RouterOf[int]](), []string{"Send", "Recv", "DialRouted", "PeerOf", "DisconnectPeer"}, []string{"Subscribe"}},
		{reflect.TypeFor[*sockets.ReqOf[int, int]](), []string{"Call"}, []string{"Send", "Recv", "Serve", "Subscribe"}},
		{reflect.TypeFor[*sockets.RepOf[int, int]](), []string{"Serve"}, []string{"Send", "Recv", "Call", "Subscribe"}},
	}
	for _, c := range cases {
		for _, m := range append(common, c.has...) {
			_, ok := c.typ.MethodByName(m)
			assert.True(t, ok, "%s lacks %s", c.typ, m)
		}
		for _, m := range c.not {
			_, ok := c.typ.MethodByName(m)
			assert.False(t, ok, "%s has %s", c.typ, m)
		}
	}
}

func TestOpErrorSaysEachPartOnce(t *testing.T) {
	pull, err := sockets.NewPull()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	<-ctx.Done()
	_, err = pull.Recv(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	oe, ok := errors.AsType[*sockets.OpError](err)
	require.True(t, ok, "%T", err)
	assert.Equal(t, sockets.OpError{Op: "recv", Socket: sockets.Pull, Err: context.DeadlineExceeded}, *oe)
	assert.Equal(t, "zmqkit: pull recv: context deadline exceeded", err.Error())

	require.NoError(t, pull.Close())
	_, err = pull.Recv(context.Background())
	assert.ErrorIs(t, err, sockets.ErrClosed)
	assert.Equal(t, "zmqkit: pull recv: socket closed", err.Error())
	_, err = pull.Listen("inproc://closed")
	assert.ErrorIs(t, err, sockets.ErrClosed)
	assert.Equal(t, "zmqkit: pull listen inproc://closed: socket closed", err.Error())

	push, err := sockets.NewPush()
	require.NoError(t, err)
	defer push.Close()
	err = push.Subscribe("x")
	assert.ErrorIs(t, err, sockets.ErrNotSupported)
	assert.Equal(t, 1, strings.Count(err.Error(), "zmqkit:"), err.Error())
}

// A handler's error reaches the caller once prefixed, inside an OpError.
func TestRemoteErrorPrefixOnce(t *testing.T) {
	ctx := testutil.Context(t, 10*time.Second)
	rep, err := sockets.NewRepOf(codec.String(), codec.String())
	require.NoError(t, err)
	defer rep.Close()
	_, err = rep.Listen("inproc://remote-once")
	require.NoError(t, err)
	go func() {
		_ = rep.Serve(ctx, func(context.Context, string) (string, error) { return "", errors.New("no") })
	}()
	req, err := sockets.NewReqOf(codec.String(), codec.String())
	require.NoError(t, err)
	defer req.Close()
	require.NoError(t, req.Dial("inproc://remote-once"))
	_, err = req.Call(ctx, "q")
	require.ErrorIs(t, err, sockets.ErrRemote)
	_, ok := errors.AsType[*sockets.RemoteError](err)
	assert.True(t, ok)
	assert.Equal(t, "zmqkit: req call: remote: no", err.Error())
}

func TestAddrInUseMatchesErrno(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	s, err := sockets.NewPull()
	require.NoError(t, err)
	defer s.Close()
	ep := "tcp://" + ln.Addr().String()
	_, err = s.Listen(ep)
	require.Error(t, err)
	assert.ErrorIs(t, err, sockets.ErrAddrInUse)
	assert.ErrorIs(t, err, syscall.EADDRINUSE)
	assert.Equal(t, "zmqkit: pull listen "+ep+": address already in use", err.Error())

	_, err = s.Listen("inproc://in-use")
	require.NoError(t, err)
	_, err = s.Listen("inproc://in-use")
	assert.ErrorIs(t, err, sockets.ErrAddrInUse)
}

// A failed handshake's reason says each step once: no "zmq4: " repeats,
// no second "handshake failed".
func TestHandshakeErrorSaysEachStepOnce(t *testing.T) {
	srv, err := sockets.NewPull(sockets.WithPlainServer(func(user, password string) bool { return false }))
	require.NoError(t, err)
	defer srv.Close()
	ep, err := srv.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	cli, err := sockets.NewPush(sockets.WithPlain("u", "p"))
	require.NoError(t, err)
	defer cli.Close()
	require.NoError(t, cli.Dial(ep))
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev := <-srv.Events():
			if ev.Kind != sockets.EventHandshakeFailed {
				continue
			}
			require.ErrorIs(t, ev.Err, sockets.ErrHandshake)
			require.ErrorIs(t, ev.Err, sockets.ErrAuth)
			msg := ev.Err.Error()
			assert.Equal(t, 1, strings.Count(msg, "handshake failed"), msg)
			assert.NotContains(t, msg, "zmq4:", msg)
			assert.Contains(t, msg, `PLAIN credentials of user "u" refused`)
			return
		case <-deadline:
			t.Fatal("no EventHandshakeFailed")
		}
	}
}

func TestTrySendTryRecv(t *testing.T) {
	ctx := testutil.Context(t, 10*time.Second)
	push, err := sockets.NewPush(sockets.WithSendHWM(1))
	require.NoError(t, err)
	defer push.Close()
	// No peer yet: nothing can take the message.
	err = push.TrySend([]byte("x"))
	require.ErrorIs(t, err, sockets.ErrWouldBlock)
	assert.Equal(t, "zmqkit: push send: operation would block", err.Error())
	assert.Zero(t, push.Stats().MsgsOut)

	pull, err := sockets.NewPull(sockets.WithRecvHWM(1))
	require.NoError(t, err)
	defer pull.Close()
	_, err = pull.TryRecv()
	require.ErrorIs(t, err, sockets.ErrWouldBlock)
	_, err = pull.TryRecvMsg()
	require.ErrorIs(t, err, sockets.ErrWouldBlock)

	// inproc: the pipe is one queue, of HWM 1 + 1.
	_, err = pull.Listen("inproc://try")
	require.NoError(t, err)
	require.NoError(t, push.Dial("inproc://try"))
	sent := 0
	testutil.Eventually(t, 10*time.Second, func() bool {
		if push.TrySend([]byte("m")) == nil {
			sent++
		}
		return sent > 0
	}, "TrySend never succeeded")
	for push.TrySend([]byte("m")) == nil {
		sent++
		require.Less(t, sent, 10_000, "TrySend never met a full pipe")
	}
	err = push.TrySendMsg(sockets.MsgOf([]byte("m")))
	require.ErrorIs(t, err, sockets.ErrWouldBlock)

	for range sent {
		frames, err := pull.Recv(ctx)
		require.NoError(t, err)
		assert.Equal(t, [][]byte{[]byte("m")}, frames)
	}
	_, err = pull.TryRecv()
	require.ErrorIs(t, err, sockets.ErrWouldBlock)
	require.NoError(t, push.TrySend([]byte("last")))
	testutil.Eventually(t, 10*time.Second, func() bool {
		frames, err := pull.TryRecv()
		if errors.Is(err, sockets.ErrWouldBlock) {
			return false
		}
		require.NoError(t, err)
		assert.Equal(t, "last", string(frames[0]))
		return true
	}, "TryRecv never took the message")

	require.NoError(t, pull.Close())
	_, err = pull.TryRecv()
	assert.ErrorIs(t, err, sockets.ErrClosed)
	assert.NotErrorIs(t, err, sockets.ErrWouldBlock)
}

func TestTypedTrySendTryRecv(t *testing.T) {
	pull, err := sockets.NewPullOf(codec.String())
	require.NoError(t, err)
	defer pull.Close()
	_, err = pull.TryRecv()
	require.ErrorIs(t, err, sockets.ErrWouldBlock)
	push, err := sockets.NewPushOf(codec.String())
	require.NoError(t, err)
	defer push.Close()
	require.ErrorIs(t, push.TrySend("x"), sockets.ErrWouldBlock)
	_, err = pull.Listen("inproc://typed-try")
	require.NoError(t, err)
	require.NoError(t, push.Dial("inproc://typed-try"))
	testutil.Eventually(t, 10*time.Second, func() bool { return push.TrySend("hi") == nil }, "TrySend never succeeded")
	var got string
	testutil.Eventually(t, 10*time.Second, func() bool {
		v, err := pull.TryRecv()
		got = v
		return err == nil
	}, "TryRecv never took the value")
	assert.Equal(t, "hi", got)
}

// Msg and CurveKeypair are sockets' own types; the conversions at the
// engine's edge keep every frame.
func TestMsgMethods(t *testing.T) {
	m := sockets.MsgOf([]byte("a"), []byte("bc"))
	assert.Equal(t, 2, m.Len())
	assert.Equal(t, 3, m.Size())
	assert.Equal(t, []byte("bc"), m.Frame(1))
	assert.Equal(t, [][]byte{[]byte("z"), []byte("a"), []byte("bc")}, m.Prepend([]byte("z")).Frames())
	assert.Equal(t, [][]byte{[]byte("bc")}, m.Pop().Frames())
	c := m.Clone()
	c.Head[0] = 'x'
	assert.Equal(t, "a", string(m.Head))

	k, err := sockets.NewCurveKeypair()
	require.NoError(t, err)
	assert.Equal(t, k, sockets.CurveKeypairFromSecret(k.Secret))
	assert.Equal(t, "PUSH", sockets.Push.String())
	assert.Equal(t, "connect-retried", sockets.EventConnectRetried.String())
}
