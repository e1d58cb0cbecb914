package main

import (
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/zmqkit/zmqkit/sockets"
)

// A device's /readyz (beside /healthz, which says only that the process
// answers): what an orchestrator asks before it sends the device traffic.

const readyHelp = `With --metrics, /healthz answers 200 while the process runs (liveness)
and /readyz answers 200 only while the device can serve (readiness): every
endpoint of every side is bound, it is not draining after SIGINT/SIGTERM,
and, with --ready-peers, enough peers are connected: N over frontend and
backend together, or per side as in backend=1 or frontend=2,backend=1.
Otherwise /readyz answers 503 with the reason on one line.
`

// readyPeers is --ready-peers: a total over the frontend and backend, or a
// minimum per side.
type readyPeers struct {
	total   int
	perSide map[string]int
}

func (r readyPeers) set() bool { return r.total > 0 || len(r.perSide) > 0 }

func parseReadyPeers(v string) (readyPeers, error) {
	var r readyPeers
	v = strings.TrimSpace(v)
	if v == "" {
		return r, nil
	}
	bad := func() (readyPeers, error) {
		return readyPeers{}, usagef("--ready-peers %q: want N, or SIDE=N[,SIDE=N] with SIDE frontend or backend", v)
	}
	if !strings.Contains(v, "=") {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return bad()
		}
		r.total = n
		return r, nil
	}
	r.perSide = map[string]int{}
	for _, part := range strings.Split(v, ",") {
		side, num, _ := strings.Cut(strings.TrimSpace(part), "=")
		n, err := strconv.Atoi(num)
		if err != nil || n < 0 || side != "frontend" && side != "backend" {
			return bad()
		}
		if _, dup := r.perSide[side]; dup {
			return bad()
		}
		r.perSide[side] = n
	}
	return r, nil
}

// readiness tracks what /readyz reports. The device counts each endpoint
// it is to bind (expect) and each one bound (bound); draining says whether
// it has been told to stop.
type readiness struct {
	mu    sync.Mutex
	sides []string       // in the order they were opened
	want  map[string]int // side → endpoints to bind
	got   map[string]int // side → endpoints bound

	peers    readyPeers
	socks    map[string]*sockets.Socket // frontend and backend, whose peers count
	draining func() bool
}

func newReadiness(peers readyPeers, draining func() bool) *readiness {
	return &readiness{want: map[string]int{}, got: map[string]int{}, peers: peers,
		socks: map[string]*sockets.Socket{}, draining: draining}
}

func (r *readiness) expect(side string, s *sockets.Socket, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.want[side]; !ok {
		r.sides = append(r.sides, side)
	}
	r.want[side] += n
	if side == "frontend" || side == "backend" {
		r.socks[side] = s
	}
}

func (r *readiness) bound(side string) {
	r.mu.Lock()
	r.got[side]++
	r.mu.Unlock()
}

// reasons is why the device is not ready; none when it is.
func (r *readiness) reasons() []string {
	var why []string
	if r.draining() {
		return []string{"draining"}
	}
	r.mu.Lock()
	for _, side := range r.sides {
		if r.got[side] < r.want[side] {
			why = append(why, side+": "+strconv.Itoa(r.got[side])+" of "+strconv.Itoa(r.want[side])+" endpoints bound")
		}
	}
	socks := r.socks
	r.mu.Unlock()
	peers := func(side string) int {
		if s := socks[side]; s != nil {
			return len(s.Peers())
		}
		return 0
	}
	if n := r.peers.total; n > 0 {
		if got := peers("frontend") + peers("backend"); got < n {
			why = append(why, strconv.Itoa(got)+" of "+strconv.Itoa(n)+" peers connected")
		}
	}
	for _, side := range []string{"frontend", "backend"} {
		if n, ok := r.peers.perSide[side]; ok && n > 0 {
			if got := peers(side); got < n {
				why = append(why, side+": "+strconv.Itoa(got)+" of "+strconv.Itoa(n)+" peers connected")
			}
		}
	}
	return why
}

func (r *readiness) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if why := r.reasons(); len(why) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("not ready: " + strings.Join(why, "; ") + "\n"))
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

// withReadyz serves /readyz from r and everything else from h.
func withReadyz(h http.Handler, r *readiness) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", h)
	mux.Handle("/readyz", r)
	return mux
}
