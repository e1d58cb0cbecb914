package sockets

import (
	"context"
	"errors"
	"fmt"
	"iter"

	"github.com/zmqkit/zmqkit/codec"
)

// The typed sockets send and receive Go values through a codec.Codec. Each
// is a type of its own over a raw *Socket, with the methods that fit its
// socket type only (a PushOf has no Recv, only a SubOf subscribes); Raw
// returns the *Socket underneath for anything else. They add no lock and
// no goroutine per message. A payload that does not decode is returned as
// an error matching codec.ErrDecode, counted in Stats().DecodeErrors, and
// the next receive goes on with the next message.

// Result is one received value or the error in its place, as delivered by
// the Chan methods.
type Result[T any] struct {
	Value T
	Err   error
}

// Published is a value received by a SubOf, with its topic.
type Published[T any] struct {
	Topic string
	Value T
}

// Routed is a value received by a RouterOf, with the sender's routing id.
type Routed[T any] struct {
	ID    []byte
	Value T
}

// typed is the core every single-codec typed socket is made of.
type typed[T any] struct {
	s *Socket
	c codec.Codec[T]
}

func newTyped[T any](t Type, c codec.Codec[T], opts []Option) (typed[T], error) {
	if c == nil {
		return typed[T]{}, fmt.Errorf("%w: nil codec", ErrBadOption)
	}
	s, err := New(t, opts...)
	if err != nil {
		return typed[T]{}, err
	}
	return typed[T]{s: s, c: c}, nil
}

func (t typed[T]) encode(v T) ([]byte, error) {
	b, err := codec.Encode(t.c, v)
	if err != nil {
		return nil, t.s.errorf("send", "", err)
	}
	return b, nil
}

func (t typed[T]) decode(b []byte) (T, error) {
	v, err := codec.Decode(t.c, b)
	if err != nil {
		t.s.st.decodeErrors.Add(1)
		return v, t.s.errorf("recv", "", err)
	}
	return v, nil
}

// frameCountError reports a message with the wrong number of frames for a
// typed socket; it counts as a decode failure.
func (t typed[T]) frameCountError(frames [][]byte, want string) error {
	t.s.st.decodeErrors.Add(1)
	size := 0
	for _, f := range frames {
		size += len(f)
	}
	return t.s.errorf("recv", "", &codec.DecodeError{Codec: t.c.Name(), Type: codec.TypeName[T](), Size: size,
		Err: fmt.Errorf("want %s, got %d frames", want, len(frames))})
}

func (t typed[T]) recvValue(ctx context.Context) (T, error) {
	m, err := t.s.RecvMsg(ctx)
	if err != nil {
		var zero T
		return zero, err
	}
	return t.decodeMsg(m)
}

// recvValueFrom is recvValue that also says who sent the value.
func (t typed[T]) recvValueFrom(ctx context.Context) (T, Peer, error) {
	m, from, err := t.s.RecvMsgFrom(ctx)
	if err != nil {
		var zero T
		return zero, Peer{}, err
	}
	v, err := t.decodeMsg(m)
	return v, from, err
}

// decodeMsg decodes a message of one frame (obs: or a header frame and
// one, whose headers it drops).
func (t typed[T]) decodeMsg(m Msg) (T, error) {
	if len(m.Tail) == 1 && IsHeaderFrame(m.Head) { // obs: headers.go
		v, _, err := t.decodeBody(m.Head, m.Tail[0])
		return v, err
	}
	if len(m.Tail) != 0 {
		var zero T
		return zero, t.frameCountError(m.Frames(), "1 frame")
	}
	return t.decode(m.Head)
}

func (t typed[T]) sendValue(ctx context.Context, v T) error {
	b, err := t.encode(v)
	if err != nil {
		return err
	}
	if t.s.cfg.headers { // obs: headers.go
		return t.sendWithFrame(ctx, b, nil, false)
	}
	return t.s.SendMsg(ctx, Msg{Head: b})
}

func (t typed[T]) trySendValue(v T) error {
	b, err := t.encode(v)
	if err != nil {
		return err
	}
	return t.s.TrySendMsg(Msg{Head: b})
}

func (t typed[T]) tryRecvValue() (T, error) {
	m, err := t.s.TryRecvMsg()
	if err != nil {
		var zero T
		return zero, err
	}
	return t.decodeMsg(m)
}

// terminal reports whether a receive error ends a stream of values: any
// error but a decode failure does.
func terminal(err error) bool { return err != nil && !errors.Is(err, codec.ErrDecode) }

// all turns a receive function into an iterator: values and decode errors
// are yielded; any other error is yielded once and ends the iteration.
func all[V any](ctx context.Context, recv func(context.Context) (V, error)) iter.Seq2[V, error] {
	return func(yield func(V, error) bool) {
		for {
			v, err := recv(ctx)
			if !yield(v, err) || terminal(err) {
				return
			}
		}
	}
}

