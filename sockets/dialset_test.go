package sockets_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/internal/testutil"
	"github.com/zmqkit/zmqkit/internal/testutil/dnstest"
	"github.com/zmqkit/zmqkit/sockets"
)

// evlog records every event of a socket, for waiting on one.
type evlog struct {
	mu   sync.Mutex
	evs  []sockets.Event
	more chan struct{}
}

func watchEvents(s *sockets.Socket) *evlog {
	l := &evlog{more: make(chan struct{})}
	go func() {
		for ev := range s.Events() {
			l.mu.Lock()
			l.evs = append(l.evs, ev)
			close(l.more)
			l.more = make(chan struct{})
			l.mu.Unlock()
		}
	}()
	return l
}

// wait returns the n-th (from 1) event that matches, waiting up to d.
func (l *evlog) wait(t *testing.T, d time.Duration, n int, what string, match func(sockets.Event) bool) sockets.Event {
	t.Helper()
	deadline := time.After(d)
	for {
		l.mu.Lock()
		k := 0
		for _, ev := range l.evs {
			if match(ev) {
				if k++; k == n {
					l.mu.Unlock()
					return ev
				}
			}
		}
		more := l.more
		l.mu.Unlock()
		select {
		case <-more:
		case <-deadline:
			t.Fatalf("no %s (#%d) within %v; events: %v", what, n, d, l.all())
		}
	}
}

func (l *evlog) count(match func(sockets.Event) bool) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, ev := range l.evs {
		if match(ev) {
			n++
		}
	}
	return n
}

func (l *evlog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	evs := l.evs
	if len(evs) > 40 {
		evs = evs[len(evs)-40:] // the latest
	}
	for _, ev := range evs {
		out = append(out, fmt.Sprintf("%v %s %s %v", ev.Kind, ev.Endpoint, ev.Remote, ev.Err))
	}
	return out
}

func kind(k sockets.EventKind) func(sockets.Event) bool {
	return func(ev sockets.Event) bool { return ev.Kind == k }
}

func kindFor(k sockets.EventKind, remote string) func(sockets.Event) bool {
	return func(ev sockets.Event) bool { return ev.Kind == k && ev.Remote == remote }
}

// loopbacks returns n loopback addresses (127.0.0.1, .2, …) that can all
// listen on one tcp port, and that port: what a name with n A records
// needs on one machine. Linux routes all of 127/8 to lo; elsewhere the
// test skips.
func loopbacks(t *testing.T, n int) ([]string, string) {
	t.Helper()
	for try := 0; try < 20; try++ {
		_, port, _ := net.SplitHostPort(testutil.FreePort(t))
		ok := true
		for i := 1; i <= n && ok; i++ {
			ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0."+strconv.Itoa(i), port))
			if err != nil {
				ok = false
				if i > 1 && !errors.Is(err, syscall.EADDRINUSE) {
					t.Skipf("cannot listen on 127.0.0.%d: %v", i, err)
				}
				break
			}
			_ = ln.Close()
		}
		if ok {
			ips := make([]string, n)
			for i := range ips {
				ips[i] = "127.0.0." + strconv.Itoa(i+1)
			}
			return ips, port
		}
	}
	t.Fatal("no port free on every loopback address")
	return nil, ""
}

