package zmqk8s

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/sockets"
	"go.uber.org/goleak"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(cleanupRun{m})
}

// cleanupRun runs the tests, then removes what dockerBuild made.
type cleanupRun struct{ m *testing.M }

func (c cleanupRun) Run() int {
	code := c.m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	return code
}

const ns = "zmq"

// ep is one endpoint of a slice: an address and its conditions (nil:
// unknown, as the API allows).
type ep struct {
	addr               string
	ready, terminating *bool
}

func yes() *bool { b := true; return &b }
func no() *bool  { b := false; return &b }

func readyEPs(addrs ...string) []ep {
	out := make([]ep, len(addrs))
	for i, a := range addrs {
		out[i] = ep{addr: a, ready: yes()}
	}
	return out
}

// port is a named port of a slice.
type port struct {
	name  string
	num   int32
	proto corev1.Protocol
}

func slice(name, svc string, family discoveryv1.AddressType, ports []port, eps []ep) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: family,
	}
	for _, p := range ports {
		p := p
		proto := p.proto
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		s.Ports = append(s.Ports, discoveryv1.EndpointPort{Name: &p.name, Port: &p.num, Protocol: &proto})
	}
	for _, e := range eps {
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{e.addr},
			Conditions: discoveryv1.EndpointConditions{Ready: e.ready, Terminating: e.terminating}})
	}
	return s
}

var workPorts = []port{{name: "work", num: 5555}}

func ipv4s(from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, fmt.Sprintf("10.0.0.%d", i))
	}
	return out
}

func eps(port int, addrs ...string) []string {
	sorted := make([]netip.Addr, len(addrs))
	for i, a := range addrs {
		sorted[i] = netip.MustParseAddr(a)
	}
	slices.SortFunc(sorted, netip.Addr.Compare)
	out := make([]string, len(addrs))
	for i, a := range sorted {
		out[i] = "tcp://" + netip.AddrPortFrom(a, uint16(port)).String()
	}
	return out
}

// watching is one Watch running in the background, its reports on
// channels.
type watching struct {
	sets chan []string
	errs chan error
	done chan error
	// watched is closed when the informer has started its watch. client-go's
	// fake clientset, unlike an API server, does not replay what changed
	// between the list and the watch, so a test changes nothing before it.
	watched chan struct{}
	first   bool // the first set was read
}

func startWatch(t *testing.T, r *Resolver, target string) (*watching, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := &watching{sets: make(chan []string, 100), errs: make(chan error, 100), done: make(chan error, 1), watched: make(chan struct{})}
	if fc, ok := r.client.(*fake.Clientset); ok {
		var once sync.Once
		fc.PrependWatchReactor("*", func(k8stesting.Action) (bool, watch.Interface, error) {
			once.Do(func() { close(w.watched) })
			return false, nil, nil
		})
	} else {
		close(w.watched)
	}
	go func() {
		w.done <- r.Watch(ctx, target, make(chan struct{}), func(set []string, err error) {
			if err != nil {
				w.errs <- err
				return
			}
			require.NotNil(t, set, "a successful update is never nil")
			w.sets <- set
		})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-w.done:
		case <-time.After(10 * time.Second):
			t.Error("Watch did not return after its ctx ended")
		}
	})
	return w, cancel
}

// next is the next set reported; it fails after 10 s without one.
func (w *watching) next(t *testing.T) []string {
	t.Helper()
	select {
	case s := <-w.sets:
		if !w.first {
			// The first set comes from the list; the watch follows it.
			w.first = true
			select {
			case <-w.watched:
			case <-time.After(10 * time.Second):
				require.FailNow(t, "the informer started no watch within 10 s")
			}
		}
		return s
	case err := <-w.errs:
		require.FailNow(t, "unexpected error update", "%v", err)
	case <-time.After(10 * time.Second):
		require.FailNow(t, "no update within 10 s")
	}
	return nil
}