// channel runs recv in a goroutine that ends with ctx, with the socket, or
// after delivering a terminal error; the channel is closed then.
func channel[V any](ctx context.Context, s *Socket, recv func(context.Context) (V, error)) <-chan Result[V] {
	ch := make(chan Result[V])
	go func() {
		defer close(ch)
		for {
			v, err := recv(ctx)
			select {
			case ch <- Result[V]{Value: v, Err: err}:
			case <-ctx.Done():
				return
			case <-s.closeCh:
				return
			}
			if terminal(err) {
				return
			}
		}
	}()
	return ch
}

// PushOf is a typed PUSH socket.
type PushOf[T any] struct{ t typed[T] }

// NewPushOf creates a typed PUSH socket.
func NewPushOf[T any](c codec.Codec[T], opts ...Option) (*PushOf[T], error) {
	t, err := newTyped(Push, c, opts)
	if err != nil {
		return nil, err
	}
	return &PushOf[T]{t: t}, nil
}

// Raw returns the untyped socket underneath, for what the PushOf does not offer.
func (p *PushOf[T]) Raw() *Socket { return p.t.s }

// Codec returns the socket's codec.
func (p *PushOf[T]) Codec() codec.Codec[T] { return p.t.c }

// Listen binds an endpoint and returns it as bound (see Socket.Listen).
func (p *PushOf[T]) Listen(endpoint string) (string, error) { return p.t.s.Listen(endpoint) }

// Unbind stops listening on an endpoint (see Socket.Unbind).
func (p *PushOf[T]) Unbind(endpoint string) error { return p.t.s.Unbind(endpoint) }

// Dial connects to an endpoint in the background (see Socket.Dial).
func (p *PushOf[T]) Dial(endpoint string) error { return p.t.s.Dial(endpoint) }

// Disconnect stops the connection made by Dial(endpoint).
func (p *PushOf[T]) Disconnect(endpoint string) error { return p.t.s.Disconnect(endpoint) }

// Close closes the socket (see Socket.Close).
func (p *PushOf[T]) Close() error { return p.t.s.Close() }

// Stats returns a snapshot of the socket's counters.
func (p *PushOf[T]) Stats() Stats { return p.t.s.Stats() }

// Events returns the socket's monitor channel (see Socket.Events).
func (p *PushOf[T]) Events() <-chan Event { return p.t.s.Events() }

// Peers lists the peers connected now (see Socket.Peers).
func (p *PushOf[T]) Peers() []Peer { return p.t.s.Peers() }

// DisconnectPeers drops the connections of the peers drop picks (see
// Socket.DisconnectPeers).
func (p *PushOf[T]) DisconnectPeers(drop func(Peer) bool) int { return p.t.s.DisconnectPeers(drop) }

// Send encodes v and sends it to one peer (round-robin).
func (p *PushOf[T]) Send(ctx context.Context, v T) error { return p.t.sendValue(ctx, v) }

// TrySend is Send that never waits: when no peer can take v now it
// returns at once with an error matching ErrWouldBlock.
func (p *PushOf[T]) TrySend(v T) error { return p.t.trySendValue(v) }

// PullOf is a typed PULL socket.
type PullOf[T any] struct{ t typed[T] }

// NewPullOf creates a typed PULL socket.
func NewPullOf[T any](c codec.Codec[T], opts ...Option) (*PullOf[T], error) {
	t, err := newTyped(Pull, c, opts)
	if err != nil {
		return nil, err
	}
	return &PullOf[T]{t: t}, nil
}

// Raw returns the untyped socket underneath, for what the PullOf does not offer.
func (p *PullOf[T]) Raw() *Socket { return p.t.s }

// Codec returns the socket's codec.
func (p *PullOf[T]) Codec() codec.Codec[T] { return p.t.c }

// Listen binds an endpoint and returns it as bound (see Socket.Listen).
func (p *PullOf[T]) Listen(endpoint string) (string, error) { return p.t.s.Listen(endpoint) }

// Unbind stops listening on an endpoint (see Socket.Unbind).
func (p *PullOf[T]) Unbind(endpoint string) error { return p.t.s.Unbind(endpoint) }

// Dial connects to an endpoint in the background (see Socket.Dial).
func (p *PullOf[T]) Dial(endpoint string) error { return p.t.s.Dial(endpoint) }

// Disconnect stops the connection made by Dial(endpoint).
func (p *PullOf[T]) Disconnect(endpoint string) error { return p.t.s.Disconnect(endpoint) }

// Close closes the socket (see Socket.Close).
func (p *PullOf[T]) Close() error { return p.t.s.Close() }

// Stats returns a snapshot of the socket's counters.
func (p *PullOf[T]) Stats() Stats { return p.t.s.Stats() }

// Events returns the socket's monitor channel (see Socket.Events).
func (p *PullOf[T]) Events() <-chan Event { return p.t.s.Events() }

// Peers lists the peers connected now (see Socket.Peers).
func (p *PullOf[T]) Peers() []Peer { return p.t.s.Peers() }

// DisconnectPeers drops the connections of the peers drop picks (see
// Socket.DisconnectPeers).
func (p *PullOf[T]) DisconnectPeers(drop func(Peer) bool) int { return p.t.s.DisconnectPeers(drop) }

