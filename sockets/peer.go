package sockets

import (
	"context"
	"fmt"
	"strings"

	"github.com/zmqkit/zmqkit/sockets/internal/engine"
)

// Peer is what the handshake of a connection told about the socket at its
// other end: what libzmq gives as a message's metadata (zmq_msg_gets).
//
// UserID is the one field the peer cannot choose: it is set by our own
// security mechanism, on the side that checked the peer's credentials (a
// PLAIN or CURVE server), and is empty under NULL and on the client side.
type Peer struct {
	Type     Type   // the peer's socket type
	Identity []byte // the routing id it announced, if any (do not modify)
	// UserID is who the peer authenticated as: the PLAIN user name, or the
	// CURVE client's public key in Z85 (as CurveKey writes it).
	UserID string
	// Remote is its address as the system reports it: host:port for
	// tcp; for ipc the path on the dialing side and "@" on the listening
	// one (unix sockets name only the bound end); "" for inproc.
	Remote string
	// RoutingID is the id a ROUTER knows the peer by, in what Peers and
	// PeerOf return on a ROUTER (do not modify); nil elsewhere.
	RoutingID []byte
	// obs: Endpoint is the socket's endpoint the connection came from (as
	// given to Listen or Dial), in what Peers, PeerOf and PeerByRemote
	// return; "" elsewhere.
	Endpoint string
	// obs: Queue is what waits in the peer's queues at the time of the
	// call, in what Peers, PeerOf and PeerByRemote return; zero
	// elsewhere (RecvFrom, hooks).
	Queue PeerQueue

	meta map[string]string
}

// PeerQueue is the depth of one peer's queues: messages received from it
// that Recv has not taken yet (In), and messages sent to it not yet
// written to its connection (Out). Bytes are counted as the queues' byte
// bounds count them: payload plus 32 bytes per frame (see
// DefaultBufferBytes). Over inproc the two sockets share their queues, so
// each side's In is the other's Out.
type PeerQueue struct {
	InMsgs, OutMsgs   int
	InBytes, OutBytes int64
}

// queueOf reads p's queue depths, the messages Recv took from p ahead
// (see ahead) counted as still in: they are not received yet. Called with
// s.mu held.
func (s *Socket) queueOf(p *engine.Pipe) PeerQueue {
	var q PeerQueue
	q.InMsgs, q.InBytes = p.In.Depth()
	q.OutMsgs, q.OutBytes = p.Out.Depth()
	if f := receiving(s.b); f != nil {
		n, b := f.ahead.queued(p)
		q.InMsgs, q.InBytes = q.InMsgs+n, q.InBytes+b
	}
	return q
}

// peerListed is the public form of a pipe's peer, as Peers lists it.
// Called with s.mu held.
func (s *Socket) peerListed(p *engine.Pipe, router bool) Peer {
	pr := peerOf(p.PeerRef())
	if router {
		pr.RoutingID = routeID(p)
	}
	pr.Endpoint = p.Endpoint
	pr.Queue = s.queueOf(p)
	return pr
}

// PeerByRemote returns the connected peer whose Remote is remote (its
// host:port for tcp), with the depth of its queues: the per-peer stats
// call, for any socket type. An ipc listener's peers all have Remote "@"
// and inproc peers "": this finds the first of them; Peers lists all.
func (s *Socket) PeerByRemote(remote string) (Peer, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, router := s.b.(*routerSocket)
	for p := range s.pipes {
		if !p.Live() || p.Terminated() {
			continue
		}
		if ref := p.PeerRef(); ref != nil && ref.Remote == remote {
			return s.peerListed(p, router), true
		}
	}
	return Peer{}, false
}

