package sockets

import (
	"context"
	"errors"
	"fmt"
	"iter"

	"github.com/zmqkit/zmqkit/codec"
)

// The typed sockets send and receive Go values through a codec.Codec. Each
// wraps a raw *Socket (embedded: Listen, Dial, Close, Stats, Events and the
// rest are the raw socket's) and adds no lock and no goroutine per message.
// A payload that does not decode is returned as an error matching
// codec.ErrDecode, counted in Stats().DecodeErrors, and the next receive
// goes on with the next message.

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

type typed[T any] struct {
	*Socket
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
	return typed[T]{Socket: s, c: c}, nil
}

// Raw returns the socket underneath.
func (t typed[T]) Raw() *Socket { return t.Socket }

// Codec returns the socket's codec.
func (t typed[T]) Codec() codec.Codec[T] { return t.c }

func (t typed[T]) encode(v T) ([]byte, error) {
	b, err := codec.Encode(t.c, v)
	if err != nil {
		return nil, t.errorf("send", "", err)
	}
	return b, nil
}

func (t typed[T]) decode(b []byte) (T, error) {
	v, err := codec.Decode(t.c, b)
	if err != nil {
		t.st.decodeErrors.Add(1)
		return v, t.errorf("recv", "", err)
	}
	return v, nil
}

// frameCountError reports a message with the wrong number of frames for a
// typed socket; it counts as a decode failure.
func (t typed[T]) frameCountError(frames [][]byte, want string) error {
	t.st.decodeErrors.Add(1)
	size := 0
	for _, f := range frames {
		size += len(f)
	}
	return t.errorf("recv", "", &codec.DecodeError{Codec: t.c.Name(), Type: codec.TypeName[T](), Size: size,
		Err: fmt.Errorf("want %s, got %d frames", want, len(frames))})
}

func (t typed[T]) recvValue(ctx context.Context) (T, error) {
	frames, err := t.Socket.Recv(ctx)
	if err != nil {
		var zero T
		return zero, err
	}
	return t.decodeOne(frames)
}

// recvValueFrom is recvValue that also says who sent the value.
func (t typed[T]) recvValueFrom(ctx context.Context) (T, Peer, error) {
	frames, from, err := t.Socket.RecvFrom(ctx)
	if err != nil {
		var zero T
		return zero, Peer{}, err
	}
	v, err := t.decodeOne(frames)
	return v, from, err
}

func (t typed[T]) decodeOne(frames [][]byte) (T, error) {
	if len(frames) != 1 {
		var zero T
		return zero, t.frameCountError(frames, "1 frame")
	}
	return t.decode(frames[0])
}

