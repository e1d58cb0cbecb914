//go:build linux

package multihost

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/internal/testutil/dnstest"
	"github.com/zmqkit/zmqkit/patterns/pipeline"
)

const (
	taskPort = "5557"
	sinkPort = "5558"
	pubPort  = "5560"
)

// ventLog is what the ventilator process printed, as it arrives.
type ventLog struct {
	mu      sync.Mutex
	results []result
	events  []event
	stats   string
	failed  []string
	change  chan struct{}
}

type result struct {
	worker string
	at     time.Time
}

type event struct {
	Socket   string `json:"socket"`
	Event    string `json:"event"`
	Endpoint string `json:"endpoint"`
	Remote   string `json:"remote"`
	Err      string `json:"err"`
	at       time.Time
}

func (v *ventLog) read(p *proc) {
	for line := range p.lines {
		now := time.Now()
		v.mu.Lock()
		switch {
		case strings.HasPrefix(line, "R "):
			v.results = append(v.results, result{worker: line[2:], at: now})
		case strings.HasPrefix(line, "X "):
			v.failed = append(v.failed, line[2:])
		case strings.HasPrefix(line, "S "):
			v.stats = line[2:]
		case strings.HasPrefix(line, "{"):
			var e event
			if json.Unmarshal([]byte(line), &e) == nil && e.Event != "" {
				e.at = now
				v.events = append(v.events, e)
			}
		}
		close(v.change)
		v.change = make(chan struct{})
		v.mu.Unlock()
	}
}

// until waits, up to d, for cond on the log (called with v.mu held).
func (v *ventLog) until(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(d)
	for {
		v.mu.Lock()
		ok := cond()
		ch := v.change
		v.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("not within %v: %s", d, what)
		}
	}
}

// since counts results per worker from index i on. Called with v.mu held.
func (v *ventLog) since(i int) map[string]int {
	per := map[string]int{}
	for _, r := range v.results[i:] {
		per[r.worker]++
	}
	return per
}

func (v *ventLog) firstEvent(kind, endpointOrRemote string, after time.Time) (event, bool) {
	for _, e := range v.events {
		if e.Socket == "push" && e.Event == kind && (e.Remote == endpointOrRemote || e.Endpoint == endpointOrRemote) && !e.at.Before(after) {
			return e, true
		}
	}
	return event{}, false
}

func (v *ventLog) n() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.results)
}

func (v *ventLog) firstFrom(worker string, i int) (time.Time, bool) {
	for _, r := range v.results[i:] {
		if r.worker == worker {
			return r.at, true
		}
	}
	return time.Time{}, false
}

func rate(per map[string]int, w string, d time.Duration) string {
	return fmt.Sprintf("%.0f/s", float64(per[w])/d.Seconds())
}

func spread(per map[string]int) string {
	var ks []string
	total := 0
	for k, n := range per {
		ks = append(ks, k)
		total += n
	}
	sort.Strings(ks)
	var b strings.Builder
	for _, k := range ks {
		fmt.Fprintf(&b, "%s %d (%.0f%%) ", k, per[k], 100*float64(per[k])/float64(total))
	}
	return strings.TrimSpace(b.String())
}

