package zmqwatermill

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/zmqkit/zmqkit/sockets"
)

// ErrPublisherClosed is returned by Publish after Close.
var ErrPublisherClosed = errors.New("zmqwatermill: publisher closed")

// Publisher publishes Watermill messages on a zmqkit socket: an XPUB in
// FanOut mode, a PUSH in Competing mode. It is safe for concurrent use;
// messages of one Publish call leave in order.
//
// In FanOut mode it also answers joins (see Subscriber.SubscribeInitialize):
// a goroutine reads the subscriptions its XPUB receives and, for each join
// request, publishes a welcome on the topic. Its socket announces a random
// id in its handshake (property X-Zmqwatermill-Publisher), by which a
// Subscriber tells the welcomes of its Publishers apart.
type Publisher struct {
	cfg  PublisherConfig
	log  watermill.LoggerAdapter
	sock *sockets.Socket
	addr []string

	ctx    context.Context // ends on Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	closeOnce sync.Once
	published atomic.Uint64
	welcomes  atomic.Uint64
}

// NewPublisher makes a Publisher and binds or connects its endpoints. A nil
// logger logs nothing.
func NewPublisher(config PublisherConfig, logger watermill.LoggerAdapter) (*Publisher, error) {
	if err := config.setDefaults(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = watermill.NopLogger{}
	}
	t := sockets.XPub
	if config.Mode == Competing {
		t = sockets.Push
	}
	opts := config.SocketOptions
	if config.Mode == FanOut {
		// Subscribers tell Publishers apart by it when they join.
		id, err := randomHex()
		if err != nil {
			return nil, err
		}
		opts = append([]sockets.Option{sockets.WithMetadata(publisherProperty, id)}, opts...)
	}
	s, addrs, err := open(t, opts, config.Endpoints)
	if err != nil {
		return nil, fmt.Errorf("zmqwatermill: publisher: %w", err)
	}
	p := &Publisher{cfg: config, log: logger.With(watermill.LogFields{"pubsub": "zmqkit", "mode": config.Mode.String()}), sock: s, addr: addrs}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	if config.Mode == FanOut {
		p.wg.Add(1)
		go p.answerJoins()
	}
	return p, nil
}

// Addrs returns the endpoints as bound (a tcp port 0 resolved) or
// connected, in the order of the config.
func (p *Publisher) Addrs() []string { return append([]string(nil), p.addr...) }

// Socket is the socket underneath, for its Stats and Events; do not send
// or receive on it.
func (p *Publisher) Socket() *sockets.Socket { return p.sock }

// Publish sends each message to topic: in FanOut mode to every Subscriber
// subscribed to it (dropping, counted in the socket's Stats, for one whose
// queue is full), in Competing mode to one consumer, waiting while none
// has room (until SendTimeout, the message's context, or Close; so does a
// FanOut Publisher with sockets.WithPubNoDrop). A message
// is sent as three frames (see the format in this package's doc); its
// payload is copied, so msg may be reused once Publish returns.
func (p *Publisher) Publish(topic string, messages ...*message.Message) error {
	if p.ctx.Err() != nil {
		return ErrPublisherClosed
	}
	if err := checkTopic(topic, p.cfg.Limits); err != nil {
		return err
	}
	for _, msg := range messages {
		m, err := encodeMessage(topic, msg.UUID, msg.Metadata, msg.Payload, p.cfg.Limits)
		if err != nil {
			return fmt.Errorf("zmqwatermill: publish %s to %q: %w", msg.UUID, topic, err)
		}
		if err := p.send(msg.Context(), m); err != nil {
			return fmt.Errorf("zmqwatermill: publish %s to %q: %w", msg.UUID, topic, err)
		}
		p.published.Add(1)
	}
	return nil
}

func (p *Publisher) send(mctx context.Context, m sockets.Msg) error {
	ctx := p.ctx
	var cancel context.CancelFunc
	if d := p.cfg.SendTimeout; d > 0 {
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	if mctx != nil && mctx.Done() != nil {
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		stop := context.AfterFunc(mctx, cancel)
		defer stop()
	}
	err := p.sock.SendMsg(ctx, m)
	if err != nil && (errors.Is(err, sockets.ErrClosed) || p.ctx.Err() != nil) {
		return ErrPublisherClosed
	}
	return err
}

// answerJoins publishes a welcome on a topic for each join request: a
// subscription to the topic frame followed by a nonce (see
// Subscriber.SubscribeInitialize). Being unique, a join request passes
// every XPUB on its way, verbose or not (a forwarder's included).
func (p *Publisher) answerJoins() {
	defer p.wg.Done()
	for {
		m, err := p.sock.RecvMsg(p.ctx)
		if err != nil {
			return
		}
		if m.Len() != 1 || len(m.Head) < 2 || m.Head[0] != 1 {
			continue // a cancel, or not a subscription
		}
		body := m.Head[1:]
		i := bytes.IndexByte(body, 0)
		if i < 0 || i == len(body)-1 {
			continue // a plain subscription, not a join
		}
		if err := p.sock.SendMsg(p.ctx, welcomeMsg(body[:i+1:i+1])); err != nil {
			if p.ctx.Err() == nil {
				p.log.Error("zmqwatermill: welcome not sent", err, watermill.LogFields{"topic": string(body[:i])})
			}
			continue
		}
		p.welcomes.Add(1)
	}
}

// PublisherStats counts what a Publisher did.
type PublisherStats struct {
	Published uint64 // messages handed to the socket
	Welcomes  uint64 // join requests answered (FanOut)
	Socket    sockets.Stats
}

// Stats returns the Publisher's counters and its socket's.
func (p *Publisher) Stats() PublisherStats {
	return PublisherStats{Published: p.published.Load(), Welcomes: p.welcomes.Load(), Socket: p.sock.Stats()}
}

// Close stops the Publisher: Publish calls waiting return
// ErrPublisherClosed, and the socket writes out what it has queued, within
// its linger period (sockets.WithLinger; zmqkit's default 5 s), then
// closes. Close is idempotent.
func (p *Publisher) Close() error {
	p.closeOnce.Do(func() {
		p.cancel()
		p.wg.Wait()
		p.sock.Close()
	})
	return nil
}