func (t typed[T]) sendValue(ctx context.Context, v T) error {
	b, err := t.encode(v)
	if err != nil {
		return err
	}
	return t.Socket.Send(ctx, b)
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
type PushOf[T any] struct{ typed[T] }

// NewPushOf creates a typed PUSH socket.
func NewPushOf[T any](c codec.Codec[T], opts ...Option) (*PushOf[T], error) {
	t, err := newTyped(Push, c, opts)
	return &PushOf[T]{t}, err
}

// Send encodes v and sends it to one peer (round-robin).
func (p *PushOf[T]) Send(ctx context.Context, v T) error { return p.sendValue(ctx, v) }

// PullOf is a typed PULL socket.
type PullOf[T any] struct{ typed[T] }

// NewPullOf creates a typed PULL socket.
func NewPullOf[T any](c codec.Codec[T], opts ...Option) (*PullOf[T], error) {
	t, err := newTyped(Pull, c, opts)
	return &PullOf[T]{t}, err
}

// Recv returns the next value.
func (p *PullOf[T]) Recv(ctx context.Context) (T, error) { return p.recvValue(ctx) }

// RecvFrom is Recv that also says who sent the value (see Socket.RecvFrom).
func (p *PullOf[T]) RecvFrom(ctx context.Context) (T, Peer, error) { return p.recvValueFrom(ctx) }

// All iterates over received values: for v, err := range pull.All(ctx).
// A decode error is yielded and iteration goes on; any other error ends it.
func (p *PullOf[T]) All(ctx context.Context) iter.Seq2[T, error] { return all(ctx, p.recvValue) }

// Chan delivers received values on a channel, for use in a select; it is
// closed when ctx ends, the socket closes, or after a terminal error.
func (p *PullOf[T]) Chan(ctx context.Context) <-chan Result[T] {
	return channel(ctx, p.Socket, p.recvValue)
}

// PairOf is a typed PAIR socket.
type PairOf[T any] struct{ typed[T] }

// NewPairOf creates a typed PAIR socket.
func NewPairOf[T any](c codec.Codec[T], opts ...Option) (*PairOf[T], error) {
	t, err := newTyped(Pair, c, opts)
	return &PairOf[T]{t}, err
}

// Send encodes v and sends it to the peer.
func (p *PairOf[T]) Send(ctx context.Context, v T) error { return p.sendValue(ctx, v) }

// Recv returns the next value.
func (p *PairOf[T]) Recv(ctx context.Context) (T, error) { return p.recvValue(ctx) }

// RecvFrom is Recv that also says who sent the value (see Socket.RecvFrom).
func (p *PairOf[T]) RecvFrom(ctx context.Context) (T, Peer, error) { return p.recvValueFrom(ctx) }

// All iterates over received values (see PullOf.All).
func (p *PairOf[T]) All(ctx context.Context) iter.Seq2[T, error] { return all(ctx, p.recvValue) }

// Chan delivers received values on a channel (see PullOf.Chan).
func (p *PairOf[T]) Chan(ctx context.Context) <-chan Result[T] {
	return channel(ctx, p.Socket, p.recvValue)
}

// DealerOf is a typed DEALER socket: values go round-robin to peers and
// come back fair-queued, one frame each.
type DealerOf[T any] struct{ typed[T] }

// NewDealerOf creates a typed DEALER socket.
func NewDealerOf[T any](c codec.Codec[T], opts ...Option) (*DealerOf[T], error) {
	t, err := newTyped(Dealer, c, opts)
	return &DealerOf[T]{t}, err
}

// Send encodes v and sends it to one peer.
func (d *DealerOf[T]) Send(ctx context.Context, v T) error { return d.sendValue(ctx, v) }

// Recv returns the next value.
func (d *DealerOf[T]) Recv(ctx context.Context) (T, error) { return d.recvValue(ctx) }

// RecvFrom is Recv that also says who sent the value (see Socket.RecvFrom).
func (d *DealerOf[T]) RecvFrom(ctx context.Context) (T, Peer, error) { return d.recvValueFrom(ctx) }

// All iterates over received values (see PullOf.All).
func (d *DealerOf[T]) All(ctx context.Context) iter.Seq2[T, error] { return all(ctx, d.recvValue) }

// Chan delivers received values on a channel (see PullOf.Chan).
func (d *DealerOf[T]) Chan(ctx context.Context) <-chan Result[T] {
	return channel(ctx, d.Socket, d.recvValue)
}

// RouterOf is a typed ROUTER socket talking to DEALER peers: each value
// travels with the routing id of the peer it comes from or goes to.
type RouterOf[T any] struct{ typed[T] }

// NewRouterOf creates a typed ROUTER socket.
func NewRouterOf[T any](c codec.Codec[T], opts ...Option) (*RouterOf[T], error) {
	t, err := newTyped(Router, c, opts)
	return &RouterOf[T]{t}, err
}

// Send encodes v and sends it to the peer with routing id id.
func (r *RouterOf[T]) Send(ctx context.Context, id []byte, v T) error {
	b, err := r.encode(v)
	if err != nil {
		return err
	}
	return r.Socket.Send(ctx, id, b)
}

// Recv returns the next value and the routing id of its sender.
func (r *RouterOf[T]) Recv(ctx context.Context) (Routed[T], error) {
	frames, err := r.Socket.Recv(ctx)
	if err != nil {
		return Routed[T]{}, err
	}
	return r.routed(frames)
}

// RecvFrom is Recv that also says who the sender is (see Socket.RecvFrom).
func (r *RouterOf[T]) RecvFrom(ctx context.Context) (Routed[T], Peer, error) {
	frames, from, err := r.Socket.RecvFrom(ctx)
	if err != nil {
		return Routed[T]{}, Peer{}, err
	}
	v, err := r.routed(frames)
	return v, from, err
}

func (r *RouterOf[T]) routed(frames [][]byte) (Routed[T], error) {
	if len(frames) != 2 {
		return Routed[T]{ID: frames[0]}, r.frameCountError(frames[1:], "1 frame after the routing id")
	}
	v, err := r.decode(frames[1])
	return Routed[T]{ID: frames[0], Value: v}, err
}

// All iterates over received values (see PullOf.All).
func (r *RouterOf[T]) All(ctx context.Context) iter.Seq2[Routed[T], error] { return all(ctx, r.Recv) }

// Chan delivers received values on a channel (see PullOf.Chan).
func (r *RouterOf[T]) Chan(ctx context.Context) <-chan Result[Routed[T]] {
	return channel(ctx, r.Socket, r.Recv)
}

// PubOf is a typed PUB socket.
type PubOf[T any] struct{ typed[T] }

// NewPubOf creates a typed PUB socket.
func NewPubOf[T any](c codec.Codec[T], opts ...Option) (*PubOf[T], error) {
	t, err := newTyped(Pub, c, opts)
	return &PubOf[T]{t}, err
}

// Publish sends v to the subscribers of topic: two frames, the topic then
// the value. With topic "" it is one frame, the value alone, which is what
// a libzmq subscriber using pyzmq's recv_json expects.
func (p *PubOf[T]) Publish(ctx context.Context, topic string, v T) error {
	b, err := p.encode(v)
	if err != nil {
		return err
	}
	if topic == "" {
		return p.Socket.Send(ctx, b)
	}
	return p.Socket.Send(ctx, []byte(topic), b)
}

// SubOf is a typed SUB socket.
type SubOf[T any] struct{ typed[T] }

// NewSubOf creates a typed SUB socket; subscribe with Subscribe or
// WithSubscribe.
func NewSubOf[T any](c codec.Codec[T], opts ...Option) (*SubOf[T], error) {
	t, err := newTyped(Sub, c, opts)
	return &SubOf[T]{t}, err
}

// Recv returns the next value with its topic ("" for one-frame messages).
func (s *SubOf[T]) Recv(ctx context.Context) (Published[T], error) {
	frames, err := s.Socket.Recv(ctx)
	if err != nil {
		return Published[T]{}, err
	}
	return s.published(frames)
}

// RecvFrom is Recv that also says which publisher sent the value (see
// Socket.RecvFrom).
func (s *SubOf[T]) RecvFrom(ctx context.Context) (Published[T], Peer, error) {
	frames, from, err := s.Socket.RecvFrom(ctx)
	if err != nil {
		return Published[T]{}, Peer{}, err
	}
	v, err := s.published(frames)
	return v, from, err
}

func (s *SubOf[T]) published(frames [][]byte) (Published[T], error) {
	switch len(frames) {
	case 1:
		v, err := s.decode(frames[0])
		return Published[T]{Value: v}, err
	case 2:
		v, err := s.decode(frames[1])
		return Published[T]{Topic: string(frames[0]), Value: v}, err
	}
	return Published[T]{Topic: string(frames[0])}, s.frameCountError(frames, "1 or 2 frames")
}

// All iterates over received values (see PullOf.All).
func (s *SubOf[T]) All(ctx context.Context) iter.Seq2[Published[T], error] { return all(ctx, s.Recv) }

// Chan delivers received values on a channel (see PullOf.Chan).
func (s *SubOf[T]) Chan(ctx context.Context) <-chan Result[Published[T]] {
	return channel(ctx, s.Socket, s.Recv)
}

// ErrRemote is matched by errors that a RepOf handler returned, as seen by
// the ReqOf caller.
var ErrRemote = errors.New("zmqkit: remote handler failed")

// RemoteError carries a handler's error message back to the caller.
type RemoteError struct{ Msg string }

func (e *RemoteError) Error() string { return "zmqkit: remote: " + e.Msg }

// Is makes errors.Is(err, ErrRemote) true.
func (e *RemoteError) Is(target error) bool { return target == ErrRemote }

// errorMarker is the first of the two frames of an error reply; a value
// reply is always one frame, so the two cannot be confused.
var errorMarker = []byte("zmqkit.error")

// ReqOf is a typed REQ socket: Call sends a Q and returns the R reply.
type ReqOf[Q, R any] struct {
	*Socket
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
	return &ReqOf[Q, R]{Socket: s, q: qc, r: rc}, nil
}

// Raw returns the socket underneath.
func (c *ReqOf[Q, R]) Raw() *Socket { return c.Socket }

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
		return zero, c.errorf("send", "", err)
	}
	if err := c.Socket.Send(ctx, b); err != nil {
		return zero, err
	}
	frames, err := c.Socket.Recv(ctx)
	if err != nil {
		return zero, err
	}
	switch {
	case len(frames) == 2 && string(frames[0]) == string(errorMarker):
		return zero, &RemoteError{Msg: string(frames[1])}
	case len(frames) != 1:
		c.st.decodeErrors.Add(1)
		return zero, c.errorf("recv", "", &codec.DecodeError{Codec: c.r.Name(), Type: codec.TypeName[R](),
			Err: fmt.Errorf("want 1 frame, got %d", len(frames))})
	}
	v, err := codec.Decode(c.r, frames[0])
	if err != nil {
		c.st.decodeErrors.Add(1)
		return zero, c.errorf("recv", "", err)
	}
	return v, nil
}

