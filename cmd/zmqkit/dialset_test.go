package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/internal/testutil"
	"github.com/zmqkit/zmqkit/internal/testutil/dnstest"
	"github.com/zmqkit/zmqkit/sockets"
)

// zmqkit send --connect dns://NAME:PORT --dns-server … deals its messages
// to every address of the name.
func TestSendToDNSSet(t *testing.T) {
	dns, err := dnstest.Start("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(dns.Close)
	_, port, _ := net.SplitHostPort(testutil.FreePort(t))
	var ips []string
	var pulls []*sockets.Socket
	for i := 1; i <= 3; i++ {
		ip := "127.0.0." + strconv.Itoa(i)
		pull, err := sockets.NewPull()
		require.NoError(t, err)
		t.Cleanup(func() { pull.Close() })
		if _, err := pull.Listen("tcp://" + net.JoinHostPort(ip, port)); err != nil {
			t.Skipf("cannot listen on %s:%s: %v", ip, port, err)
		}
		ips, pulls = append(ips, ip), append(pulls, pull)
	}
	dns.SetIPs("workers.test", ips...)

	// The lines are written once every member is connected: PUSH deals
	// only over the peers it has, and a burst sent when the first
	// connection is up may all go to it.
	const n = 30
	in, feed := io.Pipe()
	var out, errBuf bytes.Buffer
	ran := make(chan int, 1)
	go func() {
		ran <- run(testutil.Context(t, 10*time.Second), []string{"send", "--type", "push",
			"--connect", "dns://workers.test:" + port, "--dns-server", dns.Addr(), "--verbose"}, in, &out, &errBuf)
	}()
	for _, p := range pulls {
		testutil.Eventually(t, 5*time.Second, func() bool { return len(p.Peers()) > 0 }, "a member never connected")
	}
	for i := range n {
		_, err := fmt.Fprintf(feed, "m%d\n", i)
		require.NoError(t, err)
	}
	require.NoError(t, feed.Close())
	code := <-ran
	errOut := errBuf.String()
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, errOut, "member-added dns://workers.test:"+port)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	total := 0
	per := make([]int, len(pulls))
	for total < n {
		for i, p := range pulls {
			if _, err := p.TryRecv(); err == nil {
				per[i]++
				total++
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("received %d of %d: %v", total, n, per)
		}
	}
	t.Logf("messages per PULL: %v", per)
	for i, c := range per {
		assert.Positive(t, c, "PULL %d got nothing", i)
	}
}

// The new forms are checked with the others, before anything is bound.
func TestDialSetFlags(t *testing.T) {
	good := testutil.FreePort(t)
	ep := "tcp://" + good
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"send", "--type", "push", "--bind", ep, "--connect", "dns://noport"}, "--connect: invalid endpoint"},
		{[]string{"send", "--type", "push", "--bind", "dns://a:1"}, "a dial set cannot be bound"},
		{[]string{"send", "--type", "push", "--bind", ep, "--connect", "dns://a:1", "--dns-server", "nonsense"}, "--dns-server"},
		{[]string{"recv", "--type", "pull", "--bind", ep, "--connect", "srv://a:1"}, "want srv://NAME"},
		{[]string{"queue", "--frontend", ep, "--backend", ">dns://a"}, "--backend: invalid endpoint"},
		{[]string{"queue", "--frontend", ep, "--backend", ">dns://a:1", "--dns-server", "1.2.3.4"}, "--dns-server"},
		{[]string{"streamer", "--frontend", ep, "--backend", "dns://a:1"}, "a dial set cannot be bound"},
		{[]string{"broker", "--bind", ep + ",dns://a:1"}, "a dial set cannot be bound"},
	}
	for _, c := range cases {
		t.Run(c.args[0]+" "+c.want, func(t *testing.T) {
			code, out, errOut := runCmd(t, c.args...)
			assert.Equal(t, 2, code)
			assert.Empty(t, out)
			oneLine(t, errOut, "zmqkit "+c.args[0]+": ", c.want)
			assert.NotContains(t, errOut, "listening")
			assertFree(t, good)
		})
	}
}

// A device's '>' endpoint may be a dial set: a streamer whose backend
// dials dns://workers.test reaches every worker behind the name.
func TestDeviceBackendDialsDNSSet(t *testing.T) {
	dns, err := dnstest.Start("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(dns.Close)
	_, port, _ := net.SplitHostPort(testutil.FreePort(t))
	var ips []string
	var pulls []*sockets.Socket
	for i := 1; i <= 2; i++ {
		ip := "127.0.0." + strconv.Itoa(i)
		pull := sock(t, sockets.Pull)
		if _, err := pull.Listen("tcp://" + net.JoinHostPort(ip, port)); err != nil {
			t.Skipf("cannot listen on %s:%s: %v", ip, port, err)
		}
		ips, pulls = append(ips, ip), append(pulls, pull)
	}
	dns.SetIPs("workers.test", ips...)
	d := startDevice(t, []string{"ZMQKIT_DNS_SERVER=" + dns.Addr()}, "streamer", "--frontend", "tcp://127.0.0.1:0",
		"--backend", ">dns://workers.test:"+port)
	for _, p := range pulls {
		waitPeers(t, p, 1)
	}
	ctx := testutil.Context(t, 10*time.Second)
	push := sock(t, sockets.Push)
	require.NoError(t, push.Dial(d.eps["frontend"]))
	const n = 20
	for i := 0; i < n; i++ {
		require.NoError(t, push.Send(ctx, []byte(strconv.Itoa(i))))
	}
	for i, p := range pulls {
		for j := 0; j < n/2; j++ {
			_, err := p.Recv(ctx)
			require.NoError(t, err, "worker %d, message %d", i, j)
		}
	}
}
