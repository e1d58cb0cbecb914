package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/internal/testutil"
	"github.com/zmqkit/zmqkit/sockets"
)

// device is a zmqkit device process, started with JSON logs so that the
// test can read the endpoints it bound.
type device struct {
	*proc
	eps     map[string]string // side → bound endpoint
	all     []string          // every bound endpoint, in order
	metrics string
}

func startDevice(t *testing.T, env []string, args ...string) *device {
	t.Helper()
	args = append(args, "--log-format", "json")
	p := start(t, nil, args...)
	if env != nil {
		// start has begun the process already; restart it with env.
		_ = p.cmd.Process.Kill()
		<-p.done
		cmd := exec.CommandContext(testutil.Context(t, 30*time.Second), binPath, args...)
		cmd.Env = append(os.Environ(), env...)
		p = &proc{cmd: cmd, stdout: newOutput(), stderr: newOutput(), done: make(chan struct{})}
		cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
		cmd.WaitDelay = 2 * time.Second
		require.NoError(t, cmd.Start())
		go func() { _ = cmd.Wait(); close(p.done) }()
		t.Cleanup(func() { _ = cmd.Process.Kill(); <-p.done })
	}
	d := &device{proc: p, eps: map[string]string{}}
	deadline := time.Now().Add(10 * time.Second)
	for {
		d.eps, d.all = map[string]string{}, nil // the whole log is read again each time
		for _, line := range p.stderr.lines() {
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) != nil {
				continue
			}
			switch rec["msg"] {
			case "listening":
				side, _ := rec["side"].(string)
				ep, _ := rec["endpoint"].(string)
				d.eps[side] = ep
				d.all = append(d.all, ep)
			case "serving metrics":
				d.metrics = rec["addr"].(string)
			case "running":
				return d
			}
		}
		select {
		case <-p.done:
			require.FailNow(t, "device exited", "stderr: %s", p.stderr.String())
		case <-p.stderr.changed:
		case <-time.After(100 * time.Millisecond):
		}
		require.True(t, time.Now().Before(deadline), "device never ran; stderr: %s", p.stderr.String())
	}
}