// expect reads the next set and checks it. Every change below is one API
// call, so each is one update: a set in between would be a defect.
func (w *watching) expect(t *testing.T, want []string, msg string) {
	t.Helper()
	if want == nil {
		want = []string{}
	}
	assert.Equal(t, want, w.next(t), msg)
}

func (w *watching) quiet(t *testing.T) {
	t.Helper()
	select {
	case s := <-w.sets:
		assert.Fail(t, "an update that changes nothing", "%v", s)
	default:
	}
}

func create(t *testing.T, c *fake.Clientset, s *discoveryv1.EndpointSlice) {
	t.Helper()
	_, err := c.DiscoveryV1().EndpointSlices(ns).Create(context.Background(), s, metav1.CreateOptions{})
	require.NoError(t, err)
}

func update(t *testing.T, c *fake.Clientset, s *discoveryv1.EndpointSlice) {
	t.Helper()
	_, err := c.DiscoveryV1().EndpointSlices(ns).Update(context.Background(), s, metav1.UpdateOptions{})
	require.NoError(t, err)
}

func remove(t *testing.T, c *fake.Clientset, name string) {
	t.Helper()
	require.NoError(t, c.DiscoveryV1().EndpointSlices(ns).Delete(context.Background(), name, metav1.DeleteOptions{}))
}

func TestInitialSetAndScaleUp(t *testing.T) {
	c := fake.NewClientset(slice("workers-a", "workers", discoveryv1.AddressTypeIPv4, workPorts, readyEPs(ipv4s(1, 3)...)))
	r := NewResolver(c)
	w, _ := startWatch(t, r, ns+"/workers:5555")
	w.expect(t, eps(5555, ipv4s(1, 3)...), "the three pods there from the start")

	// Scaled to 10: the controller fills the slice…
	update(t, c, slice("workers-a", "workers", discoveryv1.AddressTypeIPv4, workPorts, readyEPs(ipv4s(1, 10)...)))
	w.expect(t, eps(5555, ipv4s(1, 10)...), "scaled 3 → 10")
	// …and past a slice's size adds another.
	create(t, c, slice("workers-b", "workers", discoveryv1.AddressTypeIPv4, workPorts, readyEPs(ipv4s(11, 12)...)))
	w.expect(t, eps(5555, ipv4s(1, 12)...), "a second slice adds its endpoints")
	assert.Equal(t, uint64(3), r.Stats().Updates)
}

func TestEmptyServiceReportsEmptySet(t *testing.T) {
	c := fake.NewClientset()
	w, _ := startWatch(t, NewResolver(c), ns+"/nobody:5555")
	w.expect(t, []string{}, "no slice yet: an empty set, reported as soon as listed")
	create(t, c, slice("nobody-a", "nobody", discoveryv1.AddressTypeIPv4, workPorts, readyEPs("10.0.0.1")))
	w.expect(t, eps(5555, "10.0.0.1"), "the first pod")
}