// Recv returns the next value.
func (p *PullOf[T]) Recv(ctx context.Context) (T, error) { return p.t.recvValue(ctx) }

// TryRecv is Recv that never waits: with no message queued it returns at
// once with an error matching ErrWouldBlock.
func (p *PullOf[T]) TryRecv() (T, error) { return p.t.tryRecvValue() }

// RecvFrom is Recv that also says who sent the value (see Socket.RecvFrom).
func (p *PullOf[T]) RecvFrom(ctx context.Context) (T, Peer, error) { return p.t.recvValueFrom(ctx) }

// All iterates over received values: for v, err := range pull.All(ctx).
// A decode error is yielded and iteration goes on; any other error ends it.
func (p *PullOf[T]) All(ctx context.Context) iter.Seq2[T, error] { return all(ctx, p.t.recvValue) }

// Chan delivers received values on a channel, for use in a select; it is
// closed when ctx ends, the socket closes, or after a terminal error.
func (p *PullOf[T]) Chan(ctx context.Context) <-chan Result[T] {
	return channel(ctx, p.t.s, p.t.recvValue)
}

// PairOf is a typed PAIR socket.
type PairOf[T any] struct{ t typed[T] }

// NewPairOf creates a typed PAIR socket.
func NewPairOf[T any](c codec.Codec[T], opts ...Option) (*PairOf[T], error) {
	t, err := newTyped(Pair, c, opts)
	if err != nil {
		return nil, err
	}
	return &PairOf[T]{t: t}, nil
}

// Raw returns the untyped socket underneath, for what the PairOf does not offer.
func (p *PairOf[T]) Raw() *Socket { return p.t.s }

// Codec returns the socket's codec.
func (p *PairOf[T]) Codec() codec.Codec[T] { return p.t.c }

// Listen binds an endpoint and returns it as bound (see Socket.Listen).
func (p *PairOf[T]) Listen(endpoint string) (string, error) { return p.t.s.Listen(endpoint) }

// Unbind stops listening on an endpoint (see Socket.Unbind).
func (p *PairOf[T]) Unbind(endpoint string) error { return p.t.s.Unbind(endpoint) }

// Dial connects to an endpoint in the background (see Socket.Dial).
func (p *PairOf[T]) Dial(endpoint string) error { return p.t.s.Dial(endpoint) }

// Disconnect stops the connection made by Dial(endpoint).
func (p *PairOf[T]) Disconnect(endpoint string) error { return p.t.s.Disconnect(endpoint) }

// Close closes the socket (see Socket.Close).
func (p *PairOf[T]) Close() error { return p.t.s.Close() }

// Stats returns a snapshot of the socket's counters.
func (p *PairOf[T]) Stats() Stats { return p.t.s.Stats() }

// Events returns the socket's monitor channel (see Socket.Events).
func (p *PairOf[T]) Events() <-chan Event { return p.t.s.Events() }

// Peers lists the peers connected now (see Socket.Peers).
func (p *PairOf[T]) Peers() []Peer { return p.t.s.Peers() }

// DisconnectPeers drops the connections of the peers drop picks (see
// Socket.DisconnectPeers).
func (p *PairOf[T]) DisconnectPeers(drop func(Peer) bool) int { return p.t.s.DisconnectPeers(drop) }

// Send encodes v and sends it to the peer.
func (p *PairOf[T]) Send(ctx context.Context, v T) error { return p.t.sendValue(ctx, v) }

// TrySend is Send that never waits (see PushOf.TrySend).
func (p *PairOf[T]) TrySend(v T) error { return p.t.trySendValue(v) }

// Recv returns the next value.
func (p *PairOf[T]) Recv(ctx context.Context) (T, error) { return p.t.recvValue(ctx) }

// TryRecv is Recv that never waits (see PullOf.TryRecv).
func (p *PairOf[T]) TryRecv() (T, error) { return p.t.tryRecvValue() }

// RecvFrom is Recv that also says who sent the value (see Socket.RecvFrom).
func (p *PairOf[T]) RecvFrom(ctx context.Context) (T, Peer, error) { return p.t.recvValueFrom(ctx) }

// All iterates over received values (see PullOf.All).
func (p *PairOf[T]) All(ctx context.Context) iter.Seq2[T, error] { return all(ctx, p.t.recvValue) }

// Chan delivers received values on a channel (see PullOf.Chan).
func (p *PairOf[T]) Chan(ctx context.Context) <-chan Result[T] {
	return channel(ctx, p.t.s, p.t.recvValue)
}

// DealerOf is a typed DEALER socket: values go round-robin to peers and
// come back fair-queued, one frame each.
type DealerOf[T any] struct{ t typed[T] }

// NewDealerOf creates a typed DEALER socket.
func NewDealerOf[T any](c codec.Codec[T], opts ...Option) (*DealerOf[T], error) {
	t, err := newTyped(Dealer, c, opts)
	if err != nil {
		return nil, err
	}
	return &DealerOf[T]{t: t}, nil
}