func sock(t *testing.T, typ sockets.Type, opts ...sockets.Option) *sockets.Socket {
	t.Helper()
	s, err := sockets.New(typ, append([]sockets.Option{sockets.WithLinger(time.Second)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func waitPeers(t *testing.T, s *sockets.Socket, n int64) {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, func() bool { return int64(len(s.Peers())) >= n }, "peers never connected")
}

func TestDeviceStreamerAndMetrics(t *testing.T) {
	ctx := testutil.Context(t, 30*time.Second)
	d := startDevice(t, nil, "streamer", "--frontend", "tcp://127.0.0.1:0", "--backend", "tcp://127.0.0.1:0",
		"--metrics", "127.0.0.1:0")
	push := sock(t, sockets.Push)
	require.NoError(t, push.Dial(d.eps["frontend"]))
	pulls := []*sockets.Socket{sock(t, sockets.Pull), sock(t, sockets.Pull)}
	for _, p := range pulls {
		require.NoError(t, p.Dial(d.eps["backend"]))
		waitPeers(t, p, 1)
	}
	// Both workers are connected: wait until the device's backend sees them.
	peers := `zmqkit_socket_peers{device="streamer",side="backend"} 2`
	require.Contains(t, scrapeUntil(t, d.metrics, peers), peers)
	const n = 100
	for i := 0; i < n; i++ {
		require.NoError(t, push.Send(ctx, []byte(fmt.Sprint(i))))
	}
	counts := make([]int, 2)
	for got := 0; got < n; {
		for i, p := range pulls {
			if counts[i] < n/2 {
				_, err := p.Recv(ctx)
				require.NoError(t, err)
				counts[i]++
				got++
			}
		}
	}
	assert.Equal(t, []int{n / 2, n / 2}, counts, "round-robin over the two workers")
	// The device counts a message once a queue has taken it, which can be
	// after the worker already has it: scrape until the counters catch up.
	in := fmt.Sprintf(`zmqkit_device_messages_total{device="streamer",direction="in",side="frontend"} %d`, n)
	out := fmt.Sprintf(`zmqkit_device_messages_total{device="streamer",direction="out",side="backend"} %d`, n)
	m := scrapeUntil(t, d.metrics, in, out)
	assert.Contains(t, m, in)
	assert.Contains(t, m, out)
	assert.Contains(t, m, "go_goroutines")
	resp, err := http.Get("http://" + d.metrics + "/healthz")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "ok\n", string(body))

	require.NoError(t, d.cmd.Process.Signal(syscall.SIGTERM))
	assert.Equal(t, 0, d.wait(t))
}

func scrape(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

// scrapeUntil scrapes until every one of wants is in the page, or for 10 s,
// and returns the last page: counters a device updates on its own goroutines
// can lag what the test has already seen arrive.
func scrapeUntil(t *testing.T, addr string, wants ...string) string {
	t.Helper()
	var m string
	testutil.Eventually(t, 10*time.Second, func() bool {
		m = scrape(t, addr)
		for _, w := range wants {
			if !strings.Contains(m, w) {
				return false
			}
		}
		return true
	}, "metrics never showed all of %q; last page:\n%s", wants, m)
	return m
}

func TestDeviceForwarderFiltersAndServesLateSubscribers(t *testing.T) {
	ctx := testutil.Context(t, 30*time.Second)
	// Publishers bind, the forwarder connects to them: '>' in --frontend.
	pubs := []*sockets.Socket{sock(t, sockets.Pub), sock(t, sockets.Pub)}
	var fronts []string
	for _, p := range pubs {
		addr, err := p.Listen("tcp://127.0.0.1:0")
		require.NoError(t, err)
		fronts = append(fronts, ">"+addr)
	}
	d := startDevice(t, nil, "forwarder", "--frontend", strings.Join(fronts, ","), "--backend", "tcp://127.0.0.1:0")
	sub := sock(t, sockets.Sub, sockets.WithSubscribe("a."))
	require.NoError(t, sub.Dial(d.eps["backend"]))
	for i, p := range pubs {
		expectThrough(t, ctx, p, sub, fmt.Sprintf("a.%d", i))
	}
	// Topics nobody asked for stop at the publisher.
	for _, p := range pubs {
		require.NoError(t, p.Send(ctx, []byte("b.nobody"), []byte("x")))
		require.NoError(t, p.Send(ctx, []byte("a.yes"), []byte("x")))
	}
	for range pubs {
		m, err := sub.Recv(ctx)
		require.NoError(t, err)
		assert.Equal(t, "a.yes", string(m[0]))
	}
	late := sock(t, sockets.Sub, sockets.WithSubscribe("b."))
	require.NoError(t, late.Dial(d.eps["backend"]))
	expectThrough(t, ctx, pubs[1], late, "b.late")
	require.NoError(t, d.cmd.Process.Signal(syscall.SIGINT))
	assert.Equal(t, 0, d.wait(t))
}

// expectThrough publishes topic until s gets it (subscriptions travel
// upstream through the forwarder first), then drains the extra copies.
func expectThrough(t *testing.T, ctx context.Context, pub, s *sockets.Socket, topic string) {
	t.Helper()
	for i := 0; i < 400; i++ {
		require.NoError(t, pub.Send(ctx, []byte(topic), []byte("probe")))
		rctx, cancel := context.WithTimeout(ctx, 25*time.Millisecond)
		m, err := s.Recv(rctx)
		cancel()
		if err == nil {
			require.Equal(t, topic, string(m[0]))
			for {
				rctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
				_, err := s.Recv(rctx)
				cancel()
				if err != nil {
					return
				}
			}
		}
	}
	t.Fatalf("%s never got through the forwarder", topic)
}

func TestDeviceQueueFromEnvironment(t *testing.T) {
	ctx := testutil.Context(t, 30*time.Second)
	d := startDevice(t, []string{"ZMQKIT_FRONTEND=tcp://127.0.0.1:0", "ZMQKIT_BACKEND=tcp://127.0.0.1:0", "ZMQKIT_HWM=500"}, "queue")
	var mu sync.Mutex
	served := map[int]int{}
	var wg sync.WaitGroup
	wctx, stop := context.WithCancel(ctx)
	defer func() { stop(); wg.Wait() }()
	for w := 0; w < 3; w++ {
		rep := sock(t, sockets.Rep)
		require.NoError(t, rep.Dial(d.eps["backend"]))
		waitPeers(t, rep, 1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				m, err := rep.Recv(wctx)
				if err != nil {
					return
				}
				mu.Lock()
				served[w]++
				mu.Unlock()
				if rep.Send(wctx, append([][]byte{{byte(w)}}, m...)...) != nil {
					return
				}
			}
		}()
	}
	clients := []*sockets.Socket{sock(t, sockets.Req), sock(t, sockets.Req), sock(t, sockets.Req)}
	for _, c := range clients {
		require.NoError(t, c.Dial(d.eps["frontend"]))
	}
	for round := 0; round < 12; round++ {
		for i, c := range clients {
			body := []byte(fmt.Sprintf("client %d round %d", i, round))
			require.NoError(t, c.Send(ctx, body))
			r, err := c.Recv(ctx)
			require.NoError(t, err)
			require.Len(t, r, 2)
			assert.Equal(t, body, r[1], "the reply comes back to its client")
		}
	}
	mu.Lock()
	assert.Len(t, served, 3, "every worker served")
	for w, n := range served {
		assert.InDelta(t, 12, n, 2, "worker %d", w)
	}
	mu.Unlock()
	require.NoError(t, d.cmd.Process.Signal(syscall.SIGTERM))
	assert.Equal(t, 0, d.wait(t))
}

func TestDeviceSteeredOverControlSocket(t *testing.T) {
	ctx := testutil.Context(t, 30*time.Second)
	d := startDevice(t, nil, "streamer", "--frontend", "tcp://127.0.0.1:0", "--backend", "tcp://127.0.0.1:0",
		"--control", "tcp://127.0.0.1:0", "--capture", "tcp://127.0.0.1:0")
	push, pull, steer := sock(t, sockets.Push), sock(t, sockets.Pull), sock(t, sockets.Req)
	require.NoError(t, push.Dial(d.eps["frontend"]))
	require.NoError(t, pull.Dial(d.eps["backend"]))
	require.NoError(t, steer.Dial(d.eps["control"]))
	tap := sock(t, sockets.Sub, sockets.WithSubscribe(""))
	require.NoError(t, tap.Dial(d.eps["capture"]))
	command := func(cmd string) [][]byte {
		require.NoError(t, steer.Send(ctx, []byte(cmd)))
		r, err := steer.Recv(ctx)
		require.NoError(t, err)
		return r
	}
	waitPeers(t, tap, 1)
	// The tap's subscription travels after its handshake, so the device's
	// capture PUB may not know it yet: probe until a copy comes back.
	probes := 0
	for tapped := false; !tapped; {
		require.Less(t, probes, 100, "the capture tap never saw a message")
		require.NoError(t, push.Send(ctx, []byte("probe")))
		probes++
		_, err := pull.Recv(ctx)
		require.NoError(t, err)
		short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		_, err = tap.Recv(short)
		cancel()
		tapped = err == nil
	}
	require.NoError(t, push.Send(ctx, []byte("one")))
	m, err := pull.Recv(ctx)
	require.NoError(t, err)
	assert.Equal(t, "one", string(m[0]))
	c, err := tap.Recv(ctx)
	for err == nil && len(c) == 2 && string(c[1]) == "probe" { // a copy slower than its 100 ms
		c, err = tap.Recv(ctx)
	}
	require.NoError(t, err)
	assert.Equal(t, [][]byte{[]byte("in"), []byte("one")}, c, "the capture copy says its direction")

	assert.Equal(t, [][]byte{{}}, command("PAUSE"))
	require.NoError(t, push.Send(ctx, []byte("two")))
	short, cancel := context.WithTimeout(ctx, 150*time.Millisecond)
	_, err = pull.Recv(short)
	cancel()
	assert.ErrorIs(t, err, context.DeadlineExceeded, "paused: nothing moves")
	assert.Equal(t, [][]byte{{}}, command("RESUME"))
	m, err = pull.Recv(ctx)
	require.NoError(t, err)
	assert.Equal(t, "two", string(m[0]))

	// A socket counts a message once its queue has taken it, which can be
	// after the peer already has it: ask until the counters catch up.
	n, b := uint64(probes+2), uint64(5*probes+6)
	want := []uint64{n, b, 0, 0, 0, 0, n, b}
	got := make([]uint64, 8)
	testutil.Eventually(t, 5*time.Second, func() bool {
		stats := command("STATISTICS")
		require.Len(t, stats, 8)
		for i, f := range stats {
			got[i] = binary.LittleEndian.Uint64(f)
		}
		return slices.Equal(got, want)
	}, "STATISTICS %v, want %v", got, want)
	assert.Equal(t, [][]byte{{}}, command("TERMINATE"))
	assert.Equal(t, 0, d.wait(t), "TERMINATE ends the process cleanly")
}

// SIGTERM drains: what reached the device is still delivered.
func TestDeviceSIGTERMDrains(t *testing.T) {
	ctx := testutil.Context(t, 30*time.Second)
	d := startDevice(t, nil, "streamer", "--frontend", "tcp://127.0.0.1:0", "--backend", "tcp://127.0.0.1:0", "--linger", "5s")
	push, pull := sock(t, sockets.Push), sock(t, sockets.Pull, sockets.WithRecvHWM(5000))
	require.NoError(t, push.Dial(d.eps["frontend"]))
	require.NoError(t, pull.Dial(d.eps["backend"]))
	waitPeers(t, pull, 1)
	const n = 3000
	for i := 0; i < n; i++ {
		require.NoError(t, push.Send(ctx, []byte(fmt.Sprint(i))))
	}
	// Wait until everything has at least left the sender, then stop the
	// device while messages are in flight inside it.
	testutil.Eventually(t, 10*time.Second, func() bool { return push.Stats().MsgsOut >= n }, "the sender never sent all %d", n)
	require.NoError(t, push.Close())
	require.NoError(t, d.cmd.Process.Signal(syscall.SIGTERM))
	assert.Equal(t, 0, d.wait(t))
	for i := 0; i < n; i++ {
		m, err := pull.Recv(ctx)
		require.NoError(t, err, "message %d lost in the drain; device log: %s", i, d.stderr.String())
		require.Equal(t, fmt.Sprint(i), string(m[0]))
	}
}

func TestDeviceErrors(t *testing.T) {
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"queue", "--backend", "tcp://127.0.0.1:0"}, 2, "missing --frontend"},
		{[]string{"queue", "--frontend", "foo://x", "--backend", "tcp://127.0.0.1:0"}, 2, "unknown transport"},
		{[]string{"streamer", "--frontend", "tcp://127.0.0.1:0", "--backend", "inproc://x"}, 2, "inproc"},
		{[]string{"forwarder", "--frontend", "tcp://127.0.0.1:0", "--backend", "tcp://127.0.0.1:0", "--log-level", "loud"}, 2, "--log-level"},
		{[]string{"forwarder", "--frontend", "tcp://127.0.0.1:0", "--backend", "tcp://127.0.0.1:0", "--bogus"}, 2, "flag provided but not defined"},
	}
	for _, c := range cases {
		code, _, errOut := runCmd(t, c.args...)
		assert.Equal(t, c.code, code, c.args)
		oneLine(t, errOut, c.want)
	}
	busy := sock(t, sockets.Pull)
	addr, err := busy.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	p := start(t, nil, "queue", "--frontend", addr, "--backend", "tcp://127.0.0.1:0")
	assert.Equal(t, 1, p.wait(t))
	lines := p.stderr.lines()
	require.NotEmpty(t, lines)
	assert.Equal(t, fmt.Sprintf("zmqkit queue: --frontend %s: address already in use", addr), lines[len(lines)-1])
}

// A side that dials a peer that is not there has no peers, though its
// socket holds a pipe for the messages meant for it.
func TestDeviceMetricsCountOnlyConnectedPeers(t *testing.T) {
	nobody := testutil.FreePort(t)
	d := startDevice(t, nil, "streamer", "--frontend", "tcp://127.0.0.1:0", "--backend", ">tcp://"+nobody,
		"--metrics", "127.0.0.1:0")
	m := scrape(t, d.metrics)
	assert.Contains(t, m, `zmqkit_socket_peers{device="streamer",side="backend"} 0`)
	require.NoError(t, d.cmd.Process.Signal(syscall.SIGTERM))
	assert.Equal(t, 0, d.wait(t))
}