func newSock(t *testing.T, typ sockets.Type, opts ...sockets.Option) *sockets.Socket {
	t.Helper()
	s, err := sockets.New(typ, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func startDNS(t *testing.T) *dnstest.Server {
	t.Helper()
	srv, err := dnstest.Start("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	return srv
}

func recvN(t *testing.T, s *sockets.Socket, _ context.Context) []string {
	var got []string
	for {
		m, err := s.TryRecv()
		if err != nil {
			return got
		}
		got = append(got, string(m[len(m)-1]))
	}
}

// A PUSH dialing dns://NAME:PORT deals to every address of the name, and
// follows the name as addresses come and go.
func TestDialSetDNSBalancesAndFollows(t *testing.T) {
	ips, port := loopbacks(t, 4)
	dns := startDNS(t)
	dns.SetIPs("workers.test", ips[:3]...)

	pulls := make([]*sockets.Socket, 4)
	for i := range pulls {
		pulls[i] = newSock(t, sockets.Pull)
		_, err := pulls[i].Listen("tcp://" + net.JoinHostPort(ips[i], port))
		require.NoError(t, err)
	}
	push := newSock(t, sockets.Push, sockets.WithDNSServer(dns.Addr()), sockets.WithResolveInterval(100*time.Millisecond))
	log := watchEvents(push)
	set := "dns://workers.test:" + port
	require.NoError(t, push.Dial(set))
	for i := 1; i <= 3; i++ {
		log.wait(t, 5*time.Second, i, "connected", kind(sockets.EventConnected))
	}
	ev := log.wait(t, time.Second, 1, "member-added", kind(sockets.EventMemberAdded))
	assert.Equal(t, set, ev.Endpoint)

	ctx := testutil.Context(t, 10*time.Second)
	for i := 0; i < 30; i++ {
		require.NoError(t, push.Send(ctx, []byte(strconv.Itoa(i))))
	}
	for i := 0; i < 3; i++ {
		for j := 0; j < 10; j++ {
			_, err := pulls[i].Recv(ctx)
			require.NoError(t, err, "pull %d, message %d", i, j)
		}
	}
	assert.EqualValues(t, 3, push.Stats().Members)

	// A fourth address joins within a re-resolve.
	fourth := "tcp://" + net.JoinHostPort(ips[3], port)
	dns.SetIPs("workers.test", ips...)
	log.wait(t, 5*time.Second, 1, "the fourth member", kindFor(sockets.EventMemberAdded, fourth))
	log.wait(t, 5*time.Second, 4, "connected", kind(sockets.EventConnected))
	for i := 0; i < 40; i++ {
		require.NoError(t, push.Send(ctx, []byte("x")))
	}
	m, err := pulls[3].Recv(ctx)
	require.NoError(t, err)
	assert.Equal(t, "x", string(m[0]))

	// One leaves.
	first := "tcp://" + net.JoinHostPort(ips[0], port)
	dns.SetIPs("workers.test", ips[1:]...)
	log.wait(t, 5*time.Second, 1, "the first member removed", kindFor(sockets.EventMemberRemoved, first))
	testutil.Eventually(t, 5*time.Second, func() bool { return push.Stats().Members == 3 }, "3 members")
}

// A lookup that fails — the server silent, the name gone, no address —
// drops no member, and says so.
func TestDialSetFailedLookupKeepsMembers(t *testing.T) {
	ips, port := loopbacks(t, 2)
	dns := startDNS(t)
	dns.SetIPs("svc.test", ips...)
	for _, ip := range ips {
		pull := newSock(t, sockets.Pull)
		_, err := pull.Listen("tcp://" + net.JoinHostPort(ip, port))
		require.NoError(t, err)
	}
	push := newSock(t, sockets.Push, sockets.WithDNSServer(dns.Addr()),
		sockets.WithResolveInterval(50*time.Millisecond), sockets.WithResolveTimeout(200*time.Millisecond))
	log := watchEvents(push)
	require.NoError(t, push.Dial("dns://svc.test:"+port))
	log.wait(t, 5*time.Second, 2, "connected", kind(sockets.EventConnected))

	steps := []struct {
		name  string
		setup func()
		check func(error) bool
	}{
		{"silent server", func() { dns.Silence(true) }, func(err error) bool {
			var de *net.DNSError
			return errors.As(err, &de) && (de.IsTimeout || errors.Is(err, context.DeadlineExceeded))
		}},
		{"name gone", func() { dns.Silence(false); dns.Remove("svc.test") }, func(err error) bool {
			var de *net.DNSError
			return errors.As(err, &de) && de.IsNotFound
		}},
		{"no address", func() { dns.SetIPs("svc.test") }, func(err error) bool {
			var de *net.DNSError
			return errors.As(err, &de)
		}},
	}
	for _, st := range steps {
		n := log.count(kind(sockets.EventResolveError))
		st.setup()
		ev := log.wait(t, 5*time.Second, n+1, st.name, kind(sockets.EventResolveError))
		assert.True(t, st.check(ev.Err), "%s: %v", st.name, ev.Err)
		assert.EqualValues(t, 2, push.Stats().Members, st.name)
		assert.Zero(t, log.count(kind(sockets.EventMemberRemoved)), st.name)
	}
	assert.Positive(t, push.Stats().ResolveErrors)
}

// srv://NAME dials each target at its record's port; a target that does
// not resolve is reported, and the others are members.
func TestDialSetSRV(t *testing.T) {
	dns := startDNS(t)
	var recs []dnstest.SRV
	var want []string
	for i := 0; i < 2; i++ {
		pull := newSock(t, sockets.Pull)
		ep, err := pull.Listen("tcp://127.0.0.1:0")
		require.NoError(t, err)
		_, p, _ := net.SplitHostPort(ep[len("tcp://"):])
		n, _ := strconv.Atoi(p)
		host := fmt.Sprintf("w%d.svc.test", i)
		dns.SetIPs(host, "127.0.0.1")
		recs = append(recs, dnstest.SRV{Priority: 10, Weight: 50, Port: uint16(n), Target: host + "."})
		want = append(want, ep)
	}
	recs = append(recs, dnstest.SRV{Port: 9, Target: "nowhere.svc.test."})
	dns.SetSRV("_zmq._tcp.svc.test", recs...)

	dealer := newSock(t, sockets.Push, sockets.WithDNSServer(dns.Addr()))
	log := watchEvents(dealer)
	require.NoError(t, dealer.Dial("srv://_zmq._tcp.svc.test"))
	ev := log.wait(t, 5*time.Second, 1, "resolve error", kind(sockets.EventResolveError))
	assert.ErrorIs(t, ev.Err, sockets.ErrSRVTarget)
	assert.Contains(t, ev.Err.Error(), "nowhere.svc.test")
	for _, ep := range want {
		log.wait(t, 5*time.Second, 1, "member "+ep, kindFor(sockets.EventMemberAdded, ep))
	}
	log.wait(t, 5*time.Second, 2, "connected", kind(sockets.EventConnected))
	assert.EqualValues(t, 2, dealer.Stats().Members)
}

// A set larger than the cap keeps the cap's worth and counts the rest; a
// set with duplicates dials each endpoint once.
func TestDialSetCapAndDuplicates(t *testing.T) {
	eps := make([]string, 0, 10_000)
	for i := 0; i < 10_000; i++ {
		eps = append(eps, fmt.Sprintf("tcp://127.0.%d.%d:%d", 1+i/60000, 1+i%250, 1+i/250))
	}
	r := sockets.NewStaticResolver(eps...)
	// The members will not connect: keep their retries rare.
	// Over a thousand members make thousands of events: the counters tell
	// what the (overflowing) event channel may not.
	push := newSock(t, sockets.Push, sockets.WithResolver("static", r), sockets.WithReconnect(time.Minute, 0),
		sockets.WithLinger(0))
	log := watchEvents(push)
	require.NoError(t, push.Dial("static://anything"))
	ev := log.wait(t, 10*time.Second, 1, "over the cap", kind(sockets.EventResolveError))
	assert.ErrorIs(t, ev.Err, sockets.ErrTooManyMembers)
	testutil.Eventually(t, 10*time.Second, func() bool { return push.Stats().Members == sockets.DefaultMaxMembers }, "the cap's worth of members")
	st := push.Stats()
	assert.EqualValues(t, 10_000-sockets.DefaultMaxMembers, st.MembersOverCap)

	// The members it has stay when the set changes and is still too big.
	kept := eps[:sockets.DefaultMaxMembers]
	r.Set(append(slices.Clone(eps[5000:]), kept...)...)
	testutil.Eventually(t, 10*time.Second, func() bool { return push.Stats().ResolveErrors == 2 }, "over the cap again")
	st = push.Stats()
	assert.Zero(t, st.MembersRemoved, "no member churned")
	assert.EqualValues(t, sockets.DefaultMaxMembers, st.MembersAdded)
	assert.EqualValues(t, 10_000-sockets.DefaultMaxMembers+5000, st.MembersOverCap)

	// Duplicates, spelled alike or not.
	pull := newSock(t, sockets.Pull)
	ep, err := pull.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	push2 := newSock(t, sockets.Push, sockets.WithMaxMembers(1)) // duplicates do not count against it
	log2 := watchEvents(push2)
	require.NoError(t, push2.Dial("list://"+ep[len("tcp://"):]+","+ep+", "+ep[len("tcp://"):]))
	log2.wait(t, 5*time.Second, 1, "connected", kind(sockets.EventConnected))
	assert.EqualValues(t, 1, push2.Stats().Members)
	assert.Equal(t, 1, log2.count(kind(sockets.EventMemberAdded)))
	assert.Zero(t, push2.Stats().MembersOverCap)
	assert.Zero(t, log2.count(kind(sockets.EventResolveError)))
}

// A DNS answer too long for UDP comes over TCP; the cap applies to it too.
func TestDialSetDNSLargeAnswer(t *testing.T) {
	dns := startDNS(t)
	ips := make([]string, 3000)
	for i := range ips {
		ips[i] = fmt.Sprintf("10.%d.%d.%d", i/65536, (i/256)%256, i%256)
	}
	dns.SetIPs("big.test", ips...)
	push := newSock(t, sockets.Push, sockets.WithDNSServer(dns.Addr()), sockets.WithMaxMembers(100),
		sockets.WithReconnect(time.Minute, 0), sockets.WithConnectTimeout(time.Millisecond), sockets.WithLinger(0))
	log := watchEvents(push)
	require.NoError(t, push.Dial("dns://big.test:5555"))
	ev := log.wait(t, 10*time.Second, 1, "over the cap", kind(sockets.EventResolveError))
	assert.ErrorIs(t, ev.Err, sockets.ErrTooManyMembers)
	assert.Contains(t, ev.Err.Error(), "3000 listed")
	testutil.Eventually(t, 5*time.Second, func() bool { return push.Stats().Members == 100 }, "100 members")
	assert.EqualValues(t, 2900, push.Stats().MembersOverCap)
}

// A member that leaves loses nothing the PUSH queued for it: what it could
// not take goes to the members that stay.
func TestDialSetRemovalLosesNothing(t *testing.T) {
	pull := newSock(t, sockets.Pull)
	up, err := pull.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	down := "tcp://" + testutil.FreePort(t) // never there
	r := sockets.NewStaticResolver(up, down)
	push := newSock(t, sockets.Push, sockets.WithResolver("x", r))
	log := watchEvents(push)
	require.NoError(t, push.Dial("x://pool"))
	log.wait(t, 5*time.Second, 1, "connected", kind(sockets.EventConnected))
	log.wait(t, 5*time.Second, 2, "members", kind(sockets.EventMemberAdded))

	ctx := testutil.Context(t, 10*time.Second)
	const n = 20
	for i := 0; i < n; i++ {
		require.NoError(t, push.Send(ctx, []byte(strconv.Itoa(i))))
	}
	r.Set(up)
	log.wait(t, 5*time.Second, 1, "removed", kindFor(sockets.EventMemberRemoved, down))
	got := map[string]bool{}
	for len(got) < n {
		m, err := pull.Recv(ctx)
		require.NoError(t, err, "have %d of %d", len(got), n)
		got[string(m[0])] = true
	}
}

// A SUB dialing a set hears every member, one that joins later included
// (it is sent the subscriptions); a PUB dialing a set sends to every member.
func TestDialSetSubAndPub(t *testing.T) {
	var pubEps []string
	var pubs []*sockets.Socket
	for i := 0; i < 3; i++ {
		pub := newSock(t, sockets.Pub)
		ep, err := pub.Listen("tcp://127.0.0.1:0")
		require.NoError(t, err)
		pubs, pubEps = append(pubs, pub), append(pubEps, ep)
	}
	r := sockets.NewStaticResolver(pubEps[:2]...)
	sub := newSock(t, sockets.Sub, sockets.WithResolver("pubs", r), sockets.WithSubscribe("t"))
	log := watchEvents(sub)
	require.NoError(t, sub.Dial("pubs://all"))
	log.wait(t, 5*time.Second, 2, "connected", kind(sockets.EventConnected))
	r.Set(pubEps...)
	log.wait(t, 5*time.Second, 3, "connected", kind(sockets.EventConnected))

	ctx := testutil.Context(t, 10*time.Second)
	heard := map[string]bool{}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for len(heard) < 3 {
		for i, p := range pubs {
			require.NoError(t, p.Send(ctx, []byte("t"), []byte(strconv.Itoa(i))))
			require.NoError(t, p.Send(ctx, []byte("other"), []byte("no")))
		}
		for _, m := range recvN(t, sub, ctx) {
			require.NotEqual(t, "no", m, "a message not subscribed to")
			heard[m] = true
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("heard only %v", heard)
		}
	}

	// PUB → a set of SUBs.
	var subEps []string
	var subs []*sockets.Socket
	for i := 0; i < 3; i++ {
		s := newSock(t, sockets.Sub, sockets.WithSubscribe(""))
		ep, err := s.Listen("tcp://127.0.0.1:0")
		require.NoError(t, err)
		subs, subEps = append(subs, s), append(subEps, ep)
	}
	pub := newSock(t, sockets.Pub)
	require.NoError(t, pub.Dial("list://"+subEps[0]+","+subEps[1]+","+subEps[2]))
	got := make([]bool, 3)
	for done := 0; done < 3; {
		require.NoError(t, pub.Send(ctx, []byte("hello")))
		for i, s := range subs {
			if !got[i] && len(recvN(t, s, ctx)) > 0 {
				got[i] = true
				done++
			}
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("reached only %v", got)
		}
	}
}

// A ROUTER dialing a set addresses each member by its endpoint.
func TestDialSetRouterAddressesMembers(t *testing.T) {
	var eps []string
	var dealers []*sockets.Socket
	for i := 0; i < 2; i++ {
		d := newSock(t, sockets.Dealer, sockets.WithRoutingID([]byte(fmt.Sprintf("announced-%d", i))))
		ep, err := d.Listen("tcp://127.0.0.1:0")
		require.NoError(t, err)
		dealers, eps = append(dealers, d), append(eps, ep)
	}
	router := newSock(t, sockets.Router, sockets.WithRouterMandatory(true))
	log := watchEvents(router)
	require.NoError(t, router.Dial("list://"+eps[0]+","+eps[1]))
	ctx := testutil.Context(t, 10*time.Second)
	for i, ep := range eps {
		ev := log.wait(t, 5*time.Second, 1, "member", kindFor(sockets.EventMemberAdded, ep))
		// Addressable at once, by the endpoint the event names.
		require.NoError(t, router.Send(ctx, []byte(ev.Remote), []byte("for "+strconv.Itoa(i))))
	}
	for i, d := range dealers {
		m, err := d.Recv(ctx)
		require.NoError(t, err)
		assert.Equal(t, "for "+strconv.Itoa(i), string(m[0]))
		require.NoError(t, d.Send(ctx, []byte("back")))
		m, err = router.Recv(ctx)
		require.NoError(t, err)
		assert.Equal(t, eps[i], string(m[0]), "the reply's routing id is the member's endpoint")
	}
	require.ErrorIs(t, router.DialRouted("list://"+eps[0], []byte("x")), sockets.ErrNotSupported)
}

// Disconnect of the set's endpoint ends every member; the endpoints are
// checked before anything starts.
func TestDialSetDisconnectAndBadEndpoints(t *testing.T) {
	var eps []string
	for i := 0; i < 3; i++ {
		pull := newSock(t, sockets.Pull)
		ep, err := pull.Listen("tcp://127.0.0.1:0")
		require.NoError(t, err)
		eps = append(eps, ep)
	}
	push := newSock(t, sockets.Push)
	log := watchEvents(push)
	set := "list://" + eps[0] + "," + eps[1] + "," + eps[2]
	require.NoError(t, push.Dial(set))
	log.wait(t, 5*time.Second, 3, "connected", kind(sockets.EventConnected))
	require.ErrorIs(t, push.Dial(set), sockets.ErrBadEndpoint, "twice")
	require.ErrorIs(t, push.Dial(eps[0]), sockets.ErrBadEndpoint, "a member, alone")
	require.NoError(t, push.Disconnect(set))
	log.wait(t, 5*time.Second, 3, "removed", kind(sockets.EventMemberRemoved))
	testutil.Eventually(t, 5*time.Second, func() bool { return push.Stats().Peers == 0 }, "no pipes")
	assert.Zero(t, push.Stats().Members)
	require.ErrorIs(t, push.Disconnect(set), sockets.ErrBadEndpoint)
	require.NoError(t, push.Dial(eps[0]), "free again")

	for _, ep := range []string{"dns://noport", "dns://:5555", "dns://a:0", "dns://a:x", "srv://", "srv://a:1", "list://a", "list://tcp://*:1", "nope://x"} {
		assert.ErrorIs(t, push.Dial(ep), sockets.ErrBadEndpoint, ep)
		assert.ErrorIs(t, sockets.CheckEndpoint(ep, false), sockets.ErrBadEndpoint, ep)
	}
	for _, ep := range []string{"dns://a.b:1", "srv://_x._tcp.a", "list://a:1,ipc:///tmp/x"} {
		assert.NoError(t, sockets.CheckEndpoint(ep, false), ep)
		assert.ErrorIs(t, sockets.CheckEndpoint(ep, true), sockets.ErrBadEndpoint, ep)
	}
	_, err := sockets.NewPush(sockets.WithResolver("tcp", sockets.NewStaticResolver()))
	assert.ErrorIs(t, err, sockets.ErrBadOption)
}

// A member whose connection fails makes the resolver look again, without
// waiting for the interval.
func TestDialSetMemberFailureRefreshes(t *testing.T) {
	dns := startDNS(t)
	pull := newSock(t, sockets.Pull)
	ep, err := pull.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	_, port, _ := net.SplitHostPort(ep[len("tcp://"):])
	dns.SetIPs("one.test", "127.0.0.1")
	push := newSock(t, sockets.Push, sockets.WithDNSServer(dns.Addr()), sockets.WithResolveInterval(time.Hour))
	log := watchEvents(push)
	require.NoError(t, push.Dial("dns://one.test:"+port))
	log.wait(t, 5*time.Second, 1, "connected", kind(sockets.EventConnected))
	before := dns.Queries()
	require.NoError(t, pull.Close())
	testutil.Eventually(t, 5*time.Second, func() bool { return dns.Queries() > before }, "a lookup after the member failed")
}

// With WithImmediate a member's pipe is its connection's: letting the
// member go ends that connection too, and nothing more goes to it.
func TestDialSetImmediateRemoval(t *testing.T) {
	var eps []string
	var pulls []*sockets.Socket
	for i := 0; i < 2; i++ {
		pull := newSock(t, sockets.Pull)
		ep, err := pull.Listen("tcp://127.0.0.1:0")
		require.NoError(t, err)
		eps, pulls = append(eps, ep), append(pulls, pull)
	}
	r := sockets.NewStaticResolver(eps...)
	push := newSock(t, sockets.Push, sockets.WithImmediate(true), sockets.WithResolver("x", r))
	log := watchEvents(push)
	require.NoError(t, push.Dial("x://pool"))
	log.wait(t, 5*time.Second, 2, "connected", kind(sockets.EventConnected))
	r.Set(eps[0])
	log.wait(t, 5*time.Second, 1, "removed", kindFor(sockets.EventMemberRemoved, eps[1]))
	testutil.Eventually(t, 5*time.Second, func() bool { return push.Stats().Peers == 1 }, "one pipe left")
	ctx := testutil.Context(t, 5*time.Second)
	for i := 0; i < 10; i++ {
		require.NoError(t, push.Send(ctx, []byte("x")))
	}
	for i := 0; i < 10; i++ {
		_, err := pulls[0].Recv(ctx)
		require.NoError(t, err)
	}
	_, err := pulls[1].TryRecv()
	assert.ErrorIs(t, err, sockets.ErrWouldBlock)
}

// resolverFunc is a Resolver made of a function.
type resolverFunc func(ctx context.Context, target string, refresh <-chan struct{}, update func([]string, error)) error

func (f resolverFunc) Watch(ctx context.Context, target string, refresh <-chan struct{}, update func([]string, error)) error {
	return f(ctx, target, refresh, update)
}

// A set usable in part is taken and its problem reported; a Watch that
// ends early is reported, and the set keeps its members.
func TestDialSetResolverReports(t *testing.T) {
	pull := newSock(t, sockets.Pull)
	ep, err := pull.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	partial := errors.New("one of two names did not resolve")
	broken := errors.New("registry unreachable")
	r := resolverFunc(func(ctx context.Context, target string, _ <-chan struct{}, update func([]string, error)) error {
		update([]string{ep, "udp://nope:1"}, partial)
		return broken
	})
	push := newSock(t, sockets.Push, sockets.WithResolver("reg", r))
	log := watchEvents(push)
	require.NoError(t, push.Dial("reg://svc"))
	ev := log.wait(t, 5*time.Second, 1, "the partial error", kind(sockets.EventResolveError))
	assert.ErrorIs(t, ev.Err, partial)
	ev = log.wait(t, 5*time.Second, 2, "the bad endpoint", kind(sockets.EventResolveError))
	assert.ErrorIs(t, ev.Err, sockets.ErrBadEndpoint)
	ev = log.wait(t, 5*time.Second, 3, "the watch's end", kind(sockets.EventResolveError))
	assert.ErrorIs(t, ev.Err, broken)
	log.wait(t, 5*time.Second, 1, "connected", kind(sockets.EventConnected))
	assert.EqualValues(t, 1, push.Stats().Members)
}

// A REQ dialing a set asks each member in turn, and takes each reply from
// the member it asked.
func TestDialSetReqTakesTurns(t *testing.T) {
	var eps []string
	ctx := testutil.Context(t, 10*time.Second)
	for i := 0; i < 2; i++ {
		rep := newSock(t, sockets.Rep)
		ep, err := rep.Listen("tcp://127.0.0.1:0")
		require.NoError(t, err)
		eps = append(eps, ep)
		name := []byte(strconv.Itoa(i))
		go func() {
			for {
				if _, err := rep.Recv(ctx); err != nil {
					return
				}
				if rep.Send(ctx, name) != nil {
					return
				}
			}
		}()
	}
	req := newSock(t, sockets.Req)
	log := watchEvents(req)
	require.NoError(t, req.Dial("list://"+eps[0]+","+eps[1]))
	log.wait(t, 5*time.Second, 2, "connected", kind(sockets.EventConnected))
	got := map[string]int{}
	for i := 0; i < 10; i++ {
		require.NoError(t, req.Send(ctx, []byte("q")))
		m, err := req.Recv(ctx)
		require.NoError(t, err)
		got[string(m[0])]++
	}
	assert.Equal(t, map[string]int{"0": 5, "1": 5}, got)
}