// Raw returns the untyped socket underneath, for what the DealerOf does not offer.
func (d *DealerOf[T]) Raw() *Socket { return d.t.s }

// Codec returns the socket's codec.
func (d *DealerOf[T]) Codec() codec.Codec[T] { return d.t.c }

// Listen binds an endpoint and returns it as bound (see Socket.Listen).
func (d *DealerOf[T]) Listen(endpoint string) (string, error) { return d.t.s.Listen(endpoint) }

// Unbind stops listening on an endpoint (see Socket.Unbind).
func (d *DealerOf[T]) Unbind(endpoint string) error { return d.t.s.Unbind(endpoint) }

// Dial connects to an endpoint in the background (see Socket.Dial).
func (d *DealerOf[T]) Dial(endpoint string) error { return d.t.s.Dial(endpoint) }

// Disconnect stops the connection made by Dial(endpoint).
func (d *DealerOf[T]) Disconnect(endpoint string) error { return d.t.s.Disconnect(endpoint) }

// Close closes the socket (see Socket.Close).
func (d *DealerOf[T]) Close() error { return d.t.s.Close() }

// Stats returns a snapshot of the socket's counters.
func (d *DealerOf[T]) Stats() Stats { return d.t.s.Stats() }

// Events returns the socket's monitor channel (see Socket.Events).
func (d *DealerOf[T]) Events() <-chan Event { return d.t.s.Events() }

// Peers lists the peers connected now (see Socket.Peers).
func (d *DealerOf[T]) Peers() []Peer { return d.t.s.Peers() }

// DisconnectPeers drops the connections of the peers drop picks (see
// Socket.DisconnectPeers).
func (d *DealerOf[T]) DisconnectPeers(drop func(Peer) bool) int { return d.t.s.DisconnectPeers(drop) }

// Send encodes v and sends it to one peer.
func (d *DealerOf[T]) Send(ctx context.Context, v T) error { return d.t.sendValue(ctx, v) }

// TrySend is Send that never waits (see PushOf.TrySend).
func (d *DealerOf[T]) TrySend(v T) error { return d.t.trySendValue(v) }

// Recv returns the next value.
func (d *DealerOf[T]) Recv(ctx context.Context) (T, error) { return d.t.recvValue(ctx) }

// TryRecv is Recv that never waits (see PullOf.TryRecv).
func (d *DealerOf[T]) TryRecv() (T, error) { return d.t.tryRecvValue() }

// RecvFrom is Recv that also says who sent the value (see Socket.RecvFrom).
func (d *DealerOf[T]) RecvFrom(ctx context.Context) (T, Peer, error) { return d.t.recvValueFrom(ctx) }

// All iterates over received values (see PullOf.All).
func (d *DealerOf[T]) All(ctx context.Context) iter.Seq2[T, error] { return all(ctx, d.t.recvValue) }

// Chan delivers received values on a channel (see PullOf.Chan).
func (d *DealerOf[T]) Chan(ctx context.Context) <-chan Result[T] {
	return channel(ctx, d.t.s, d.t.recvValue)
}

// RouterOf is a typed ROUTER socket talking to DEALER peers: each value
// travels with the routing id of the peer it comes from or goes to.
type RouterOf[T any] struct{ t typed[T] }

// NewRouterOf creates a typed ROUTER socket.
func NewRouterOf[T any](c codec.Codec[T], opts ...Option) (*RouterOf[T], error) {
	t, err := newTyped(Router, c, opts)
	if err != nil {
		return nil, err
	}
	return &RouterOf[T]{t: t}, nil
}

// Raw returns the untyped socket underneath, for what the RouterOf does not offer.
func (r *RouterOf[T]) Raw() *Socket { return r.t.s }

// Codec returns the socket's codec.
func (r *RouterOf[T]) Codec() codec.Codec[T] { return r.t.c }

// Listen binds an endpoint and returns it as bound (see Socket.Listen).
func (r *RouterOf[T]) Listen(endpoint string) (string, error) { return r.t.s.Listen(endpoint) }

// Unbind stops listening on an endpoint (see Socket.Unbind).
func (r *RouterOf[T]) Unbind(endpoint string) error { return r.t.s.Unbind(endpoint) }

// Dial connects to an endpoint in the background (see Socket.Dial).
func (r *RouterOf[T]) Dial(endpoint string) error { return r.t.s.Dial(endpoint) }

// Disconnect stops the connection made by Dial(endpoint).
func (r *RouterOf[T]) Disconnect(endpoint string) error { return r.t.s.Disconnect(endpoint) }

// Close closes the socket (see Socket.Close).
func (r *RouterOf[T]) Close() error { return r.t.s.Close() }

// Stats returns a snapshot of the socket's counters.
func (r *RouterOf[T]) Stats() Stats { return r.t.s.Stats() }

// Events returns the socket's monitor channel (see Socket.Events).
func (r *RouterOf[T]) Events() <-chan Event { return r.t.s.Events() }

// Peers lists the peers connected now (see Socket.Peers).
func (r *RouterOf[T]) Peers() []Peer { return r.t.s.Peers() }