func TestNotReadyAndTerminatingExcluded(t *testing.T) {
	c := fake.NewClientset(slice("w-a", "w", discoveryv1.AddressTypeIPv4, workPorts, readyEPs(ipv4s(1, 3)...)))
	w, _ := startWatch(t, NewResolver(c), ns+"/w:5555")
	w.expect(t, eps(5555, ipv4s(1, 3)...), "initial")

	update(t, c, slice("w-a", "w", discoveryv1.AddressTypeIPv4, workPorts, []ep{
		{addr: "10.0.0.1", ready: yes()}, {addr: "10.0.0.2", ready: no()}, {addr: "10.0.0.3", ready: yes()}}))
	w.expect(t, eps(5555, "10.0.0.1", "10.0.0.3"), "10.0.0.2 became not ready")

	update(t, c, slice("w-a", "w", discoveryv1.AddressTypeIPv4, workPorts, []ep{
		{addr: "10.0.0.1", ready: yes()}, {addr: "10.0.0.2", ready: no()},
		{addr: "10.0.0.3", ready: no(), terminating: yes()}, {addr: "10.0.0.4"}}))
	w.expect(t, eps(5555, "10.0.0.1", "10.0.0.4"), "10.0.0.3 terminating; 10.0.0.4's readiness unknown counts as ready")

	// A terminating endpoint that still reports ready (serving while it
	// drains) is not given new connections either.
	update(t, c, slice("w-a", "w", discoveryv1.AddressTypeIPv4, workPorts, []ep{
		{addr: "10.0.0.1", ready: yes(), terminating: yes()}, {addr: "10.0.0.2", ready: no()},
		{addr: "10.0.0.4"}}))
	w.expect(t, eps(5555, "10.0.0.4"), "10.0.0.1 terminating")

	// A change among endpoints that do not count reports nothing: the
	// next update is the next real change.
	update(t, c, slice("w-a", "w", discoveryv1.AddressTypeIPv4, workPorts, []ep{
		{addr: "10.0.0.4"}, {addr: "10.0.0.9", ready: no()}}))
	update(t, c, slice("w-a", "w", discoveryv1.AddressTypeIPv4, workPorts, []ep{
		{addr: "10.0.0.4"}, {addr: "10.0.0.9", ready: yes()}}))
	w.expect(t, eps(5555, "10.0.0.4", "10.0.0.9"), "10.0.0.9 became ready (no update for it while not ready)")
}

func TestSliceDeleted(t *testing.T) {
	c := fake.NewClientset(
		slice("w-a", "w", discoveryv1.AddressTypeIPv4, workPorts, readyEPs("10.0.0.1", "10.0.0.2")),
		slice("w-b", "w", discoveryv1.AddressTypeIPv4, workPorts, readyEPs("10.0.0.3")))
	w, _ := startWatch(t, NewResolver(c), ns+"/w:5555")
	w.expect(t, eps(5555, ipv4s(1, 3)...), "two slices")
	remove(t, c, "w-a")
	w.expect(t, eps(5555, "10.0.0.3"), "w-a deleted")
	remove(t, c, "w-b")
	w.expect(t, []string{}, "every slice deleted: an empty set, not an error")
}

func TestNamedPort(t *testing.T) {
	c := fake.NewClientset(
		slice("q-a", "queue", discoveryv1.AddressTypeIPv4,
			[]port{{name: "frontend", num: 5555}, {name: "backend", num: 5556}, {name: "metrics", num: 9100}},
			readyEPs("10.0.0.1", "10.0.0.2")),
		// Pods of another template, whose "backend" is another number.
		slice("q-b", "queue", discoveryv1.AddressTypeIPv4,
			[]port{{name: "backend", num: 6000}}, readyEPs("10.0.0.3")),
		// No "backend" here (a UDP port of that name does not count).
		slice("q-c", "queue", discoveryv1.AddressTypeIPv4,
			[]port{{name: "frontend", num: 5555}, {name: "backend", num: 5556, proto: corev1.ProtocolUDP}}, readyEPs("10.0.0.4")))
	w, _ := startWatch(t, NewResolver(c), ns+"/queue:backend")
	w.expect(t, []string{"tcp://10.0.0.1:5556", "tcp://10.0.0.2:5556", "tcp://10.0.0.3:6000"}, "each slice's own number for the name")

	w2, _ := startWatch(t, NewResolver(c), ns+"/queue:frontend")
	w2.expect(t, eps(5555, "10.0.0.1", "10.0.0.2", "10.0.0.4"), "frontend")
}

