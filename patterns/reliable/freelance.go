package reliable

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/zmqkit/zmqkit/codec"
	"github.com/zmqkit/zmqkit/sockets"
)

// errorMarker starts the two-frame error reply of sockets.RepOf (the wire
// format of its handler errors).
const errorMarker = "zmqkit.error"

// server is one of a Freelance's servers: a DEALER connected to it alone,
// with a pipe only while the connection is up (WithImmediate), so that a
// request never waits in the queue of a server that is down.
type server struct {
	endpoint string
	sock     *sockets.Socket
}

func (s *server) up() bool { return s.sock.Stats().Peers > 0 }

// Freelance is a client for several equivalent REP servers that fails over
// between them (the ZeroMQ guide's Freelance pattern, brokerless). It is
// safe for concurrent use; calls are made one at a time.
type Freelance[Q, R any] struct {
	qc      codec.Codec[Q]
	rc      codec.Codec[R]
	cfg     config
	servers []*server

	turn      chan struct{} // held by the call in progress
	done      chan struct{} // closed by Close
	closeOnce sync.Once
	wg        sync.WaitGroup

	// Owned by the call in progress.
	seq       uint64
	preferred int

	mu      sync.Mutex
	changed chan struct{} // closed when a connection comes or goes; nil: nobody waits

	st counters
}

