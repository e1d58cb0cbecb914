//go:build interop

// Interop tests against libzmq, through pyzmq and the driver in
// testdata/libzmq_peer.py. Run with
//
//	go test -race -count=1 -tags interop ./sockets/
//
// The driver runs under $ZMQKIT_PYTHON (default /usr/bin/python3), which
// must be able to import zmq (Debian: python3-zmq); if it cannot, every test
// fails.
package sockets_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/sockets"
)

const (
	iopPeerBudget  = 15 * time.Second // the driver's own time budget
	iopLineTimeout = 15 * time.Second // longest wait for one line from the driver
	iopWarmRounds  = 500              // slow-joiner loops: at most this many rounds
	iopWarmEvery   = 10 * time.Millisecond
)

// ---------------------------------------------------------------------------
// The libzmq peer process.

func iopPython() string {
	if p := os.Getenv("ZMQKIT_PYTHON"); p != "" {
		return p
	}
	return "/usr/bin/python3"
}

var iopLibzmqCheck struct {
	once sync.Once
	err  error
}

// iopRequireLibzmq fails the test unless the interpreter imports zmq.
func iopRequireLibzmq(t *testing.T) {
	t.Helper()
	iopLibzmqCheck.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, iopPython(), "-c", "import zmq").CombinedOutput()
		if err != nil {
			iopLibzmqCheck.err = fmt.Errorf("%s -c 'import zmq': %v\n%s", iopPython(), err, out)
		}
	})
	if iopLibzmqCheck.err != nil {
		t.Fatalf("the libzmq peer is unavailable: %v\n"+
			"install Debian's python3-zmq, or set ZMQKIT_PYTHON to a python that has pyzmq", iopLibzmqCheck.err)
	}
}

// iopSpec is the driver's command line; see testdata/libzmq_peer.py.
type iopSpec struct {
	Type      string            `json:"type"`
	Bind      string            `json:"bind,omitempty"`
	Connect   []string          `json:"connect,omitempty"`
	Opts      map[string]any    `json:"opts,omitempty"`
	Monitor   bool              `json:"monitor,omitempty"`
	ZapPlain  map[string]string `json:"zap_plain,omitempty"`
	TimeoutMS int               `json:"timeout_ms"`
	Steps     []iopStep         `json:"steps"`
}

type iopStep map[string]any

func iopHexFrames(frames [][]byte) []string {
	out := make([]string, len(frames))
	for i, f := range frames {
		out[i] = hex.EncodeToString(f)
	}
	return out
}

func iopHexMsgs(msgs [][][]byte) [][]string {
	out := make([][]string, len(msgs))
	for i, m := range msgs {
		out[i] = iopHexFrames(m)
	}
	return out
}

func iopSend(msgs ...[][]byte) iopStep { return iopStep{"op": "send", "msgs": iopHexMsgs(msgs)} }
func iopRecv(n int) iopStep            { return iopStep{"op": "recv", "count": n} }
func iopWaitStdin() iopStep            { return iopStep{"op": "wait_stdin"} }
func iopSleep(d time.Duration) iopStep {
	return iopStep{"op": "sleep", "ms": d.Milliseconds()}
}
func iopRecvUntil(last string, max int) iopStep {
	return iopStep{"op": "recv_until", "last": hex.EncodeToString([]byte(last)), "max": max}
}
func iopEcho(n int, prefix ...[]byte) iopStep {
	return iopStep{"op": "echo", "count": n, "prefix": iopHexFrames(prefix)}
}
func iopSendUntilStdin(msgs ...[][]byte) iopStep {
	return iopStep{"op": "send_until_stdin", "msgs": iopHexMsgs(msgs), "interval_ms": iopWarmEvery.Milliseconds(), "max": iopWarmRounds}
}

// iopPySub (un)subscribes a libzmq SUB with the socket option, or a libzmq
// XSUB with a subscription message.
func iopPySub(typ, topic string, on bool) iopStep {
	if typ == "XSUB" {
		return iopSend(iopSubFrame(topic, on))
	}
	op := "unsubscribe"
	if on {
		op = "subscribe"
	}
	return iopStep{"op": op, "topic": hex.EncodeToString([]byte(topic))}
}

// iopSubFrame is a ZMTP 3.0 subscription message: 1 or 0, then the topic.
func iopSubFrame(topic string, on bool) [][]byte {
	b := []byte{0}
	if on {
		b[0] = 1
	}
	return [][]byte{append(b, topic...)}
}

// iopLine is one line of the driver's output.
type iopLine struct {
	Ev       string   `json:"ev"`
	Endpoint string   `json:"endpoint"`
	Frames   []string `json:"frames"`
	Count    int      `json:"count"`
	Events   []string `json:"events"`
	Msg      string   `json:"msg"`
	// Props are the message properties a recv_props step read (null: the
	// property was not there).
	Props map[string]*string `json:"props"`
	raw   string
}

