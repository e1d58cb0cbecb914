package zmqwatermill

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/zmqkit/zmqkit/sockets"
)

// Errors of a Subscriber.
var (
	// ErrSubscriberClosed is returned by Subscribe and SubscribeInitialize
	// after Close.
	ErrSubscriberClosed = errors.New("zmqwatermill: subscriber closed")
	// ErrNotJoined is returned, with RequireJoin, when no Publisher
	// confirmed a FanOut subscription within JoinTimeout.
	ErrNotJoined = errors.New("zmqwatermill: no publisher confirmed the subscription")
)

// Subscriber receives Watermill messages from a zmqkit socket: a SUB in
// FanOut mode, a PULL in Competing mode. It is safe for concurrent use.
//
// Each topic it has been asked for (by SubscribeInitialize or Subscribe)
// has a backlog, bounded by Backlog and BacklogBytes, where received
// messages wait for a subscription to take them; the topic stays for the
// Subscriber's life, whether or not a Subscribe is running, so that what
// arrives between two Subscribe calls waits for the second. Every Subscribe
// call returns a channel of its own; concurrent Subscribe calls on one
// topic of one Subscriber share its messages (each message to one of
// them), as members of one consumer group do. For a copy of every message
// per handler, give each handler a Subscriber of its own.
//
// A subscription gets its next message after it Acks or Nacks the one it
// has. A Nacked message goes back to the front of its topic's backlog and
// is delivered again, with the same UUID, metadata and payload, to this
// Subscriber only (nothing goes back over the network). A message taken by
// a subscription whose context then ends stays with it until Acked or
// Nacked. Close ends every subscription, closes its channel and cancels
// the context of every message not yet Acked; messages still in backlogs
// or socket queues are lost (nothing is persistent).
type Subscriber struct {
	cfg SubscriberConfig
	log watermill.LoggerAdapter

	ctx     context.Context // ends on Close
	cancel  context.CancelFunc
	closing chan struct{}
	wg      sync.WaitGroup

	mu     sync.Mutex
	closed bool
	topics map[string]*topic
	sock   *sockets.Socket // nil until started (Competing: the first topic)
	addr   []string

	closeOnce sync.Once

	received, delivered, acked, nacked atomic.Uint64
	malformed, unknown, dropped        atomic.Uint64
}

// NewSubscriber makes a Subscriber. In FanOut mode it binds or connects
// its endpoints now; in Competing mode at the first SubscribeInitialize or
// Subscribe. A nil logger logs nothing.
func NewSubscriber(config SubscriberConfig, logger watermill.LoggerAdapter) (*Subscriber, error) {
	if err := config.setDefaults(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = watermill.NopLogger{}
	}
	s := &Subscriber{
		cfg:     config,
		log:     logger.With(watermill.LogFields{"pubsub": "zmqkit", "mode": config.Mode.String()}),
		closing: make(chan struct{}),
		topics:  make(map[string]*topic),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if config.Mode == FanOut {
		s.mu.Lock()
		err := s.start()
		s.mu.Unlock()
		if err != nil {
			s.cancel()
			return nil, err
		}
	}
	return s, nil
}

// start opens the socket and starts reading it. Called with mu held.
func (s *Subscriber) start() error {
	if s.sock != nil {
		return nil
	}
	t := sockets.Sub
	if s.cfg.Mode == Competing {
		t = sockets.Pull
	}
	// Linger 0: a Subscriber has nothing to write out but subscriptions,
	// and Close should not wait for a peer that never came.
	opts := append([]sockets.Option{sockets.WithLinger(0)}, s.cfg.SocketOptions...)
	sock, addrs, err := open(t, opts, s.cfg.Endpoints)
	if err != nil {
		return fmt.Errorf("zmqwatermill: subscriber: %w", err)
	}
	s.sock, s.addr = sock, addrs
	s.wg.Add(1)
	go s.read()
	return nil
}

// Addrs returns the endpoints as bound (a tcp port 0 resolved) or
// connected; nil in Competing mode before the first topic.
func (s *Subscriber) Addrs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.addr...)
}