// Property returns a metadata property the peer announced in its
// handshake ("Socket-Type", "Identity", an application's "X-…"), or "".
// Names are compared without regard to case (RFC 23). "User-Id" is UserID.
func (p Peer) Property(name string) string {
	if strings.EqualFold(name, "User-Id") {
		return p.UserID
	}
	for k, v := range p.meta {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// peerOf makes the public form; nil gives the zero Peer.
func peerOf(pr *engine.Peer) Peer {
	if pr == nil {
		return Peer{}
	}
	return Peer{Type: Type(pr.Type), Identity: pr.Identity, UserID: pr.UserID, Remote: pr.Remote, meta: pr.Meta}
}

// RecvFrom is Recv that also says which peer sent the message, for a
// server that must know who asks (with PLAIN or CURVE, Peer.UserID). The
// peer is the one of the connection the message arrived on, even when a
// Dial has since reconnected to another. For an XPUB's cancel on behalf of
// a departed subscriber it is the zero Peer.
func (s *Socket) RecvFrom(ctx context.Context) ([][]byte, Peer, error) {
	m, from, err := s.RecvMsgFrom(ctx)
	if err != nil {
		return nil, Peer{}, err
	}
	return m.Frames(), from, nil
}

type peerKey struct{}

// NewPeerContext returns a copy of ctx that carries p, for code that
// serves a request to learn who asked: RepOf.Serve hands its handler such
// a context, and so does the rpc package's server.
func NewPeerContext(ctx context.Context, p Peer) context.Context {
	return context.WithValue(ctx, peerKey{}, p)
}

// PeerFromContext returns the Peer that NewPeerContext put in ctx.
func PeerFromContext(ctx context.Context) (Peer, bool) {
	p, ok := ctx.Value(peerKey{}).(Peer)
	return p, ok
}

// PeerOf returns the peer a ROUTER knows by routing id (the first frame of
// what its Recv returns), while it is connected. Other types have no
// routing ids: false.
func (s *Socket) PeerOf(routingID []byte) (Peer, bool) {
	x, ok := s.b.(*routerSocket)
	if !ok {
		return Peer{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := x.byID[string(routingID)]
	if p == nil || p.Terminated() {
		return Peer{}, false
	}
	return s.peerListed(p, true), true
}

// Peers returns the peers connected now, in no particular order: a pipe
// that dials is listed while its connection is up. It is a snapshot, for
// an operator's view or a health check; Events tells of changes. Each
// Peer says what waits in its queues now (Peer.Queue): libzmq gives no
// per-peer depth.
func (s *Socket) Peers() []Peer {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, router := s.b.(*routerSocket)
	out := make([]Peer, 0, len(s.pipes))
	for p := range s.pipes {
		if !p.Live() || p.Terminated() {
			continue
		}
		out = append(out, s.peerListed(p, router))
	}
	return out
}

// DisconnectPeer drops the connection of the peer a ROUTER knows by
// routingID, as libzmq's zmq_disconnect_peer does: at once, without writing
// what waits for it. The socket reports EventDisconnected with an error
// matching ErrPeerDisconnected. The pipe of a peer that dialed the ROUTER
// ends, so its routing id is unroutable from then on; such a peer may dial
// again, so a server that refuses a peer for good also refuses it in its
// authentication or WithAdmission. A peer the ROUTER dialed keeps its pipe
// and is dialed again, as after any lost connection (Disconnect stops
// that). DisconnectPeer fails with ErrHostUnreachable when no peer with
// that id is connected, and with ErrNotSupported on other socket types,
// which have no routing ids (see DisconnectPeers).
func (s *Socket) DisconnectPeer(routingID []byte) error {
	x, ok := s.b.(*routerSocket)
	if !ok {
		return s.errorf("disconnect peer", "", fmt.Errorf("%w: only a ROUTER knows peers by routing id; see DisconnectPeers", ErrNotSupported))
	}
	s.mu.Lock()
	p := x.byID[string(routingID)]
	s.mu.Unlock()
	if p == nil || p.Terminated() || !s.drop(p) {
		return s.errorf("disconnect peer", "", fmt.Errorf("%w: %q is not connected", ErrHostUnreachable, routingID))
	}
	return nil
}

// DisconnectPeers drops, as DisconnectPeer does, the connection of every
// peer connected now for which drop returns true, on any socket type, and
// returns how many it dropped. drop sees each Peer as Peers lists it (its
// UserID, Remote, metadata; its RoutingID on a ROUTER): a server that has
// revoked a CURVE key or a PLAIN user so ends the sessions admitted with
// it before. drop runs on the caller's goroutine, without the socket's
// lock: it may call the socket.
func (s *Socket) DisconnectPeers(drop func(Peer) bool) int {
	type candidate struct {
		p  *engine.Pipe
		pr Peer
	}
	s.mu.Lock()
	_, router := s.b.(*routerSocket)
	cs := make([]candidate, 0, len(s.pipes))
	for p := range s.pipes {
		ref := p.PeerRef()
		if ref == nil || p.Terminated() || !p.Serving() {
			continue
		}
		pr := peerOf(ref)
		if router {
			pr.RoutingID = routeID(p)
		}
		cs = append(cs, candidate{p, pr})
	}
	s.mu.Unlock()
	n := 0
	for _, c := range cs {
		if drop(c.pr) && s.drop(c.p) {
			n++
		}
	}
	return n
}

// drop ends p's connection at once; a pipe that ends with its connection
// ends now, so that nothing is routed to it any more.
func (s *Socket) drop(p *engine.Pipe) bool {
	if !p.Drop() {
		return false
	}
	if !p.Outbound {
		p.Terminate()
	}
	return true
}