func (l iopLine) msg(t *testing.T) [][]byte {
	t.Helper()
	out := make([][]byte, len(l.Frames))
	for i, f := range l.Frames {
		b, err := hex.DecodeString(f)
		require.NoError(t, err, "driver line %s", l.raw)
		out[i] = b
	}
	return out
}

type iopBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *iopBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *iopBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// iopPeer is one running driver process.
type iopPeer struct {
	t       *testing.T
	spec    iopSpec
	stdin   io.WriteCloser
	stdinMu sync.Mutex
	lines   chan iopLine // closed at EOF on stdout
	stderr  *iopBuffer
	exited  chan struct{}
	waitErr error // set before exited is closed
}

// iopStartPeer runs the driver with spec. Cleanup ends it (closing its stdin,
// then killing it if it does not exit).
func iopStartPeer(t *testing.T, spec iopSpec) *iopPeer {
	t.Helper()
	iopRequireLibzmq(t)
	if spec.TimeoutMS == 0 {
		spec.TimeoutMS = int(iopPeerBudget.Milliseconds())
	}
	if spec.Steps == nil {
		spec.Steps = []iopStep{}
	}
	js, err := json.Marshal(spec)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), iopPeerBudget+15*time.Second)
	cmd := exec.CommandContext(ctx, iopPython(), "testdata/libzmq_peer.py", string(js))
	cmd.WaitDelay = 2 * time.Second
	p := &iopPeer{t: t, spec: spec, lines: make(chan iopLine, 4096), stderr: &iopBuffer{}, exited: make(chan struct{})}
	cmd.Stderr = p.stderr
	p.stdin, err = cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start libzmq peer: %v", err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			var l iopLine
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				l = iopLine{Ev: "error", Msg: "unparsable driver output: " + err.Error()}
			}
			l.raw = sc.Text()
			select {
			case p.lines <- l:
			default: // the test stopped reading; keep draining so the process can exit
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		close(p.lines)
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		if t.Failed() {
			cancel() // no need to wait out its time budget
		}
		p.stdinMu.Lock()
		_ = p.stdin.Close()
		p.stdinMu.Unlock()
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			cancel() // kills it
			<-p.exited
		}
		cancel()
	})
	return p
}

func (p *iopPeer) describe() string {
	js, _ := json.Marshal(p.spec)
	return fmt.Sprintf("libzmq peer %s\nstderr:\n%s", js, p.stderr.String())
}

// poll returns the next line if one comes within d. It fails the test on a
// driver error or exit.
func (p *iopPeer) poll(d time.Duration) (iopLine, bool) {
	p.t.Helper()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case l, ok := <-p.lines:
		if !ok {
			<-p.exited
			p.t.Fatalf("libzmq peer exited early (%v)\n%s", p.waitErr, p.describe())
		}
		if l.Ev == "error" {
			p.t.Fatalf("libzmq peer failed: %s\n%s", l.Msg, p.describe())
		}
		return l, true
	case <-t.C:
		return iopLine{}, false
	}
}

// next returns the next line, failing the test if none comes in time.
func (p *iopPeer) next() iopLine {
	p.t.Helper()
	l, ok := p.poll(iopLineTimeout)
	if !ok {
		p.t.Fatalf("no output from the libzmq peer within %v\n%s", iopLineTimeout, p.describe())
	}
	return l
}

// nextRecv returns the next message the peer received, skipping progress
// lines.
func (p *iopPeer) nextRecv() [][]byte {
	p.t.Helper()
	for i := 0; i < 1000; i++ {
		l := p.next()
		switch l.Ev {
		case "recv":
			return l.msg(p.t)
		case "sent", "stdin":
			continue
		default:
			p.t.Fatalf("libzmq peer: want a received message, got %s\n%s", l.raw, p.describe())
		}
	}
	p.t.Fatalf("libzmq peer: no received message among 1000 lines")
	return nil
}

// recvMsgs returns the next n messages the peer received.
func (p *iopPeer) recvMsgs(n int) [][][]byte {
	p.t.Helper()
	out := make([][][]byte, 0, n)
	for range n {
		out = append(out, p.nextRecv())
	}
	return out
}

// endpoint reads the endpoint a binding peer reports first.
func (p *iopPeer) endpoint() string {
	p.t.Helper()
	l := p.next()
	require.Equal(p.t, "bound", l.Ev, "first line of a binding libzmq peer: %s", l.raw)
	require.NotEmpty(p.t, l.Endpoint)
	return l.Endpoint
}

// signal writes a line to the peer's stdin (ends wait_stdin and
// send_until_stdin steps).
func (p *iopPeer) signal() {
	p.t.Helper()
	p.stdinMu.Lock()
	defer p.stdinMu.Unlock()
	_, err := io.WriteString(p.stdin, "go\n")
	require.NoError(p.t, err, "write to the libzmq peer's stdin\n%s", p.describe())
}