func TestIPv6AndDuplicates(t *testing.T) {
	c := fake.NewClientset(
		slice("d-v4", "dual", discoveryv1.AddressTypeIPv4, workPorts, readyEPs("10.0.0.1", "10.0.0.2")),
		slice("d-v6", "dual", discoveryv1.AddressTypeIPv6, workPorts, readyEPs("fd00::1", "FD00:0:0::2")),
		// The same pod in two slices (as while the controller moves it):
		// reported once.
		slice("d-v4-dup", "dual", discoveryv1.AddressTypeIPv4, workPorts, readyEPs("10.0.0.2")),
		// Malformed addresses, and an IPv6 address in an IPv4 slice, are
		// skipped.
		slice("d-bad", "dual", discoveryv1.AddressTypeIPv4, workPorts, readyEPs("not-an-ip", "fd00::3", "10.0.0.256")),
		// FQDN slices are not followed.
		slice("d-fqdn", "dual", discoveryv1.AddressTypeFQDN, workPorts, readyEPs("w.example.com")))
	w, _ := startWatch(t, NewResolver(c), ns+"/dual:work")
	w.expect(t, []string{"tcp://10.0.0.1:5555", "tcp://10.0.0.2:5555", "tcp://[fd00::1]:5555", "tcp://[fd00::2]:5555"},
		"IPv4 and IPv6, bracketed and canonical, each once")
}

func TestOtherServicesIgnored(t *testing.T) {
	c := fake.NewClientset(
		slice("a-1", "a", discoveryv1.AddressTypeIPv4, workPorts, readyEPs("10.0.0.1")),
		slice("b-1", "b", discoveryv1.AddressTypeIPv4, workPorts, readyEPs("10.0.0.2")))
	w, _ := startWatch(t, NewResolver(c), ns+"/a:5555")
	w.expect(t, eps(5555, "10.0.0.1"), "only a's slices")
	create(t, c, slice("b-2", "b", discoveryv1.AddressTypeIPv4, workPorts, readyEPs("10.0.0.3")))
	create(t, c, slice("a-2", "a", discoveryv1.AddressTypeIPv4, workPorts, readyEPs("10.0.0.4")))
	w.expect(t, eps(5555, "10.0.0.1", "10.0.0.4"), "b's new slice is not a's")
}

func TestCap(t *testing.T) {
	c := fake.NewClientset(slice("big-a", "big", discoveryv1.AddressTypeIPv4, workPorts, readyEPs(ipv4s(1, 9)...)))
	r := NewResolver(c, WithMaxEndpoints(4))
	w, _ := startWatch(t, r, ns+"/big:5555")
	w.expect(t, eps(5555, "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"), "cut to the first 4 in address order")
	assert.Equal(t, uint64(1), r.Stats().Truncated)
	// One more past the cap changes nothing that is reported.
	update(t, c, slice("big-a", "big", discoveryv1.AddressTypeIPv4, workPorts, readyEPs(ipv4s(1, 10)...)))
	update(t, c, slice("big-a", "big", discoveryv1.AddressTypeIPv4, workPorts, readyEPs(ipv4s(2, 10)...)))
	w.expect(t, eps(5555, "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"), "10.0.0.1 gone: the next one in")
	// Each set reported cut counts once.
	assert.Equal(t, uint64(2), r.Stats().Truncated)
	w.quiet(t)
}

func TestBadTargets(t *testing.T) {
	r := NewResolver(fake.NewClientset())
	for _, tgt := range []string{
		"", "svc:5555", "ns/svc", "ns/svc:", "ns/svc:0", "ns/svc:65536", "ns/svc:-1",
		"NS/svc:5555", "ns/Svc:5555", "ns/1svc:5555", "ns/svc:a_b", "ns/svc:thisnameiswaytoolong",
		"ns/sub/svc:5555", "ns/svc:5555:1",
	} {
		var got error
		err := r.Watch(context.Background(), tgt, nil, func(set []string, err error) {
			assert.Nil(t, set)
			got = err
		})
		assert.ErrorIs(t, err, sockets.ErrBadEndpoint, "%q", tgt)
		assert.Equal(t, err, got, "%q: reported to update too", tgt)
	}
	// With a default namespace a bare SERVICE:PORT is fine.
	c := fake.NewClientset(slice("w-a", "w", discoveryv1.AddressTypeIPv4, workPorts, readyEPs("10.0.0.1")))
	w, _ := startWatch(t, NewResolver(c, WithNamespace(ns)), "w:work")
	w.expect(t, eps(5555, "10.0.0.1"), "namespace from WithNamespace")
}