// DisconnectPeers drops the connections of the peers drop picks (see
// Socket.DisconnectPeers).
func (r *RouterOf[T]) DisconnectPeers(drop func(Peer) bool) int { return r.t.s.DisconnectPeers(drop) }

// DialRouted is Dial that gives the peer a routing id of our choosing
// (see Socket.DialRouted).
func (r *RouterOf[T]) DialRouted(endpoint string, routingID []byte) error {
	return r.t.s.DialRouted(endpoint, routingID)
}

// PeerOf returns the peer connected with routing id routingID, if any.
func (r *RouterOf[T]) PeerOf(routingID []byte) (Peer, bool) { return r.t.s.PeerOf(routingID) }

// DisconnectPeer drops the connection of the peer with routing id
// routingID (see Socket.DisconnectPeer).
func (r *RouterOf[T]) DisconnectPeer(routingID []byte) error { return r.t.s.DisconnectPeer(routingID) }

// Send encodes v and sends it to the peer with routing id id.
func (r *RouterOf[T]) Send(ctx context.Context, id []byte, v T) error {
	b, err := r.t.encode(v)
	if err != nil {
		return err
	}
	if r.t.s.cfg.headers { // obs: headers.go
		hf, err := r.t.s.headerFrame(ctx)
		if err != nil {
			return err
		}
		if hf != nil {
			return r.t.s.Send(ctx, id, hf, b)
		}
	}
	return r.t.s.Send(ctx, id, b)
}

// Recv returns the next value and the routing id of its sender.
func (r *RouterOf[T]) Recv(ctx context.Context) (Routed[T], error) {
	frames, err := r.t.s.Recv(ctx)
	if err != nil {
		return Routed[T]{}, err
	}
	return r.routed(frames)
}

// RecvFrom is Recv that also says who the sender is (see Socket.RecvFrom).
func (r *RouterOf[T]) RecvFrom(ctx context.Context) (Routed[T], Peer, error) {
	frames, from, err := r.t.s.RecvFrom(ctx)
	if err != nil {
		return Routed[T]{}, Peer{}, err
	}
	v, err := r.routed(frames)
	return v, from, err
}

func (r *RouterOf[T]) routed(frames [][]byte) (Routed[T], error) {
	v, _, err := r.routedHeaders(frames)
	return v, err
}

// routedHeaders is routed, with the headers (obs: headers.go).
func (r *RouterOf[T]) routedHeaders(frames [][]byte) (Routed[T], Headers, error) {
	if len(frames) == 3 && IsHeaderFrame(frames[1]) {
		v, h, err := r.t.decodeBody(frames[1], frames[2])
		return Routed[T]{ID: frames[0], Value: v}, h, err
	}
	v, err := r.routedPlain(frames)
	return v, nil, err
}

func (r *RouterOf[T]) routedPlain(frames [][]byte) (Routed[T], error) {
	if len(frames) != 2 {
		return Routed[T]{ID: frames[0]}, r.t.frameCountError(frames[1:], "1 frame after the routing id")
	}
	v, err := r.t.decode(frames[1])
	return Routed[T]{ID: frames[0], Value: v}, err
}

// All iterates over received values (see PullOf.All).
func (r *RouterOf[T]) All(ctx context.Context) iter.Seq2[Routed[T], error] { return all(ctx, r.Recv) }

// Chan delivers received values on a channel (see PullOf.Chan).
func (r *RouterOf[T]) Chan(ctx context.Context) <-chan Result[Routed[T]] {
	return channel(ctx, r.t.s, r.Recv)
}

// PubOf is a typed PUB socket.
type PubOf[T any] struct{ t typed[T] }

// NewPubOf creates a typed PUB socket.
func NewPubOf[T any](c codec.Codec[T], opts ...Option) (*PubOf[T], error) {
	t, err := newTyped(Pub, c, opts)
	if err != nil {
		return nil, err
	}
	return &PubOf[T]{t: t}, nil
}

// Raw returns the untyped socket underneath, for what the PubOf does not offer.
func (p *PubOf[T]) Raw() *Socket { return p.t.s }

// Codec returns the socket's codec.
func (p *PubOf[T]) Codec() codec.Codec[T] { return p.t.c }

// Listen binds an endpoint and returns it as bound (see Socket.Listen).
func (p *PubOf[T]) Listen(endpoint string) (string, error) { return p.t.s.Listen(endpoint) }

// Unbind stops listening on an endpoint (see Socket.Unbind).
func (p *PubOf[T]) Unbind(endpoint string) error { return p.t.s.Unbind(endpoint) }

// Dial connects to an endpoint in the background (see Socket.Dial).
func (p *PubOf[T]) Dial(endpoint string) error { return p.t.s.Dial(endpoint) }

// Disconnect stops the connection made by Dial(endpoint).
func (p *PubOf[T]) Disconnect(endpoint string) error { return p.t.s.Disconnect(endpoint) }

// Close closes the socket (see Socket.Close).
func (p *PubOf[T]) Close() error { return p.t.s.Close() }