// SubscribeInitialize makes the Subscriber take topic's messages from now
// on, into the topic's backlog, whether or not a Subscribe is running.
//
// In FanOut mode it then joins: it asks the Publishers for a welcome and
// waits (up to JoinTimeout) until every peer its socket is connected to,
// and at least one, has sent one. A join request is a subscription to the
// topic frame followed by a random nonce: unique, so that every XPUB on
// its way passes it upstream, verbose or not, as a forwarder's does. A
// Publisher answers with a welcome on the topic, which reaches this
// Subscriber through the same subscription and the same hops as the
// topic's messages. The Subscriber tells its Publishers apart by the id
// each announces in its handshake; peers without one (forwarders) are all
// one to it: a welcome through any of them counts for all of them.
//
// So when SubscribeInitialize returns nil before JoinTimeout, each
// Publisher the Subscriber was connected to when it last looked (it looks
// again whenever a welcome comes, and at least every second) has the
// subscription in effect, and so has, through its forwarders, at least one
// Publisher behind one of them, all the way: what those Publishers publish to
// topic from then on reaches this Subscriber (unless a queue at its
// high-water mark drops it, or a connection breaks). A Publisher that
// connects later, or that sits behind a forwarder and did not answer, may
// not have it yet. Without the welcomes by JoinTimeout it
// returns ErrNotJoined with RequireJoin, and otherwise logs and returns
// nil: the subscription stands, and messages flow once a Publisher gets
// it. A topic joins once; later calls return at once.
//
// In Competing mode there is nothing to wait for: a PUSH keeps messages
// (up to its high-water mark) until a consumer takes them.
func (s *Subscriber) SubscribeInitialize(topic string) error {
	t, err := s.topic(topic)
	if err != nil {
		return err
	}
	return s.join(context.Background(), t)
}

// Subscribe returns a channel of topic's messages (see
// SubscribeInitialize, which it does first; a join gives up, with ctx's
// error, when ctx ends). The channel is closed when
// ctx ends or the Subscriber closes. Each message's context derives from
// ctx and is canceled when the message is Acked or Nacked, or on Close.
func (s *Subscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	t, err := s.topic(topic)
	if err != nil {
		return nil, err
	}
	if err := s.join(ctx, t); err != nil {
		return nil, err
	}
	sctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.ctx, cancel)
	context.AfterFunc(sctx, func() { stop() })
	sub := &subscription{ctx: sctx, out: make(chan *message.Message)}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		cancel()
		return nil, ErrSubscriberClosed
	}
	t.subscribe(sub)
	return sub.out, nil
}

// topic returns topic's state, making it (and subscribing the socket to
// it, or starting the socket in Competing mode) the first time.
func (s *Subscriber) topic(name string) (*topic, error) {
	if err := checkTopic(name, s.cfg.Limits); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrSubscriberClosed
	}
	if t := s.topics[name]; t != nil {
		return t, nil
	}
	if err := s.start(); err != nil {
		return nil, err
	}
	if s.cfg.Mode == FanOut {
		if err := s.sock.Subscribe(string(topicFrame(name))); err != nil {
			return nil, fmt.Errorf("zmqwatermill: subscribe %q: %w", name, err)
		}
	}
	t := newTopic(s, name)
	s.topics[name] = t
	s.wg.Add(1)
	go t.run()
	return t, nil
}

func (s *Subscriber) lookup(name string) *topic {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.topics[name]
}

// join waits until every peer the Subscriber is connected to, and at
// least one, has welcomed t (FanOut), asking again with a fresh nonce now
// and then in case a request was lost (a Publisher's queue full, or one
// that saw the request before the topic's subscription). Peers are looked
// at again at each turn: one that left is no longer waited for, one that
// came is.
func (s *Subscriber) join(ctx context.Context, t *topic) error {
	if s.cfg.Mode != FanOut || s.cfg.JoinTimeout < 0 || t.isJoined() {
		return nil
	}
	deadline := time.NewTimer(s.cfg.JoinTimeout)
	defer deadline.Stop()
	retry := 200 * time.Millisecond
	for {
		req, err := joinRequest(t.name)
		if err != nil {
			return err
		}
		if err := s.sock.Subscribe(req); err != nil {
			return s.closedOr(err)
		}
		again := time.NewTimer(retry)
		var result error
		done, asked := false, true
		for !done && asked {
			if t.welcomes() > 0 && len(s.waitingFor(t)) == 0 {
				t.markJoined()
				done = true
				break
			}
			select {
			case <-t.welcome:
			case <-s.closing:
				result, done = ErrSubscriberClosed, true
			case <-ctx.Done():
				result, done = ctx.Err(), true
			case <-deadline.C:
				result, done = s.notJoined(t), true
			case <-again.C:
				asked = false
				retry = min(2*retry, time.Second)
			}
		}
		again.Stop()
		if err := s.sock.Unsubscribe(req); err != nil && result == nil && done {
			result = s.closedOr(err)
		}
		if done {
			return result
		}
	}
}

func joinRequest(topic string) (string, error) {
	nonce, err := randomHex()
	if err != nil {
		return "", err
	}
	return topic + "\x00" + nonce, nil
}

// randomHex is 8 random bytes in hex.
func randomHex() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// publisherProperty is the handshake property a FanOut Publisher announces
// its id in.
const publisherProperty = "X-Zmqwatermill-Publisher"