// A list the API server refuses (RBAC, say) is reported as an error, and
// the set follows once the informer's retry succeeds.
func TestListFailureReported(t *testing.T) {
	c := fake.NewClientset(slice("w-a", "w", discoveryv1.AddressTypeIPv4, workPorts, readyEPs("10.0.0.1")))
	refuse := make(chan bool, 1)
	refuse <- true
	c.PrependReactor("list", "endpointslices", func(k8stesting.Action) (bool, runtime.Object, error) {
		select {
		case <-refuse: // the first list only
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "discovery.k8s.io", Resource: "endpointslices"}, "", errors.New("RBAC: no list"))
		default:
			return false, nil, nil
		}
	})
	// Whatever client-go would print goes to the resolver's logger
	// instead: stderr stays empty.
	stderr := captureStderr(t)
	var logs strings.Builder
	r := NewResolver(c, WithLogger(slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, nil))))
	w, _ := startWatch(t, r, ns+"/w:5555")
	select {
	case err := <-w.errs:
		assert.True(t, apierrors.IsForbidden(err), "%v", err)
		assert.Contains(t, err.Error(), "k8s://zmq/w:5555")
	case s := <-w.sets:
		require.FailNow(t, "a set before the refusal was reported", "%v", s)
	case <-time.After(10 * time.Second):
		require.FailNow(t, "the refused list was not reported")
	}
	w.expect(t, eps(5555, "10.0.0.1"), "after the retry")
	assert.Equal(t, uint64(1), r.Stats().Errors)
	assert.Empty(t, stderr(), "nothing on stderr")
}

// captureStderr points os.Stderr at a pipe until the returned function,
// which gives what was written, or the test's end.
func captureStderr(t *testing.T) func() string {
	t.Helper()
	rd, wr, err := os.Pipe()
	require.NoError(t, err)
	orig := os.Stderr
	os.Stderr = wr
	out := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(rd)
		out <- string(b)
	}()
	var got *string
	stop := func() string {
		if got == nil {
			os.Stderr = orig
			wr.Close()
			s := <-out
			rd.Close()
			got = &s
		}
		return *got
	}
	t.Cleanup(func() { stop() })
	return stop
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// Cancelling ctx ends Watch, and every goroutine the informer started.
func TestCancelEndsWatch(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	c := fake.NewClientset(slice("w-a", "w", discoveryv1.AddressTypeIPv4, workPorts, readyEPs("10.0.0.1")))
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan []string, 10)
	done := make(chan error, 1)
	go func() {
		done <- NewResolver(c).Watch(ctx, ns+"/w:5555", nil, func(set []string, _ error) { got <- set })
	}()
	select {
	case s := <-got:
		assert.Equal(t, eps(5555, "10.0.0.1"), s)
	case <-time.After(10 * time.Second):
		require.FailNow(t, "no first set")
	}
	cancel()
	select {
	case err := <-done:
		assert.NoError(t, err, "ctx ending is the normal end")
	case <-time.After(10 * time.Second):
		require.FailNow(t, "Watch still running 10 s after its ctx ended")
	}
}

// Parsing a target never panics, and what it accepts prints back as the
// canonical NAMESPACE/SERVICE:PORT that parses to the same target.
func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{"zmq/workers:5555", "zmq/queue:backend", "svc:1", "a/b:65535", "ns/svc:0", "//:", "a/b:c:d", "ns/svc:09"} {
		f.Add(s)
	}
	r := NewResolver(nil, WithNamespace("default"))
	f.Fuzz(func(t *testing.T, s string) {
		tg, err := r.parse(s)
		if err != nil {
			require.ErrorIs(t, err, sockets.ErrBadEndpoint)
			return
		}
		again, err := r.parse(tg.String())
		require.NoError(t, err, "%q → %q", s, tg.String())
		require.Equal(t, tg, again)
		require.True(t, tg.port > 0 || tg.portName != "")
	})
}