// Stats returns a snapshot of the socket's counters.
func (p *PubOf[T]) Stats() Stats { return p.t.s.Stats() }

// Events returns the socket's monitor channel (see Socket.Events).
func (p *PubOf[T]) Events() <-chan Event { return p.t.s.Events() }

// Peers lists the peers connected now (see Socket.Peers).
func (p *PubOf[T]) Peers() []Peer { return p.t.s.Peers() }

// DisconnectPeers drops the connections of the peers drop picks (see
// Socket.DisconnectPeers).
func (p *PubOf[T]) DisconnectPeers(drop func(Peer) bool) int { return p.t.s.DisconnectPeers(drop) }

// Publish sends v to the subscribers of topic: two frames, the topic then
// the value. With topic "" it is one frame, the value alone, which is what
// a libzmq subscriber using pyzmq's recv_json expects.
func (p *PubOf[T]) Publish(ctx context.Context, topic string, v T) error {
	b, err := p.t.encode(v)
	if err != nil {
		return err
	}
	if p.t.s.cfg.headers { // obs: headers.go
		hf, err := p.t.s.headerFrame(ctx)
		if err != nil {
			return err
		}
		if hf != nil {
			return p.t.s.Send(ctx, []byte(topic), hf, b)
		}
	}
	if topic == "" {
		return p.t.s.Send(ctx, b)
	}
	return p.t.s.Send(ctx, []byte(topic), b)
}

// SubOf is a typed SUB socket.
type SubOf[T any] struct{ t typed[T] }

// NewSubOf creates a typed SUB socket; subscribe with Subscribe or
// WithSubscribe.
func NewSubOf[T any](c codec.Codec[T], opts ...Option) (*SubOf[T], error) {
	t, err := newTyped(Sub, c, opts)
	if err != nil {
		return nil, err
	}
	return &SubOf[T]{t: t}, nil
}

// Raw returns the untyped socket underneath, for what the SubOf does not offer.
func (s *SubOf[T]) Raw() *Socket { return s.t.s }

// Codec returns the socket's codec.
func (s *SubOf[T]) Codec() codec.Codec[T] { return s.t.c }

// Listen binds an endpoint and returns it as bound (see Socket.Listen).
func (s *SubOf[T]) Listen(endpoint string) (string, error) { return s.t.s.Listen(endpoint) }

// Unbind stops listening on an endpoint (see Socket.Unbind).
func (s *SubOf[T]) Unbind(endpoint string) error { return s.t.s.Unbind(endpoint) }

// Dial connects to an endpoint in the background (see Socket.Dial).
func (s *SubOf[T]) Dial(endpoint string) error { return s.t.s.Dial(endpoint) }

// Disconnect stops the connection made by Dial(endpoint).
func (s *SubOf[T]) Disconnect(endpoint string) error { return s.t.s.Disconnect(endpoint) }

// Close closes the socket (see Socket.Close).
func (s *SubOf[T]) Close() error { return s.t.s.Close() }

// Stats returns a snapshot of the socket's counters.
func (s *SubOf[T]) Stats() Stats { return s.t.s.Stats() }

// Events returns the socket's monitor channel (see Socket.Events).
func (s *SubOf[T]) Events() <-chan Event { return s.t.s.Events() }

// Peers lists the peers connected now (see Socket.Peers).
func (s *SubOf[T]) Peers() []Peer { return s.t.s.Peers() }

// DisconnectPeers drops the connections of the peers drop picks (see
// Socket.DisconnectPeers).
func (s *SubOf[T]) DisconnectPeers(drop func(Peer) bool) int { return s.t.s.DisconnectPeers(drop) }

// Subscribe asks publishers for the values whose topic starts with
// prefix ("" for all); see Socket.Subscribe.
func (s *SubOf[T]) Subscribe(prefix string) error { return s.t.s.Subscribe(prefix) }

// Unsubscribe undoes one Subscribe(prefix).
func (s *SubOf[T]) Unsubscribe(prefix string) error { return s.t.s.Unsubscribe(prefix) }

// Recv returns the next value with its topic ("" for one-frame messages).
func (s *SubOf[T]) Recv(ctx context.Context) (Published[T], error) {
	frames, err := s.t.s.Recv(ctx)
	if err != nil {
		return Published[T]{}, err
	}
	return s.published(frames)
}

// RecvFrom is Recv that also says which publisher sent the value (see
// Socket.RecvFrom).
func (s *SubOf[T]) RecvFrom(ctx context.Context) (Published[T], Peer, error) {
	frames, from, err := s.t.s.RecvFrom(ctx)
	if err != nil {
		return Published[T]{}, Peer{}, err
	}
	v, err := s.published(frames)
	return v, from, err
}

func (s *SubOf[T]) published(frames [][]byte) (Published[T], error) {
	v, _, err := s.publishedHeaders(frames)
	return v, err
}