// NewFreelance creates a client for the REP servers at endpoints, tried in
// that order at first, with a codec for requests and one for replies. It
// connects to all of them in the background.
func NewFreelance[Q, R any](qc codec.Codec[Q], rc codec.Codec[R], endpoints []string, opts ...Option) (*Freelance[Q, R], error) {
	if qc == nil || rc == nil {
		return nil, bad("nil codec")
	}
	if len(endpoints) == 0 {
		return nil, bad("no servers")
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	if cfg.tries == 0 {
		cfg.tries = max(DefaultTries, len(endpoints))
	}
	f := &Freelance[Q, R]{qc: qc, rc: rc, cfg: cfg, turn: make(chan struct{}, 1), done: make(chan struct{})}
	for _, ep := range endpoints {
		s, err := sockets.NewDealer(cfg.socketOptions(sockets.WithImmediate(true))...)
		if err == nil {
			if err = s.Dial(ep); err != nil {
				s.Close()
			}
		}
		if err != nil {
			f.Close()
			return nil, err
		}
		srv := &server{endpoint: ep, sock: s}
		f.servers = append(f.servers, srv)
		f.wg.Add(1)
		go f.watch(srv)
	}
	return f, nil
}

// watch wakes a call waiting for a server whenever a connection comes or
// goes; it ends when the socket closes.
func (f *Freelance[Q, R]) watch(s *server) {
	defer f.wg.Done()
	for range s.sock.Events() {
		f.mu.Lock()
		if f.changed != nil {
			close(f.changed)
			f.changed = nil
		}
		f.mu.Unlock()
	}
}

// Call sends q to one server and returns its reply. A try goes to the first
// server whose connection is up, starting from the last one that answered,
// and waits up to the timeout (WithTimeout); when it times out the next try
// goes to the next server. A try that finds no server up waits, within its
// timeout, for one to come up. After WithTries tries Call returns an error
// matching ErrNoReply and wrapping the last cause. A handler error
// (sockets.ErrRemote) or an undecodable reply is returned at once. If ctx
// ends first, Call returns ctx's error.
func (f *Freelance[Q, R]) Call(ctx context.Context, q Q) (R, error) {
	var zero R
	select {
	case f.turn <- struct{}{}:
	case <-ctx.Done():
		return zero, ctx.Err()
	case <-f.done:
		return zero, ErrClosed
	}
	defer func() { <-f.turn }()
	f.st.calls.Add(1)
	body, err := codec.Encode(f.qc, q)
	if err != nil {
		return zero, fmt.Errorf("reliable: call: %w", err)
	}
	// One sequence number per call: a late reply from an earlier try of
	// the same call is as good as any.
	f.seq++
	seq := binary.BigEndian.AppendUint64(make([]byte, 0, 8), f.seq)
	var last error
	for try := 1; try <= f.cfg.tries; try++ {
		if try > 1 {
			f.st.retries.Add(1)
		}
		f.st.tries.Add(1)
		tctx, cancel := context.WithTimeout(ctx, f.cfg.timeout)
		i, err := f.pick(tctx)
		var r R
		if err == nil {
			r, err = f.try(tctx, f.servers[i], seq, body)
		}
		cancel()
		if err == nil || answered(err) {
			if err == nil {
				f.preferred = i
			}
			return r, err
		}
		select {
		case <-f.done:
			return zero, ErrClosed
		default:
		}
		if ctx.Err() != nil {
			return zero, fmt.Errorf("reliable: call: %w", ctx.Err())
		}
		if i >= 0 {
			err = fmt.Errorf("%s: %w", f.servers[i].endpoint, err)
			if len(f.servers) > 1 {
				f.preferred = (i + 1) % len(f.servers)
				f.st.failovers.Add(1)
			}
		}
		last = err
		if try < f.cfg.tries && f.cfg.onRetry != nil {
			f.cfg.onRetry(try, err)
		}
	}
	f.st.noReply.Add(1)
	return zero, fmt.Errorf("%w from %d servers after %d tries of %v: %w", ErrNoReply, len(f.servers), f.cfg.tries, f.cfg.timeout, last)
}

// pick returns the first server up, from the preferred one on, waiting for
// a connection while none is up.
func (f *Freelance[Q, R]) pick(ctx context.Context) (int, error) {
	n := len(f.servers)
	for {
		f.mu.Lock()
		if f.changed == nil {
			f.changed = make(chan struct{})
		}
		ch := f.changed
		f.mu.Unlock()
		for k := range n {
			if i := (f.preferred + k) % n; f.servers[i].up() {
				return i, nil
			}
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return -1, fmt.Errorf("no server connected: %w", ctx.Err())
		case <-f.done:
			return -1, ErrClosed
		}
	}
}

// try sends one request to s and waits for its reply, dropping replies to
// earlier calls.
func (f *Freelance[Q, R]) try(ctx context.Context, s *server, seq, body []byte) (R, error) {
	var zero R
	// [seq, "", body]: a REP server keeps everything up to the empty
	// delimiter as the envelope and sends it back in front of the reply.
	if err := s.sock.Send(ctx, seq, []byte{}, body); err != nil {
		return zero, err
	}
	for {
		m, err := s.sock.Recv(ctx)
		if err != nil {
			return zero, err
		}
		if len(m) < 3 || string(m[0]) != string(seq) || len(m[1]) != 0 {
			f.st.stale.Add(1)
			continue
		}
		switch reply := m[2:]; {
		case len(reply) == 2 && string(reply[0]) == errorMarker:
			return zero, fmt.Errorf("reliable: call %s: %w", s.endpoint, &sockets.RemoteError{Msg: string(reply[1])})
		case len(reply) != 1:
			return zero, fmt.Errorf("reliable: call %s: %w", s.endpoint, &codec.DecodeError{
				Codec: f.rc.Name(), Type: codec.TypeName[R](), Err: fmt.Errorf("want 1 frame, got %d", len(reply))})
		}
		r, err := codec.Decode(f.rc, m[2])
		if err != nil {
			return zero, fmt.Errorf("reliable: call %s: %w", s.endpoint, err)
		}
		return r, nil
	}
}

// Servers returns the servers' endpoints, in the order given.
func (f *Freelance[Q, R]) Servers() []string {
	eps := make([]string, len(f.servers))
	for i, s := range f.servers {
		eps[i] = s.endpoint
	}
	return eps
}

// Stats returns a snapshot of the counters.
func (f *Freelance[Q, R]) Stats() Stats {
	up := 0
	for _, s := range f.servers {
		if s.up() {
			up++
		}
	}
	return f.st.snapshot(up)
}

// Close ends a call in progress with ErrClosed and closes the sockets. It
// is idempotent.
func (f *Freelance[Q, R]) Close() error {
	f.closeOnce.Do(func() {
		close(f.done)
		for _, s := range f.servers {
			_ = s.sock.Close()
		}
		f.wg.Wait()
	})
	return nil
}