// RepOf is a typed REP socket that serves requests with a handler.
type RepOf[Q, R any] struct {
	*Socket
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
	return &RepOf[Q, R]{Socket: s, q: qc, r: rc}, nil
}

// Raw returns the socket underneath.
func (s *RepOf[Q, R]) Raw() *Socket { return s.Socket }

// Handler answers one request.
type Handler[Q, R any] func(ctx context.Context, req Q) (R, error)

// Serve answers requests one at a time until ctx ends (it returns
// ctx.Err()) or the socket closes (ErrClosed). A request that does not
// decode, or a handler error, is answered with an error reply, so the
// caller gets an error rather than a hang. The handler's context names
// the caller: PeerFromContext (with PLAIN or CURVE, its Peer.UserID).
func (s *RepOf[Q, R]) Serve(ctx context.Context, h Handler[Q, R]) error {
	for {
		frames, from, err := s.Socket.RecvFrom(ctx)
		if err != nil {
			return err
		}
		var reply [][]byte
		q, derr := s.decodeRequest(frames)
		if derr != nil {
			reply = [][]byte{errorMarker, []byte(derr.Error())}
		} else if r, herr := h(NewPeerContext(ctx, from), q); herr != nil {
			reply = [][]byte{errorMarker, []byte(herr.Error())}
		} else if b, eerr := codec.Encode(s.r, r); eerr != nil {
			reply = [][]byte{errorMarker, []byte(eerr.Error())}
		} else {
			reply = [][]byte{b}
		}
		if err := s.Socket.Send(ctx, reply...); err != nil {
			return err
		}
	}
}

func (s *RepOf[Q, R]) decodeRequest(frames [][]byte) (Q, error) {
	if len(frames) != 1 {
		var zero Q
		s.st.decodeErrors.Add(1)
		return zero, &codec.DecodeError{Codec: s.q.Name(), Type: codec.TypeName[Q](), Err: fmt.Errorf("want 1 frame, got %d", len(frames))}
	}
	q, err := codec.Decode(s.q, frames[0])
	if err != nil {
		s.st.decodeErrors.Add(1)
	}
	return q, err
}