// peerKey names the peer a welcome came from, or that the Subscriber is
// connected to: a Publisher of this package by its id, anything else (a
// forwarder) as "".
func peerKey(p sockets.Peer) string { return p.Property(publisherProperty) }

// waitingFor returns the peers connected now that have not welcomed t.
func (s *Subscriber) waitingFor(t *topic) []string {
	var out []string
	for _, p := range s.sock.Peers() {
		if k := peerKey(p); !t.welcomedBy(k) {
			out = append(out, k)
		}
	}
	return out
}

func (s *Subscriber) notJoined(t *topic) error {
	if s.cfg.RequireJoin {
		return fmt.Errorf("%w: topic %q within %v", ErrNotJoined, t.name, s.cfg.JoinTimeout)
	}
	s.log.Info("zmqwatermill: no publisher confirmed the subscription yet; it stands", watermill.LogFields{"topic": t.name, "join_timeout": s.cfg.JoinTimeout})
	return nil
}

func (s *Subscriber) closedOr(err error) error {
	if errors.Is(err, sockets.ErrClosed) {
		return ErrSubscriberClosed
	}
	return err
}

// read takes messages off the socket into their topics' backlogs.
func (s *Subscriber) read() {
	defer s.wg.Done()
	for {
		m, from, err := s.sock.RecvMsgFrom(s.ctx)
		if err != nil {
			return // closed
		}
		s.received.Add(1)
		d, err := decodeMessage(m, s.cfg.Limits)
		if err != nil {
			s.refuse(&s.malformed, "zmqwatermill: malformed message dropped", err, nil)
			continue
		}
		t := s.lookup(d.topic)
		if t == nil {
			// FanOut: a foreign publisher's message matching only by
			// prefix; Competing: a topic this Subscriber was not asked
			// for (every consumer of an endpoint must take every topic
			// sent there).
			s.refuse(&s.unknown, "zmqwatermill: message for a topic not subscribed dropped", nil, watermill.LogFields{"topic": d.topic})
			continue
		}
		if d.welcome {
			t.addWelcome(peerKey(from))
			continue
		}
		it := &item{uuid: d.uuid, meta: d.meta, payload: d.payload}
		if s.cfg.Mode == FanOut && !s.cfg.NoDrop {
			if !t.offer(it) {
				s.refuse(&s.dropped, "zmqwatermill: topic backlog full, message dropped", nil, watermill.LogFields{"topic": t.name})
			}
			continue
		}
		for !t.offer(it) {
			select {
			case <-t.space:
			case <-s.closing:
				return
			}
		}
	}
}

// refuse counts a dropped message and logs the 1st, 2nd, 4th, 8th, … of
// each kind, so that a peer sending garbage cannot flood the log.
func (s *Subscriber) refuse(c *atomic.Uint64, msg string, err error, f watermill.LogFields) {
	n := c.Add(1)
	if bits.OnesCount64(n) != 1 {
		return
	}
	f = f.Add(watermill.LogFields{"count": n})
	if err != nil {
		s.log.Error(msg, err, f)
	} else {
		s.log.Info(msg, f)
	}
}

// SubscriberStats counts what a Subscriber did.
type SubscriberStats struct {
	Received  uint64 // messages read from the socket (welcomes too)
	Delivered uint64 // deliveries to subscriptions (redeliveries too)
	Acked     uint64
	Nacked    uint64
	Malformed uint64 // refused by the decoder (see Limits)
	Unknown   uint64 // for a topic not subscribed
	Dropped   uint64 // FanOut: found their topic's backlog full
	Socket    sockets.Stats
}

// Stats returns the Subscriber's counters and its socket's.
func (s *Subscriber) Stats() SubscriberStats {
	st := SubscriberStats{
		Received: s.received.Load(), Delivered: s.delivered.Load(), Acked: s.acked.Load(), Nacked: s.nacked.Load(),
		Malformed: s.malformed.Load(), Unknown: s.unknown.Load(), Dropped: s.dropped.Load(),
	}
	s.mu.Lock()
	sock := s.sock
	s.mu.Unlock()
	if sock != nil {
		st.Socket = sock.Stats()
	}
	return st
}

// Close ends every subscription (their channels are closed when Close
// returns), cancels the context of every message not yet Acked, closes the
// socket and waits for the Subscriber's goroutines. Messages waiting in
// backlogs or queues are dropped. Close is idempotent.
func (s *Subscriber) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		sock := s.sock
		s.mu.Unlock()
		s.cancel()
		close(s.closing)
		if sock != nil {
			sock.Close()
		}
		s.wg.Wait()
	})
	return nil
}
