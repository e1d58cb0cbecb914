package engine

import (
	"crypto/tls"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zeromq/zmq4"
)

// Options are the per-socket settings the engine needs.
type Options struct {
	Type             zmq4.SocketType
	Identity         []byte
	Security         zmq4.Security
	SendHWM, RecvHWM int
	// SendBytes and RecvBytes bound each pipe's queues in bytes as well
	// (messages counted at Cost; 0: no bound).
	SendBytes, RecvBytes int64
	// SendPool and RecvPool bound what all the socket's tcp and ipc
	// pipes hold together, each way (nil: no bound).
	SendPool, RecvPool *Pool
	MaxMsgSize         int64
	HandshakeTimeout   time.Duration
	// ProgressTimeout: a message under way must bring its next
	// ProgressStep bytes, or its end, within this (0: no bound).
	ProgressTimeout time.Duration
	// MaxConns bounds the connections each listener holds at once,
	// handshaking or established (0: no bound).
	MaxConns int
	// Budget bounds the large frames in progress across the socket's
	// connections (nil: no bound).
	Budget           *Budget
	HeartbeatIvl     time.Duration
	HeartbeatTimeout time.Duration
	HeartbeatTTL     time.Duration
	ReconnectIvl     time.Duration
	ReconnectMax     time.Duration
	// ConnectTimeout bounds each tcp or ipc connection attempt of a Dial
	// (0: only the system's own timeout).
	ConnectTimeout time.Duration
	// ReconnectStop says on which failures a Dial stops reconnecting.
	ReconnectStop ReconnectStop
	// Ticker, when set, stands in for time.NewTicker where a connection
	// paces its heartbeats (PING every HeartbeatIvl): tests tick it by hand,
	// so what they check does not hang on the scheduler. nil: real time.
	Ticker func(d time.Duration) (c <-chan time.Time, stop func())
	// RetryAuthFailures keeps a Dial reconnecting after the server refused
	// its handshake (ErrRefusedByServer); by default it stops.
	RetryAuthFailures bool
	Immediate         bool
	// ConflateIn and ConflateOut make a pipe's queue from, or to, the peer
	// keep only the newest message; what that replaces is counted in
	// Conflated.
	ConflateIn, ConflateOut bool
	Conflated               *atomic.Uint64
	// Metadata are the application properties the handshake announces.
	Metadata map[string]string
	// Admit, when set, vets every tcp and ipc peer once the handshake
	// knows it; an error refuses the peer (see HandshakeConfig.Admit).
	Admit func(*Peer) error
	// TLSConfig is wss's: the listener's certificate, the dialer's roots
	// and server name (nil: the system's, for a dialer).
	TLSConfig *tls.Config
	// WSOrigins are the Origin patterns a ws or wss listener accepts
	// beside the request's own host ("*": any).
	WSOrigins []string
}

// Pipe is the relation with one peer: a queue each way. A pipe created by
// Dial outlives its connections (messages wait in it while reconnecting, as
// in libzmq); one created by an accepted connection ends with it.
type Pipe struct {
	In  *Queue // from the peer
	Out *Queue // to the peer

	Endpoint string // the endpoint it came from (listen or dial)
	Outbound bool   // created by Dial
	// Shared is set on the listening side of an inproc connection: its
	// queues belong to the dialing socket's pipe and outlive this view.
	Shared bool

	peer atomic.Pointer[Peer]
	// orphaned: Out's messages up to this one (see Queue.Gone) were taken
	// by a connection that has since ended, so nothing answers them.
	orphaned atomic.Uint64
	live     atomic.Bool // a connection serves the pipe now
	// Data is for the socket that owns the pipe (routing state).
	Data any

	once sync.Once
	done chan struct{}

	connMu  sync.Mutex
	cut     func() // ends the connection that serves the pipe now; nil when none does
	dropped bool   // Drop ended that connection
}

// ErrDropped is the reason a connection ends when its socket dropped the
// peer (Pipe.Drop).
var ErrDropped = errors.New("peer disconnected by the socket")