// TestAcrossHosts runs a pipeline and a pub/sub over seven "hosts" (network
// namespaces on one bridge), the workers and publishers found through the
// test's DNS server: a ventilator dials dns://workers.test, a subscriber
// dials dns://pubs.test. It checks, in turn, that work spreads over the
// three workers; that a fourth added to the name gets work within a
// re-resolve; that a worker removed from the name and then killed loses no
// task; that a link taken down is noticed by heartbeats and the work goes
// to the others; that a slow link holds up only its own worker; and that
// the subscriber hears every publisher.
func TestAcrossHosts(t *testing.T) {
	start := time.Now()
	l := newLab(t)
	vent := l.host("vent", 1)
	dnsHost := l.host("dns", 53)
	var workers []*hostNS
	for i := 1; i <= 4; i++ {
		workers = append(workers, l.host(fmt.Sprintf("w%d", i), 10+i))
	}
	pubs := []*hostNS{l.host("p1", 21), l.host("p2", 22)}
	subHost := l.host("sub", 31)

	lp, ln := listenIn(dnsHost)
	dns, err := dnstest.StartOn(dnsHost.ip+":53", lp, ln)
	require.NoError(t, err)
	t.Cleanup(dns.Close)
	ips := func(hs ...*hostNS) []string {
		var out []string
		for _, h := range hs {
			out = append(out, h.ip)
		}
		return out
	}
	dns.SetIPs("workers.test", ips(workers[:3]...)...)
	dns.SetIPs("pubs.test", ips(pubs...)...)
	t.Logf("lab up in %v", time.Since(start))

	sink := "tcp://" + vent.ip + ":" + sinkPort
	wprocs := map[string]*proc{}
	for _, w := range workers {
		wprocs[w.name] = l.start(w, "worker", "NAME="+w.name, "LISTEN=tcp://"+w.ip+":"+taskPort, "DIAL="+sink)
	}
	for _, p := range pubs {
		l.start(p, "pub", "NAME="+p.name, "LISTEN=tcp://"+p.ip+":"+pubPort)
	}
	sub := l.start(subHost, "sub", "DIAL=dns://pubs.test:"+pubPort, "DNS="+dnsHost.ip+":53")
	vp := l.start(vent, "ventilator", "LISTEN="+sink, "DIAL=dns://workers.test:"+taskPort, "DNS="+dnsHost.ip+":53")
	vl := &ventLog{change: make(chan struct{})}
	readerDone := make(chan struct{})
	go func() { defer close(readerDone); vl.read(vp) }()
	t.Cleanup(func() { vp.kill(syscall.SIGKILL); <-readerDone })

	member := func(h *hostNS) string { return "tcp://" + h.ip + ":" + taskPort }

	// 1. The work spreads over the three workers behind the name.
	vl.until(t, 20*time.Second, "300 results", func() bool { return len(vl.results) >= 300 })
	vl.mu.Lock()
	per := vl.since(0)
	total := len(vl.results)
	vl.mu.Unlock()
	t.Logf("spread over 3 workers, first %d results: %s", total, spread(per))
	for _, w := range workers[:3] {
		assert.GreaterOrEqual(t, per[w.name], total*15/100, "%s's share: %s", w.name, spread(per))
	}
	assert.Zero(t, per["w4"], "w4 is not behind the name yet")

	// 2. A fourth worker added to the name gets work within a re-resolve.
	added := time.Now()
	mark := vl.n()
	dns.SetIPs("workers.test", ips(workers...)...)
	var joined, firstTask time.Time
	vl.until(t, 10*time.Second, "a result from w4", func() bool {
		if e, ok := vl.firstEvent("member-added", member(workers[3]), added); ok && joined.IsZero() {
			joined = e.at
		}
		at, ok := vl.firstFrom("w4", mark)
		firstTask = at
		return ok
	})
	t.Logf("w4 added to the name: member after %v, first result after %v (re-resolve every %v)",
		joined.Sub(added).Round(time.Millisecond), firstTask.Sub(added).Round(time.Millisecond), resolveInterval)

	// 3. A worker removed from the name, then killed, loses no task.
	removed := time.Now()
	dns.SetIPs("workers.test", ips(workers[1:]...)...)
	var left time.Time
	vl.until(t, 10*time.Second, "w1 removed from the set", func() bool {
		e, ok := vl.firstEvent("member-removed", member(workers[0]), removed)
		left = e.at
		return ok
	})
	wprocs["w1"].kill(syscall.SIGKILL)
	t.Logf("w1 removed from the name: let go after %v, then killed", left.Sub(removed).Round(time.Millisecond))
	mark = vl.n()
	vl.until(t, 10*time.Second, "200 results after w1 left", func() bool { return len(vl.results)-mark >= 200 })
	vl.mu.Lock()
	per = vl.since(mark)
	vl.mu.Unlock()
	t.Logf("spread after w1 left: %s", spread(per))
	assert.Zero(t, per["w1"], "w1 is gone")

	// 4. A link taken down: heartbeats notice, the work goes to the others.
	down := time.Now()
	l.ip(workers[1].ns, "link", "set", "eth0", "down")
	var noticed time.Time
	vl.until(t, 10*time.Second, "w2's heartbeat timeout", func() bool {
		e, ok := vl.firstEvent("heartbeat-timeout", member(workers[1]), down)
		noticed = e.at
		return ok
	})
	mark = vl.n()
	vl.until(t, 10*time.Second, "200 results after w2's link went down", func() bool { return len(vl.results)-mark >= 200 })
	vl.mu.Lock()
	per = vl.since(mark)
	vl.mu.Unlock()
	t.Logf("w2's link down: heartbeat timeout after %v (interval %v, timeout %v); spread after: %s",
		noticed.Sub(down).Round(time.Millisecond), heartbeatIvl, heartbeatWait, spread(per))
	assert.Zero(t, per["w2"], "w2 is cut off")
	assert.Positive(t, per["w3"])
	assert.Positive(t, per["w4"])

	// 5. A slow link slows its own worker only.
	window := 2 * time.Second
	measure := func() map[string]int {
		vl.mu.Lock()
		m := len(vl.results)
		vl.mu.Unlock()
		until := time.Now().Add(window)
		vl.until(t, window+5*time.Second, "the window's end", func() bool { return !time.Now().Before(until) && len(vl.results) > m })
		vl.mu.Lock()
		defer vl.mu.Unlock()
		return vl.since(m)
	}
	before := measure()
	w3 := l.hosts["w3"]
	l.run("tc", "-n", l.br, "qdisc", "add", "dev", w3.veth, "root", "tbf", "rate", "256kbit", "burst", "4kb", "latency", "50ms")
	// What w3 queued before the limit (its receive queue, its kernel
	// buffer) takes a while to work off: measure once that is done.
	settle := measure()
	after := measure()
	if out, err := exec.Command("tc", "-s", "-n", l.br, "qdisc", "show", "dev", w3.veth).CombinedOutput(); err == nil {
		t.Logf("w3's link: %s", strings.Join(strings.Fields(string(out)), " "))
	}
	// Lifted again: tasks re-issued from w3's backlog would otherwise keep
	// joining it, and the drain below would wait on the slow link.
	l.run("tc", "-n", l.br, "qdisc", "del", "dev", w3.veth, "root")
	t.Logf("tc tbf 256 kbit/s on w3's link: results per second before → first %v → next %v: w3 %s → %s → %s, w4 %s → %s → %s (tasks of %d B)",
		window, window, rate(before, "w3", window), rate(settle, "w3", window), rate(after, "w3", window),
		rate(before, "w4", window), rate(settle, "w4", window), rate(after, "w4", window), taskSize)
	assert.Positive(t, after["w4"], "w4 goes on while w3's link is slow")
	assert.Less(t, after["w3"], after["w4"], "the slow link's worker does less")

	// 6. The subscriber hears every publisher behind dns://pubs.test.
	heard := map[string]bool{}
	subDeadline := time.After(10 * time.Second)
	for len(heard) < len(pubs) {
		select {
		case line, ok := <-sub.lines:
			require.True(t, ok, "the subscriber ended")
			if name, ok := strings.CutPrefix(line, "heard "); ok {
				heard[name] = true
			}
		case <-subDeadline:
			t.Fatalf("the subscriber heard only %v", heard)
		}
	}
	t.Logf("the subscriber heard %d publishers", len(heard))

	// 7. Stop: every task submitted is settled with its result.
	stopped := time.Now()
	_, err = fmt.Fprintln(vp.stdin, "stop")
	require.NoError(t, err)
	vl.until(t, 30*time.Second, "the ventilator's summary", func() bool { return vl.stats != "" })
	vl.mu.Lock()
	line, failed := vl.stats, vl.failed
	vl.mu.Unlock()
	js, werr, _ := strings.Cut(line, " ")
	var st pipeline.Stats
	require.NoError(t, json.Unmarshal([]byte(js), &st), line)
	assert.Equal(t, "<nil>", werr, "Wait")
	assert.Empty(t, failed)
	assert.Zero(t, st.GaveUp)
	assert.Equal(t, st.Submitted, st.Completed, "every task settled with a result")
	t.Logf("ventilator: %d tasks submitted, %d completed, %d re-issued, %d duplicates, drained in %v; whole test %v",
		st.Submitted, st.Completed, st.Reissued, st.Duplicates, time.Since(stopped).Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}