// finish waits for the peer to succeed and returns its remaining lines.
func (p *iopPeer) finish() []iopLine {
	p.t.Helper()
	var rest []iopLine
	for i := 0; i < 10000; i++ {
		l := p.next()
		if l.Ev == "done" {
			select {
			case <-p.exited:
			case <-time.After(iopLineTimeout):
				p.t.Fatalf("libzmq peer did not exit after done\n%s", p.describe())
			}
			require.NoError(p.t, p.waitErr, p.describe())
			return rest
		}
		rest = append(rest, l)
	}
	p.t.Fatalf("libzmq peer: no end among 10000 lines")
	return nil
}

// iopMonitorEvents is what the peer's monitor reported, among lines.
func iopMonitorEvents(t *testing.T, lines []iopLine) []string {
	t.Helper()
	for _, l := range lines {
		if l.Ev == "monitor" {
			return l.Events
		}
	}
	t.Fatalf("no monitor report from the libzmq peer")
	return nil
}

// ---------------------------------------------------------------------------
// Our side and the link between.

var iopIPCSeq atomic.Int64

// iopLink says how our socket meets the peer: transport, and who binds.
type iopLink struct {
	transport string // tcp or ipc
	dir       string // for ipc socket files
	oursBinds bool
}

func (l iopLink) ipcEndpoint(t *testing.T) string {
	path := l.dir + "/" + strconv.FormatInt(iopIPCSeq.Add(1), 36)
	require.Less(t, len(path), 100, "ipc path %q too long for a unix socket", path)
	return "ipc://" + path
}

// oursEndpoint is what our socket listens on.
func (l iopLink) oursEndpoint(t *testing.T) string {
	if l.transport == "ipc" {
		return l.ipcEndpoint(t)
	}
	return "tcp://127.0.0.1:0"
}

// pyEndpoint is what the libzmq peer binds.
func (l iopLink) pyEndpoint(t *testing.T) string {
	if l.transport == "ipc" {
		return l.ipcEndpoint(t)
	}
	return "tcp://127.0.0.1:*"
}

// connect joins ours and a new libzmq peer running spec, ours binding or
// the peer binding as l says.
func (l iopLink) connect(t *testing.T, ours *sockets.Socket, spec iopSpec) *iopPeer {
	t.Helper()
	if l.oursBinds {
		ep, err := ours.Listen(l.oursEndpoint(t))
		require.NoError(t, err)
		spec.Connect = append(spec.Connect, ep)
		return iopStartPeer(t, spec)
	}
	spec.Bind = l.pyEndpoint(t)
	p := iopStartPeer(t, spec)
	require.NoError(t, ours.Dial(p.endpoint()))
	return p
}

// iopMatrix runs f over tcp and ipc, with our socket binding and with the
// libzmq one binding, in parallel.
func iopMatrix(t *testing.T, f func(t *testing.T, l iopLink)) {
	dir := t.TempDir()
	for _, tr := range []string{"tcp", "ipc"} {
		for _, oursBinds := range []bool{true, false} {
			l := iopLink{transport: tr, dir: dir, oursBinds: oursBinds}
			name := tr + "/libzmq-binds"
			if oursBinds {
				name = tr + "/go-binds"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				f(t, l)
			})
		}
	}
}