// NewPipe returns a pipe with fresh queues.
func NewPipe(endpoint string, outbound bool, sendHWM, recvHWM int) *Pipe {
	return &Pipe{
		In:       NewQueue(recvHWM),
		Out:      NewQueue(sendHWM),
		Endpoint: endpoint,
		Outbound: outbound,
		done:     make(chan struct{}),
	}
}

// newPipe is NewPipe with o's high-water marks and conflation.
// A pipe over a network connection (not inproc, whose queues belong to
// both sockets) also counts in the socket's pools.
func newPipe(endpoint string, outbound bool, o *Options) *Pipe {
	p := NewPipe(endpoint, outbound, o.SendHWM, o.RecvHWM)
	p.Out.SetMaxBytes(o.SendBytes)
	p.In.SetMaxBytes(o.RecvBytes)
	if !p.Inproc() {
		p.Out.SetPool(o.SendPool)
		p.In.SetPool(o.RecvPool)
	}
	if o.ConflateIn {
		p.In.SetConflate(o.Conflated)
	}
	if o.ConflateOut {
		p.Out.SetConflate(o.Conflated)
	}
	return p
}

// Inproc reports whether p is an inproc pipe, whose queues both sockets
// share.
func (p *Pipe) Inproc() bool { return strings.HasPrefix(p.Endpoint, "inproc://") }

// Peer is what the latest handshake told about the other side.
func (p *Pipe) Peer() Peer {
	if pr := p.peer.Load(); pr != nil {
		return *pr
	}
	return Peer{}
}

// Orphaned is the last of Out's messages (numbered as Queue.Tail numbers
// them) that a connection took and then ended: a reply to it, or to any
// before it, can no longer come back.
func (p *Pipe) Orphaned() uint64 { return p.orphaned.Load() }

// orphan records that the connection serving p has ended, with whatever
// it took from Out, and wakes the reader side: a REQ waiting for a reply
// learns that it will not come.
func (p *Pipe) orphan() {
	p.live.Store(false)
	p.orphaned.Store(p.Out.Gone())
	p.In.poke()
}

// Live reports whether a connection serves the pipe now.
func (p *Pipe) Live() bool { return p.live.Load() }

// PeerRef is Peer without the copy: nil before the first handshake. The
// Peer it points to does not change.
func (p *Pipe) PeerRef() *Peer { return p.peer.Load() }

// SetPeer records the peer of the current connection.
func (p *Pipe) SetPeer(pr Peer) { p.peer.Store(&pr) }

// Done is closed once the pipe has been terminated.
func (p *Pipe) Done() <-chan struct{} { return p.done }

// Terminate ends the pipe: no more messages go out through it; what already
// arrived stays readable. It is idempotent.
func (p *Pipe) Terminate() {
	p.once.Do(func() {
		if !p.Shared {
			p.Out.Close()
			p.In.Close()
		}
		close(p.done)
	})
}

// serveBy records how to end the connection that serves p from now on:
// the transport calls it before the socket hears of the connection.
func (p *Pipe) serveBy(cut func()) {
	p.connMu.Lock()
	p.cut, p.dropped = cut, false
	p.connMu.Unlock()
}

// served forgets the connection serveBy recorded, once it has ended, and
// reports whether Drop ended it.
func (p *Pipe) served() (dropped bool) {
	p.connMu.Lock()
	dropped = p.dropped
	p.cut, p.dropped = nil, false
	p.connMu.Unlock()
	return dropped
}

// Serving reports whether a connection serves p now, from its handshake's
// end (before the socket attaches it) to its end.
func (p *Pipe) Serving() bool {
	p.connMu.Lock()
	defer p.connMu.Unlock()
	return p.cut != nil
}

// Drop ends the connection that serves p now, at once: what p holds for
// the peer is not written, and the connection's end is reported with
// ErrDropped. It reports whether there was such a connection. Drop does
// not terminate p: a pipe that Dial made connects again, as after any
// lost connection.
func (p *Pipe) Drop() bool {
	p.connMu.Lock()
	cut := p.cut
	if cut != nil {
		p.cut, p.dropped = nil, true
	}
	p.connMu.Unlock()
	if cut == nil {
		return false
	}
	cut()
	return true
}

// Terminated reports whether Terminate was called.
func (p *Pipe) Terminated() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}
