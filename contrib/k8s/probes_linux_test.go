//go:build linux

package zmqk8s

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// netns is a network namespace of the test's own, with only a loopback
// interface: a device started in it binds its manifest's ports as written
// (tcp://*:5559, :9100) without touching the host's, and two devices never
// collide. One goroutine, locked to a thread that entered the namespace,
// runs what must happen inside: starting processes and dialing.
type netns struct {
	fns  chan func()
	done chan struct{}
}

func newNetns(t *testing.T) *netns {
	t.Helper()
	n := &netns{fns: make(chan func()), done: make(chan struct{})}
	errc := make(chan error, 1)
	go func() {
		defer close(n.done)
		// Never unlocked: the thread, changed, ends with the goroutine.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		if err := loopbackUp(); err != nil {
			errc <- err
			return
		}
		errc <- nil
		for f := range n.fns {
			f()
		}
	}()
	if err := <-errc; err != nil {
		<-n.done
		msg := "cannot make a network namespace (root needed): " + err.Error()
		if interop {
			require.FailNow(t, msg)
		}
		t.Skip(msg + " (-tags interop makes this a failure)")
	}
	t.Cleanup(func() { close(n.fns); <-n.done })
	return n
}

func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}

// do runs f inside the namespace and waits for it.
func (n *netns) do(f func()) {
	done := make(chan struct{})
	n.fns <- func() { defer close(done); f() }
	<-done
}

// client is an HTTP client whose connections are made inside n.
func (n *netns) client(t *testing.T) *http.Client {
	tr := &http.Transport{DisableKeepAlives: true, DialContext: func(ctx context.Context, network, addr string) (c net.Conn, err error) {
		n.do(func() { c, err = (&net.Dialer{}).DialContext(ctx, network, addr) })
		return c, err
	}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 5 * time.Second}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type process struct {
	cmd    *exec.Cmd
	stderr *lockedBuffer
	done   chan struct{}
}

// start runs bin with args and env (nothing else from the test's
// environment) inside n; the test's end kills it.
func (n *netns) start(t *testing.T, bin string, args []string, env []string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(bin, args...), stderr: &lockedBuffer{}, done: make(chan struct{})}
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = io.Discard, p.stderr
	var err error
	n.do(func() { err = p.cmd.Start() })
	require.NoError(t, err)
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { _ = p.cmd.Process.Kill(); <-p.done })
	return p
}

// getUntil GETs url until check accepts the answer, for 15 s.
func getUntil(t *testing.T, c *http.Client, p *process, url string, check func(code int, body string) bool, what string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	last := "no answer"
	for {
		if resp, err := c.Get(url); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if check(resp.StatusCode, string(b)) {
				return
			}
			last = strconv.Itoa(resp.StatusCode) + " " + strings.TrimSpace(string(b))
		} else {
			last = err.Error()
		}
		select {
		case <-p.done:
			require.FailNow(t, "the device exited", "%s; stderr:\n%s", what, p.stderr.String())
		case <-tick.C:
		}
		require.True(t, time.Now().Before(deadline), "%s: never; last %s; stderr:\n%s", what, last, p.stderr.String())
	}
}

// peerFor is the zmqkit command line of a peer for a device's side, to
// meet --ready-peers: it connects to ep.
func peerFor(device, side, ep string) []string {
	typ := map[string]string{"queue/backend": "rep", "queue/frontend": "dealer", "forwarder/backend": "sub",
		"streamer/backend": "pull"}[device+"/"+side]
	if typ == "" {
		return nil
	}
	return []string{"recv", "--type", typ, "--connect", ep}
}

// Every device of deploy/ runs, from the binary the Dockerfile builds, with
// its container's args and env exactly as written, and answers its probes
// where the manifest says: /healthz 200 at once; /readyz 503 with the
// reason while --ready-peers is not met, 200 once peers are connected;
// the scrape annotation's port and path serve the device's metrics; and
// SIGTERM ends it with status 0 within its grace period.
func TestManifestProbes(t *testing.T) {
	bin := dockerBuild(t)
	m := loadManifests(t)
	var devices int
	for _, d := range m.deployments {
		for _, c := range d.Spec.Template.Spec.Containers {
			if !isZmqkit(c) || len(c.Args) == 0 || !slices.Contains(deviceCommands, c.Args[0]) {
				continue
			}
			devices++
			t.Run(d.Name, func(t *testing.T) { probeDevice(t, bin, d, c) })
		}
	}
	assert.Equal(t, 2, devices, "the forwarder and the queue")
}

func probeDevice(t *testing.T, bin string, d *appsv1.Deployment, c corev1.Container) {
	n := newNetns(t)
	var env []string
	for _, e := range c.Env {
		require.Nil(t, e.ValueFrom, "%s: env %s from a reference: the test cannot run it", d.Name, e.Name)
		env = append(env, e.Name+"="+e.Value)
	}
	p := n.start(t, bin, c.Args, env)
	hc := n.client(t)
	url := func(port intstr.IntOrString, path string) string {
		num, ok := containerPort(c, port)
		require.True(t, ok)
		return "http://127.0.0.1:" + strconv.Itoa(int(num)) + path
	}
	live := c.LivenessProbe.HTTPGet
	getUntil(t, hc, p, url(live.Port, live.Path), func(code int, _ string) bool { return code == http.StatusOK },
		"liveness "+live.Path+" 200")

	ready := c.ReadinessProbe.HTTPGet
	readyURL := url(ready.Port, ready.Path)
	if rp := containerFlag(c, "ready-peers"); rp != "" {
		getUntil(t, hc, p, readyURL, func(code int, body string) bool {
			return code == http.StatusServiceUnavailable && strings.Contains(body, "peers connected")
		}, "readiness 503 until --ready-peers "+rp+" is met")
		for _, part := range strings.Split(rp, ",") {
			side, num, ok := strings.Cut(part, "=")
			require.True(t, ok, "%s: the test meets --ready-peers per side only (SIDE=N)", d.Name)
			count, err := strconv.Atoi(num)
			require.NoError(t, err)
			bind := containerFlag(c, side)
			_, port, ok := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(bind, "@"), "tcp://"), ":")
			require.True(t, ok, "%s: --%s %q", d.Name, side, bind)
			args := peerFor(c.Args[0], side, "tcp://127.0.0.1:"+port)
			require.NotNil(t, args, "%s: the test knows no peer for the %s of a %s", d.Name, side, c.Args[0])
			for range count {
				n.start(t, bin, args, nil)
			}
		}
	}
	getUntil(t, hc, p, readyURL, func(code int, body string) bool { return code == http.StatusOK && body == "ready\n" },
		"readiness "+ready.Path+" 200")

	a := d.Spec.Template.Annotations
	getUntil(t, hc, p, "http://127.0.0.1:"+a["prometheus.io/port"]+a["prometheus.io/path"], func(code int, body string) bool {
		return code == http.StatusOK && strings.Contains(body, `zmqkit_device_messages_total{device="`+c.Args[0]+`"`)
	}, "the scrape annotation's port and path serve the device's metrics")

	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	grace := time.Duration(*d.Spec.Template.Spec.TerminationGracePeriodSeconds) * time.Second
	select {
	case <-p.done:
		assert.Equal(t, 0, p.cmd.ProcessState.ExitCode(), "stderr:\n%s", p.stderr.String())
	case <-time.After(grace):
		assert.Fail(t, "still running after the grace period, when the kubelet would kill it", "stderr:\n%s", p.stderr.String())
	}
}