// publishedHeaders is published, with the headers: a message with
// headers is always three frames, topic (maybe empty), header frame,
// value (obs: headers.go).
func (s *SubOf[T]) publishedHeaders(frames [][]byte) (Published[T], Headers, error) {
	if len(frames) == 3 && IsHeaderFrame(frames[1]) {
		v, h, err := s.t.decodeBody(frames[1], frames[2])
		return Published[T]{Topic: string(frames[0]), Value: v}, h, err
	}
	v, err := s.publishedPlain(frames)
	return v, nil, err
}

func (s *SubOf[T]) publishedPlain(frames [][]byte) (Published[T], error) {
	switch len(frames) {
	case 1:
		v, err := s.t.decode(frames[0])
		return Published[T]{Value: v}, err
	case 2:
		v, err := s.t.decode(frames[1])
		return Published[T]{Topic: string(frames[0]), Value: v}, err
	}
	return Published[T]{Topic: string(frames[0])}, s.t.frameCountError(frames, "1 or 2 frames")
}

// All iterates over received values (see PullOf.All).
func (s *SubOf[T]) All(ctx context.Context) iter.Seq2[Published[T], error] { return all(ctx, s.Recv) }

// Chan delivers received values on a channel (see PullOf.Chan).
func (s *SubOf[T]) Chan(ctx context.Context) <-chan Result[Published[T]] {
	return channel(ctx, s.t.s, s.Recv)
}

// ErrRemote is matched by errors that a RepOf handler returned, as seen by
// the ReqOf caller.
var ErrRemote = errors.New("remote handler failed")

// RemoteError carries a handler's error message back to the caller.
type RemoteError struct{ Msg string }

// Error reads "remote: " and the handler's message.
func (e *RemoteError) Error() string { return "remote: " + e.Msg }

// Is makes errors.Is(err, ErrRemote) true.
func (e *RemoteError) Is(target error) bool { return target == ErrRemote }

// errorMarker is the first of the two frames of an error reply; a value
// reply is always one frame, so the two cannot be confused.
var errorMarker = []byte("zmqkit.error")

// ReqOf is a typed REQ socket: Call sends a Q and returns the R reply.
type ReqOf[Q, R any] struct {
	s *Socket
	q codec.Codec[Q]
	r codec.Codec[R]
}

// NewReqOf creates a typed REQ socket with a codec for requests and one for
// replies.
func NewReqOf[Q, R any](qc codec.Codec[Q], rc codec.Codec[R], opts ...Option) (*ReqOf[Q, R], error) {
	if qc == nil || rc == nil {
		return nil, fmt.Errorf("%w: nil codec", ErrBadOption)
	}
	s, err := New(Req, opts...)
	if err != nil {
		return nil, err
	}
	return &ReqOf[Q, R]{s: s, q: qc, r: rc}, nil
}

// Raw returns the untyped socket underneath, for what the ReqOf does not offer.
func (c *ReqOf[Q, R]) Raw() *Socket { return c.s }

// Listen binds an endpoint and returns it as bound (see Socket.Listen).
func (c *ReqOf[Q, R]) Listen(endpoint string) (string, error) { return c.s.Listen(endpoint) }

// Unbind stops listening on an endpoint (see Socket.Unbind).
func (c *ReqOf[Q, R]) Unbind(endpoint string) error { return c.s.Unbind(endpoint) }

// Dial connects to an endpoint in the background (see Socket.Dial).
func (c *ReqOf[Q, R]) Dial(endpoint string) error { return c.s.Dial(endpoint) }

// Disconnect stops the connection made by Dial(endpoint).
func (c *ReqOf[Q, R]) Disconnect(endpoint string) error { return c.s.Disconnect(endpoint) }

// Close closes the socket (see Socket.Close).
func (c *ReqOf[Q, R]) Close() error { return c.s.Close() }

// Stats returns a snapshot of the socket's counters.
func (c *ReqOf[Q, R]) Stats() Stats { return c.s.Stats() }

// Events returns the socket's monitor channel (see Socket.Events).
func (c *ReqOf[Q, R]) Events() <-chan Event { return c.s.Events() }

// Peers lists the peers connected now (see Socket.Peers).
func (c *ReqOf[Q, R]) Peers() []Peer { return c.s.Peers() }

// DisconnectPeers drops the connections of the peers drop picks (see
// Socket.DisconnectPeers).
func (c *ReqOf[Q, R]) DisconnectPeers(drop func(Peer) bool) int { return c.s.DisconnectPeers(drop) }

// Call sends q and waits for the reply. A handler error on the other side
// comes back as an error matching ErrRemote. By default REQ is strict: if a
// Call ends with its context before the reply, the socket still waits for
// that reply and the next Call fails with ErrState (patterns/reliable.Client
// retries by rebuilding the socket). Made with WithReqRelaxed and
// WithReqCorrelate, the next Call simply goes out, to the next peer, and
// only its own reply is taken.
func (c *ReqOf[Q, R]) Call(ctx context.Context, q Q) (R, error) {
	var zero R
	b, err := codec.Encode(c.q, q)
	if err != nil {
		return zero, c.s.errorf("send", "", err)
	}
	if err := c.sendRequest(ctx, b); err != nil { // obs: headers.go
		return zero, err
	}
	frames, err := c.s.Recv(ctx)
	if err != nil {
		return zero, err
	}
	switch {
	case len(frames) == 2 && string(frames[0]) == string(errorMarker):
		return zero, c.s.errorf("call", "", &RemoteError{Msg: string(frames[1])})
	case len(frames) != 1:
		c.s.st.decodeErrors.Add(1)
		return zero, c.s.errorf("recv", "", &codec.DecodeError{Codec: c.r.Name(), Type: codec.TypeName[R](),
			Err: fmt.Errorf("want 1 frame, got %d", len(frames))})
	}
	v, err := codec.Decode(c.r, frames[0])
	if err != nil {
		c.s.st.decodeErrors.Add(1)
		return zero, c.s.errorf("recv", "", err)
	}
	return v, nil
}