func iopSocket(t *testing.T, typ sockets.Type, opts ...sockets.Option) *sockets.Socket {
	t.Helper()
	s, err := sockets.New(typ, append([]sockets.Option{sockets.WithLinger(2 * time.Second)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func iopCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func iopMsg(s ...string) [][]byte {
	out := make([][]byte, len(s))
	for i, x := range s {
		out[i] = []byte(x)
	}
	return out
}

// iopShow renders a message for comparison (nil and empty frames alike).
func iopShow(m [][]byte) []string {
	out := make([]string, len(m))
	for i, f := range m {
		out[i] = string(f)
	}
	return out
}

func iopShowAll(ms [][][]byte) [][]string {
	out := make([][]string, len(ms))
	for i, m := range ms {
		out[i] = iopShow(m)
	}
	return out
}

func iopPrepend(head []byte, m [][]byte) [][]byte {
	return append([][]byte{head}, m...)
}

// multipart bodies, with empty frames inside and at the end.
func iopTestMsgs(tag string, n int) [][][]byte {
	out := make([][][]byte, n)
	for i := range n {
		switch i % 3 {
		case 0:
			out[i] = iopMsg(fmt.Sprintf("%s-%d", tag, i))
		case 1:
			out[i] = iopMsg(fmt.Sprintf("%s-%d", tag, i), "", "after-empty")
		default:
			out[i] = iopMsg(fmt.Sprintf("%s-%d", tag, i), strings.Repeat("x", 300), "")
		}
	}
	return out
}

// iopDrainEvents returns the monitor events ours has queued.
func iopDrainEvents(s *sockets.Socket) []sockets.EventKind {
	var out []sockets.EventKind
	for range 10000 {
		select {
		case ev, ok := <-s.Events():
			if !ok {
				return out
			}
			out = append(out, ev.Kind)
		default:
			return out
		}
	}
	return out
}

func iopCountKind(evs []sockets.EventKind, k sockets.EventKind) int {
	n := 0
	for _, e := range evs {
		if e == k {
			n++
		}
	}
	return n
}

// ---------------------------------------------------------------------------
// PUSH / PULL

func TestInteropPushPull(t *testing.T) {
	msgs := iopTestMsgs("push", 12)
	t.Run("go-PUSH/libzmq-PULL", func(t *testing.T) {
		iopMatrix(t, func(t *testing.T, l iopLink) {
			ctx := iopCtx(t)
			push := iopSocket(t, sockets.Push)
			p := l.connect(t, push, iopSpec{Type: "PULL", Steps: []iopStep{iopRecv(len(msgs))}})
			for _, m := range msgs {
				require.NoError(t, push.Send(ctx, m...))
			}
			assert.Equal(t, iopShowAll(msgs), iopShowAll(p.recvMsgs(len(msgs))))
			p.finish()
		})
	})
	t.Run("libzmq-PUSH/go-PULL", func(t *testing.T) {
		iopMatrix(t, func(t *testing.T, l iopLink) {
			ctx := iopCtx(t)
			pull := iopSocket(t, sockets.Pull)
			p := l.connect(t, pull, iopSpec{Type: "PUSH", Steps: []iopStep{iopSend(msgs...)}})
			for _, want := range msgs {
				got, err := pull.Recv(ctx)
				require.NoError(t, err)
				assert.Equal(t, iopShow(want), iopShow(got))
			}
			p.finish()
		})
	})
}

// ---------------------------------------------------------------------------
// PUB / SUB, XPUB / XSUB

// The publishers send these after the slow-joiner warm-up; subscribers
// subscribe to "A" (or "T" where subscriptions are observed). Only the
// messages whose first frame starts with the prefix may arrive.
func iopPubData(prefix string) (all [][][]byte, matching [][][]byte) {
	all = [][][]byte{
		iopMsg("B-1"),
		iopMsg(prefix+"-1", "body"),
		iopMsg("b" + prefix),
		iopMsg(prefix+"-2", "", "after-empty"),
		iopMsg("", prefix),
		iopMsg(prefix + prefix),
		iopMsg("x"+prefix+"-3", "body"),
		iopMsg(prefix + "-end"),
	}
	for _, m := range all {
		if bytes.HasPrefix(m[0], []byte(prefix)) {
			matching = append(matching, m)
		}
	}
	return all, matching
}

// iopWithoutWarm drops the warm-up messages still in flight after the
// first one arrived.
func iopWithoutWarm(prefix string, msgs [][][]byte) [][][]byte {
	var out [][][]byte
	for _, m := range msgs {
		if string(m[0]) != prefix+"-warm" {
			out = append(out, m)
		}
	}
	return out
}

// iopGoPubToLibzmq: our PUB or XPUB publishes; a libzmq SUB or XSUB subscribed
// to "A" gets only the matching messages.
func iopGoPubToLibzmq(t *testing.T, l iopLink, ours sockets.Type, pyType string) {
	ctx := iopCtx(t)
	pub := iopSocket(t, ours)
	all, matching := iopPubData("A")
	p := l.connect(t, pub, iopSpec{Type: pyType, Steps: []iopStep{
		iopPySub(pyType, "A", true),
		iopRecvUntil("A-end", 2*iopWarmRounds+len(all)),
	}})
	if ours == sockets.XPub {
		// No slow joiner here: the subscription itself says the peer is in.
		m, err := pub.Recv(ctx)
		require.NoError(t, err)
		require.Equal(t, iopShow(iopMsg("\x01A")), iopShow(m))
	} else {
		// Publish a matching message until the subscriber has one.
		var first [][]byte
		for i := 0; first == nil; i++ {
			require.Less(t, i, iopWarmRounds, "the libzmq %s never got a message\n%s", pyType, p.describe())
			require.NoError(t, pub.Send(ctx, []byte("A-warm")))
			if ln, ok := p.poll(iopWarmEvery); ok && ln.Ev == "recv" {
				first = ln.msg(t)
			}
		}
		require.Equal(t, "A-warm", string(first[0]))
	}
	for _, m := range all {
		require.NoError(t, pub.Send(ctx, m...))
	}
	var got [][][]byte
	for i := 0; ; i++ {
		require.Less(t, i, 2*iopWarmRounds+len(all), "no A-end")
		m := p.nextRecv()
		got = append(got, m)
		if string(m[0]) == "A-end" {
			break
		}
	}
	assert.Equal(t, iopShowAll(matching), iopShowAll(iopWithoutWarm("A", got)))
	p.finish()
}

// iopGoXPubSeesLibzmq: our XPUB gets a libzmq SUB's (or XSUB's) subscribe and
// unsubscribe as \x01topic and \x00topic, and delivers only what matches.
func iopGoXPubSeesLibzmq(t *testing.T, l iopLink, pyType string) {
	ctx := iopCtx(t)
	xpub := iopSocket(t, sockets.XPub)
	all, matching := iopPubData("T")
	p := l.connect(t, xpub, iopSpec{Type: pyType, Steps: []iopStep{
		iopPySub(pyType, "T", true),
		iopRecvUntil("T-end", len(all)),
		iopPySub(pyType, "T", false),
		iopWaitStdin(),
	}})
	m, err := xpub.Recv(ctx)
	require.NoError(t, err)
	require.Equal(t, iopShow(iopMsg("\x01T")), iopShow(m))
	for _, m := range all {
		require.NoError(t, xpub.Send(ctx, m...))
	}
	assert.Equal(t, iopShowAll(matching), iopShowAll(p.recvMsgs(len(matching))))
	// The peer is still connected (it waits on stdin): this cancel came
	// over the wire, not from a disconnect.
	m, err = xpub.Recv(ctx)
	require.NoError(t, err)
	require.Equal(t, iopShow(iopMsg("\x00T")), iopShow(m))
	assert.Equal(t, int64(1), xpub.Stats().Peers)
	p.signal()
	p.finish()
}

// iopOursSub (un)subscribes our SUB with Subscribe, or our XSUB with a
// subscription message.
func iopOursSub(t *testing.T, ctx context.Context, s *sockets.Socket, topic string, on bool) {
	t.Helper()
	switch {
	case s.Type() == sockets.XSub:
		require.NoError(t, s.Send(ctx, iopSubFrame(topic, on)...))
	case on:
		require.NoError(t, s.Subscribe(topic))
	default:
		require.NoError(t, s.Unsubscribe(topic))
	}
}

// iopLibzmqPubToGo: a libzmq PUB publishes; our SUB or XSUB subscribed to "A"
// gets only the matching messages.
func iopLibzmqPubToGo(t *testing.T, l iopLink, ours sockets.Type) {
	ctx := iopCtx(t)
	sub := iopSocket(t, ours)
	iopOursSub(t, ctx, sub, "A", true)
	all, matching := iopPubData("A")
	p := l.connect(t, sub, iopSpec{Type: "PUB", Steps: []iopStep{
		iopSendUntilStdin(iopMsg("A-warm"), iopMsg("B-warm")),
		iopSend(all...),
		iopWaitStdin(),
	}})
	first, err := sub.Recv(ctx)
	require.NoError(t, err)
	require.Equal(t, "A-warm", string(first[0]))
	p.signal()
	var got [][][]byte
	for i := 0; ; i++ {
		require.Less(t, i, 2*iopWarmRounds+len(all), "no A-end")
		m, err := sub.Recv(ctx)
		require.NoError(t, err)
		got = append(got, m)
		if string(m[0]) == "A-end" {
			break
		}
	}
	assert.Equal(t, iopShowAll(matching), iopShowAll(iopWithoutWarm("A", got)))
	p.signal()
	p.finish()
}

// iopLibzmqXPubToGo: our SUB's or XSUB's subscription reaches a libzmq XPUB,
// which then delivers the matching messages; the unsubscribe arrives too.
func iopLibzmqXPubToGo(t *testing.T, l iopLink, ours sockets.Type) {
	ctx := iopCtx(t)
	sub := iopSocket(t, ours)
	iopOursSub(t, ctx, sub, "T", true)
	all, matching := iopPubData("T")
	p := l.connect(t, sub, iopSpec{Type: "XPUB", Steps: []iopStep{
		iopRecv(1),
		iopSend(all...),
		iopRecv(1),
	}})
	assert.Equal(t, iopShow(iopMsg("\x01T")), iopShow(p.nextRecv()))
	for _, want := range matching {
		got, err := sub.Recv(ctx)
		require.NoError(t, err)
		assert.Equal(t, iopShow(want), iopShow(got))
	}
	iopOursSub(t, ctx, sub, "T", false)
	assert.Equal(t, iopShow(iopMsg("\x00T")), iopShow(p.nextRecv()))
	p.finish()
}

func TestInteropPubSub(t *testing.T) {
	for _, py := range []string{"SUB", "XSUB"} {
		t.Run("go-PUB/libzmq-"+py, func(t *testing.T) {
			iopMatrix(t, func(t *testing.T, l iopLink) { iopGoPubToLibzmq(t, l, sockets.Pub, py) })
		})
		t.Run("go-XPUB/libzmq-"+py, func(t *testing.T) {
			iopMatrix(t, func(t *testing.T, l iopLink) { iopGoPubToLibzmq(t, l, sockets.XPub, py) })
		})
		t.Run("go-XPUB-subscriptions/libzmq-"+py, func(t *testing.T) {
			iopMatrix(t, func(t *testing.T, l iopLink) { iopGoXPubSeesLibzmq(t, l, py) })
		})
	}
	for _, ours := range []sockets.Type{sockets.Sub, sockets.XSub} {
		t.Run("libzmq-PUB/go-"+string(ours), func(t *testing.T) {
			iopMatrix(t, func(t *testing.T, l iopLink) { iopLibzmqPubToGo(t, l, ours) })
		})
		t.Run("libzmq-XPUB/go-"+string(ours), func(t *testing.T) {
			iopMatrix(t, func(t *testing.T, l iopLink) { iopLibzmqXPubToGo(t, l, ours) })
		})
	}
}

// ---------------------------------------------------------------------------
// REQ / REP

func TestInteropReqRep(t *testing.T) {
	msgs := iopTestMsgs("req", 6)
	t.Run("go-REQ/libzmq-REP", func(t *testing.T) {
		iopMatrix(t, func(t *testing.T, l iopLink) {
			ctx := iopCtx(t)
			req := iopSocket(t, sockets.Req)
			p := l.connect(t, req, iopSpec{Type: "REP", Steps: []iopStep{iopEcho(len(msgs), []byte("re"))}})
			for _, m := range msgs {
				require.NoError(t, req.Send(ctx, m...))
				assert.Equal(t, iopShow(m), iopShow(p.nextRecv()), "request as libzmq's REP sees it")
				got, err := req.Recv(ctx)
				require.NoError(t, err)
				assert.Equal(t, iopShow(iopPrepend([]byte("re"), m)), iopShow(got))
			}
			p.finish()
		})
	})
	t.Run("libzmq-REQ/go-REP", func(t *testing.T) {
		iopMatrix(t, func(t *testing.T, l iopLink) {
			ctx := iopCtx(t)
			rep := iopSocket(t, sockets.Rep)
			var steps []iopStep
			for _, m := range msgs {
				steps = append(steps, iopSend(m), iopRecv(1))
			}
			p := l.connect(t, rep, iopSpec{Type: "REQ", Steps: steps})
			for _, m := range msgs {
				got, err := rep.Recv(ctx)
				require.NoError(t, err)
				assert.Equal(t, iopShow(m), iopShow(got))
				require.NoError(t, rep.Send(ctx, iopPrepend([]byte("re"), got)...))
				assert.Equal(t, iopShow(iopPrepend([]byte("re"), m)), iopShow(p.nextRecv()), "reply as libzmq's REQ sees it")
			}
			p.finish()
		})
	})
}

// ---------------------------------------------------------------------------
// DEALER / ROUTER

func TestInteropDealerRouter(t *testing.T) {
	names := []string{"A", "B"}
	// Two dealers of ours with routing ids; a libzmq ROUTER sees the ids and
	// its replies reach the right dealer.
	t.Run("go-DEALER/libzmq-ROUTER", func(t *testing.T) {
		iopMatrix(t, func(t *testing.T, l iopLink) {
			ctx := iopCtx(t)
			dealers := map[string]*sockets.Socket{}
			spec := iopSpec{Type: "ROUTER", Steps: []iopStep{iopEcho(2*len(names), []byte("re"))}}
			for _, n := range names {
				d := iopSocket(t, sockets.Dealer, sockets.WithRoutingID([]byte("go-"+n)))
				dealers[n] = d
				if l.oursBinds {
					ep, err := d.Listen(l.oursEndpoint(t))
					require.NoError(t, err)
					spec.Connect = append(spec.Connect, ep)
				}
			}
			if !l.oursBinds {
				spec.Bind = l.pyEndpoint(t)
			}
			p := iopStartPeer(t, spec)
			if !l.oursBinds {
				ep := p.endpoint()
				for _, n := range names {
					require.NoError(t, dealers[n].Dial(ep))
				}
			}
			for k := range 2 {
				for _, n := range names {
					require.NoError(t, dealers[n].Send(ctx, iopMsg("from-"+n, strconv.Itoa(k), "", "end")...))
				}
			}
			for range 2 * len(names) {
				m := p.nextRecv()
				require.Len(t, m, 5, "%q", m)
				n := strings.TrimPrefix(string(m[1]), "from-")
				assert.Equal(t, "go-"+n, string(m[0]), "routing id the libzmq ROUTER saw")
			}
			for _, n := range names {
				for k := range 2 {
					got, err := dealers[n].Recv(ctx)
					require.NoError(t, err)
					assert.Equal(t, iopShow(iopMsg("re", "from-"+n, strconv.Itoa(k), "", "end")), iopShow(got))
				}
			}
			p.finish()
		})
	})
	// Two libzmq dealers with routing ids; our ROUTER sees the ids and its
	// replies reach the right dealer.
	t.Run("libzmq-DEALER/go-ROUTER", func(t *testing.T) {
		iopMatrix(t, func(t *testing.T, l iopLink) {
			ctx := iopCtx(t)
			router := iopSocket(t, sockets.Router)
			var ep string
			if l.oursBinds {
				var err error
				ep, err = router.Listen(l.oursEndpoint(t))
				require.NoError(t, err)
			}
			peers := map[string]*iopPeer{}
			for _, n := range names {
				spec := iopSpec{
					Type: "DEALER",
					Opts: map[string]any{"ROUTING_ID": hex.EncodeToString([]byte("py-" + n))},
					Steps: []iopStep{
						iopSend(iopMsg("from-"+n, "0", "", "end"), iopMsg("from-"+n, "1", "", "end")),
						iopRecv(2),
					},
				}
				if l.oursBinds {
					spec.Connect = []string{ep}
					peers[n] = iopStartPeer(t, spec)
				} else {
					spec.Bind = l.pyEndpoint(t)
					peers[n] = iopStartPeer(t, spec)
					require.NoError(t, router.Dial(peers[n].endpoint()))
				}
			}
			for range 2 * len(names) {
				m, err := router.Recv(ctx)
				require.NoError(t, err)
				require.Len(t, m, 5, "%q", m)
				n := strings.TrimPrefix(string(m[1]), "from-")
				require.Equal(t, "py-"+n, string(m[0]), "routing id our ROUTER saw")
				require.NoError(t, router.Send(ctx, append([][]byte{m[0], []byte("re")}, m[1:]...)...))
			}
			for _, n := range names {
				for k := range 2 {
					assert.Equal(t, iopShow(iopMsg("re", "from-"+n, strconv.Itoa(k), "", "end")), iopShow(peers[n].nextRecv()))
				}
				peers[n].finish()
			}
			assert.Zero(t, router.Stats().Unroutable)
		})
	})
}

// ---------------------------------------------------------------------------
// DEALER / DEALER and PAIR / PAIR: messages both ways over one connection.

func iopSymmetric(t *testing.T, ours sockets.Type, pyType string) {
	msgs := iopTestMsgs("sym", 6)
	// We send, libzmq receives and echoes.
	t.Run("go-first", func(t *testing.T) {
		iopMatrix(t, func(t *testing.T, l iopLink) {
			ctx := iopCtx(t)
			s := iopSocket(t, ours)
			p := l.connect(t, s, iopSpec{Type: pyType, Steps: []iopStep{iopEcho(len(msgs), []byte("re"))}})
			for _, m := range msgs {
				require.NoError(t, s.Send(ctx, m...))
			}
			assert.Equal(t, iopShowAll(msgs), iopShowAll(p.recvMsgs(len(msgs))))
			for _, m := range msgs {
				got, err := s.Recv(ctx)
				require.NoError(t, err)
				assert.Equal(t, iopShow(iopPrepend([]byte("re"), m)), iopShow(got))
			}
			p.finish()
		})
	})
	// libzmq sends, we receive and echo.
	t.Run("libzmq-first", func(t *testing.T) {
		iopMatrix(t, func(t *testing.T, l iopLink) {
			ctx := iopCtx(t)
			s := iopSocket(t, ours)
			p := l.connect(t, s, iopSpec{Type: pyType, Steps: []iopStep{iopSend(msgs...), iopRecv(len(msgs))}})
			for _, m := range msgs {
				got, err := s.Recv(ctx)
				require.NoError(t, err)
				assert.Equal(t, iopShow(m), iopShow(got))
				require.NoError(t, s.Send(ctx, iopPrepend([]byte("re"), got)...))
			}
			for _, m := range msgs {
				assert.Equal(t, iopShow(iopPrepend([]byte("re"), m)), iopShow(p.nextRecv()))
			}
			p.finish()
		})
	})
}

func TestInteropDealerDealer(t *testing.T) { iopSymmetric(t, sockets.Dealer, "DEALER") }

func TestInteropPair(t *testing.T) { iopSymmetric(t, sockets.Pair, "PAIR") }

// ---------------------------------------------------------------------------
// Heartbeats

const (
	iopHBIvl     = 100 * time.Millisecond
	iopHBTimeout = 300 * time.Millisecond
	iopHBIdle    = time.Second // ten intervals, three timeouts
)

// iopCheckLibzmqUp: the libzmq peer's monitor saw one connection and no
// disconnect.
func iopCheckLibzmqUp(t *testing.T, rest []iopLine) {
	t.Helper()
	evs := iopMonitorEvents(t, rest)
	n := 0
	for _, e := range evs {
		if e == "HANDSHAKE_SUCCEEDED" {
			n++
		}
		assert.NotEqual(t, "DISCONNECTED", e, "libzmq monitor events %v", evs)
	}
	assert.Equal(t, 1, n, "libzmq handshakes; monitor events %v", evs)
}

// iopCheckOursUp: our socket saw one connection, no disconnect and no
// heartbeat timeout.
func iopCheckOursUp(t *testing.T, s *sockets.Socket) {
	t.Helper()
	st := s.Stats()
	evs := iopDrainEvents(s)
	assert.Equal(t, uint64(1), st.Connects, "connects; events %v", evs)
	assert.Zero(t, st.Disconnects, "disconnects; events %v", evs)
	assert.Zero(t, st.HeartbeatTimeouts, "heartbeat timeouts; events %v", evs)
	assert.Equal(t, int64(1), st.Peers)
	assert.Zero(t, iopCountKind(evs, sockets.EventHeartbeatTimeout), "events %v", evs)
	assert.Zero(t, iopCountKind(evs, sockets.EventDisconnected), "events %v", evs)
	assert.Equal(t, 1, iopCountKind(evs, sockets.EventConnected), "events %v", evs)
}

func TestInteropHeartbeat(t *testing.T) {
	// libzmq PINGs us (and asks for a TTL); we must answer with PONG or it
	// drops the connection after iopHBTimeout of idleness.
	t.Run("libzmq-pings", func(t *testing.T) {
		iopMatrix(t, func(t *testing.T, l iopLink) {
			ctx := iopCtx(t)
			s := iopSocket(t, sockets.Dealer)
			p := l.connect(t, s, iopSpec{
				Type:    "DEALER",
				Monitor: true,
				Opts: map[string]any{
					"HEARTBEAT_IVL":     iopHBIvl.Milliseconds(),
					"HEARTBEAT_TIMEOUT": iopHBTimeout.Milliseconds(),
					"HEARTBEAT_TTL":     2000,
				},
				Steps: []iopStep{
					iopSend(iopMsg("hello")), iopRecv(1),
					iopSleep(iopHBIdle),
					iopSend(iopMsg("after")), iopRecv(1),
				},
			})
			m, err := s.Recv(ctx)
			require.NoError(t, err)
			require.Equal(t, iopShow(iopMsg("hello")), iopShow(m))
			require.NoError(t, s.Send(ctx, iopMsg("re", "hello")...))
			assert.Equal(t, iopShow(iopMsg("re", "hello")), iopShow(p.nextRecv()))
			m, err = s.Recv(ctx) // after the idle period
			require.NoError(t, err)
			require.Equal(t, iopShow(iopMsg("after")), iopShow(m))
			iopCheckOursUp(t, s)
			require.NoError(t, s.Send(ctx, iopMsg("re", "after")...))
			assert.Equal(t, iopShow(iopMsg("re", "after")), iopShow(p.nextRecv()))
			iopCheckLibzmqUp(t, p.finish())
		})
	})
	// We PING libzmq, which has no heartbeat of its own; its PONGs must keep
	// our silence timeout (ivl+timeout) from firing.
	t.Run("go-pings", func(t *testing.T) {
		iopMatrix(t, func(t *testing.T, l iopLink) {
			ctx := iopCtx(t)
			s := iopSocket(t, sockets.Dealer, sockets.WithHeartbeat(iopHBIvl, iopHBTimeout, 0))
			p := l.connect(t, s, iopSpec{
				Type:    "DEALER",
				Monitor: true,
				Steps:   []iopStep{iopEcho(2, []byte("re"))},
			})
			require.NoError(t, s.Send(ctx, iopMsg("hello")...))
			m, err := s.Recv(ctx)
			require.NoError(t, err)
			require.Equal(t, iopShow(iopMsg("re", "hello")), iopShow(m))
			time.Sleep(iopHBIdle) // idle: only PING and PONG on the wire
			iopCheckOursUp(t, s)
			require.NoError(t, s.Send(ctx, iopMsg("after")...))
			m, err = s.Recv(ctx)
			require.NoError(t, err)
			require.Equal(t, iopShow(iopMsg("re", "after")), iopShow(m))
			assert.Equal(t, iopShow(iopMsg("hello")), iopShow(p.nextRecv()))
			assert.Equal(t, iopShow(iopMsg("after")), iopShow(p.nextRecv()))
			iopCheckLibzmqUp(t, p.finish())
		})
	})
}

// Our ROUTER names a libzmq ROUTER it dials and sends to it before the
// connection is up (ROUTER to ROUTER needs one side to know the other's
// id); libzmq's ROUTER answers by the id we announce.
func TestInteropDialRouted(t *testing.T) {
	ctx := iopCtx(t)
	p := iopStartPeer(t, iopSpec{Type: "ROUTER", Bind: "tcp://127.0.0.1:*", Steps: []iopStep{iopEcho(2, []byte("re"))}})
	r := iopSocket(t, sockets.Router, sockets.WithRoutingID([]byte("ours")))
	require.NoError(t, r.DialRouted(p.endpoint(), []byte("theirs")))
	for _, body := range []string{"one", "two"} {
		require.NoError(t, r.Send(ctx, []byte("theirs"), []byte(body)))
	}
	for _, body := range []string{"one", "two"} {
		assert.Equal(t, iopShow(iopMsg("ours", body)), iopShow(p.nextRecv()))
		got, err := r.Recv(ctx)
		require.NoError(t, err)
		assert.Equal(t, iopShow(iopMsg("theirs", "re", body)), iopShow(got))
	}
	p.finish()
}