// RepOf is a typed REP socket that serves requests with a handler.
type RepOf[Q, R any] struct {
	s *Socket
	q codec.Codec[Q]
	r codec.Codec[R]
}

// NewRepOf creates a typed REP socket.
func NewRepOf[Q, R any](qc codec.Codec[Q], rc codec.Codec[R], opts ...Option) (*RepOf[Q, R], error) {
	if qc == nil || rc == nil {
		return nil, fmt.Errorf("%w: nil codec", ErrBadOption)
	}
	s, err := New(Rep, opts...)
	if err != nil {
		return nil, err
	}
	return &RepOf[Q, R]{s: s, q: qc, r: rc}, nil
}

// Raw returns the untyped socket underneath, for what the RepOf does not offer.
func (s *RepOf[Q, R]) Raw() *Socket { return s.s }

// Listen binds an endpoint and returns it as bound (see Socket.Listen).
func (s *RepOf[Q, R]) Listen(endpoint string) (string, error) { return s.s.Listen(endpoint) }

// Unbind stops listening on an endpoint (see Socket.Unbind).
func (s *RepOf[Q, R]) Unbind(endpoint string) error { return s.s.Unbind(endpoint) }

// Dial connects to an endpoint in the background (see Socket.Dial).
func (s *RepOf[Q, R]) Dial(endpoint string) error { return s.s.Dial(endpoint) }

// Disconnect stops the connection made by Dial(endpoint).
func (s *RepOf[Q, R]) Disconnect(endpoint string) error { return s.s.Disconnect(endpoint) }

// Close closes the socket (see Socket.Close).
func (s *RepOf[Q, R]) Close() error { return s.s.Close() }

// Stats returns a snapshot of the socket's counters.
func (s *RepOf[Q, R]) Stats() Stats { return s.s.Stats() }

// Events returns the socket's monitor channel (see Socket.Events).
func (s *RepOf[Q, R]) Events() <-chan Event { return s.s.Events() }

// Peers lists the peers connected now (see Socket.Peers).
func (s *RepOf[Q, R]) Peers() []Peer { return s.s.Peers() }

// DisconnectPeers drops the connections of the peers drop picks (see
// Socket.DisconnectPeers).
func (s *RepOf[Q, R]) DisconnectPeers(drop func(Peer) bool) int { return s.s.DisconnectPeers(drop) }

// Handler answers one request.
type Handler[Q, R any] func(ctx context.Context, req Q) (R, error)

// Serve answers requests one at a time until ctx ends (it returns
// ctx.Err()) or the socket closes (ErrClosed). A request that does not
// decode, or a handler error, is answered with an error reply, so the
// caller gets an error rather than a hang. The handler's context names
// the caller: PeerFromContext (with PLAIN or CURVE, its Peer.UserID).
func (s *RepOf[Q, R]) Serve(ctx context.Context, h Handler[Q, R]) error {
	for {
		frames, from, err := s.s.RecvFrom(ctx)
		if err != nil {
			return err
		}
		var reply [][]byte
		hctx := NewPeerContext(ctx, from)
		frames, hctx, derr := s.requestHeaders(hctx, frames) // obs: headers.go
		var q Q
		if derr == nil {
			q, derr = s.decodeRequest(frames)
		}
		if derr != nil {
			reply = [][]byte{errorMarker, []byte(derr.Error())}
		} else if r, herr := h(hctx, q); herr != nil {
			reply = [][]byte{errorMarker, []byte(herr.Error())}
		} else if b, eerr := codec.Encode(s.r, r); eerr != nil {
			reply = [][]byte{errorMarker, []byte(eerr.Error())}
		} else {
			reply = [][]byte{b}
		}
		if err := s.s.Send(ctx, reply...); err != nil {
			return err
		}
	}
}

func (s *RepOf[Q, R]) decodeRequest(frames [][]byte) (Q, error) {
	if len(frames) != 1 {
		var zero Q
		s.s.st.decodeErrors.Add(1)
		return zero, &codec.DecodeError{Codec: s.q.Name(), Type: codec.TypeName[Q](), Err: fmt.Errorf("want 1 frame, got %d", len(frames))}
	}
	q, err := codec.Decode(s.q, frames[0])
	if err != nil {
		s.s.st.decodeErrors.Add(1)
	}
	return q, err
}
