package sockets

import (
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/zmqkit/zmqkit/sockets/internal/engine"
)

// Option configures a socket at creation.
type Option func(*config) error

type config struct {
	engine.Options
	typ            Type
	linger         time.Duration
	routerMand     bool
	routerHandover bool
	reqRelaxed     bool
	reqCorrelate   bool
	xpubVerbose    bool
	xpubVerboser   bool // WithXPubVerboser (xpub_verboser.go)
	subFilter      func(Peer, []byte) bool
	maxSubs        int // per subscriber; 0: no limit
	maxSubBytes    int // per subscriber; 0: no limit
	pubNoDrop      bool
	subscribe      []string
	logger         *slog.Logger
	eventBuffer    int
	progressSet    int   // 0: the default; 1: set; -1: off
	budget         int64 // WithLargeFrameBudget; 0: the default, < 0: none
	socketSend     int64 // WithSocketBufferBytes; 0: none
	socketRecv     int64
	hooks          hooks // obs: WithHooks (hooks.go)
	headers        bool  // obs: WithHeaders (headers.go)
	// Dial sets (resolver.go).
	resolvers       map[string]Resolver
	dns             *net.Resolver
	dnsAddr         string
	resolveInterval time.Duration
	resolveTimeout  time.Duration
	maxMembers      int
}

func defaultConfig(t Type) config {
	return config{
		typ: t,
		Options: engine.Options{
			Type:             zmq4.SocketType(t),
			SendHWM:          1000,
			RecvHWM:          1000,
			SendBytes:        DefaultBufferBytes,
			RecvBytes:        DefaultBufferBytes,
			MaxMsgSize:       DefaultMaxMsgSize,
			HandshakeTimeout: 30 * time.Second,
			ReconnectIvl:     100 * time.Millisecond,
			ConnectTimeout:   DefaultConnectTimeout,
		},
		resolveInterval: DefaultResolveInterval,
		resolveTimeout:  DefaultResolveTimeout,
		maxMembers:      DefaultMaxMembers,
		linger:          DefaultLinger,
		eventBuffer:     256,
		maxSubs:         DefaultMaxSubscriptions,
		maxSubBytes:     DefaultMaxSubscriptionBytes,
		socketSend:      DefaultSocketBufferBytes,
		socketRecv:      DefaultSocketBufferBytes,
	}
}

// resolve fills in the defaults that depend on other options.
func (c *config) resolve() {
	if c.progressSet == 0 {
		c.ProgressTimeout = c.HandshakeTimeout
	} else if c.progressSet < 0 {
		c.ProgressTimeout = 0
	}
	limit := c.budget
	if limit == 0 {
		limit = 1 << 30
		if c.MaxMsgSize > 0 {
			limit = 2 * c.MaxMsgSize
		}
	}
	if limit > 0 {
		c.Budget = &engine.Budget{Limit: limit}
	}
	if c.socketSend > 0 {
		c.SendPool = &engine.Pool{Limit: c.socketSend}
	}
	if c.socketRecv > 0 {
		c.RecvPool = &engine.Pool{Limit: c.socketRecv}
	}
}

// DefaultMaxMsgSize is the largest message a tcp or ipc peer may send unless
// WithMaxMsgSize says otherwise. libzmq has no limit by default; we keep one
// so that a frame header announcing 2^62 bytes costs a connection, not the
// process. inproc messages are never limited.
const DefaultMaxMsgSize = 256 << 20

// DefaultLinger is how long Close waits to deliver queued messages: to
// write them out to connected peers and, for a Dial whose peer is not
// there, to keep reconnecting in case it comes. libzmq's default is to wait
// forever; a bounded wait keeps Close from hanging on a peer that went away.
const DefaultLinger = 5 * time.Second

// WithSendHWM sets the send high-water mark: how many messages may wait for
// each peer (0: no limit). libzmq's default is 1000.
func WithSendHWM(n int) Option {
	return func(c *config) error {
		if n < 0 {
			return fmt.Errorf("%w: send HWM %d < 0", ErrBadOption, n)
		}
		c.SendHWM = n
		return nil
	}
}

// WithRecvHWM sets the receive high-water mark per peer (0: no limit).
// libzmq's default is 1000.
func WithRecvHWM(n int) Option {
	return func(c *config) error {
		if n < 0 {
			return fmt.Errorf("%w: receive HWM %d < 0", ErrBadOption, n)
		}
		c.RecvHWM = n
		return nil
	}
}

// DefaultBufferBytes bounds, by default, what each pipe's queue holds in
// bytes, each way: besides the HWM's 1000 messages, at most this many bytes
// of messages, each frame counted with a fixed overhead of 32 bytes on top
// of its payload, so that a message of 65,535 empty frames counts as the
// 2 MiB of bookkeeping it really is. libzmq bounds its queues by messages
// only; at its default HWM a peer sending messages of DefaultMaxMsgSize
// could make it hold 1000 × 256 MiB. 32 MiB keeps 1000 messages of up to
// 32 KiB within the HWM, so it is the HWM that binds for typical traffic;
// a message larger than the bound still passes an empty queue.
const DefaultBufferBytes = 32 << 20

// DefaultSocketBufferBytes bounds, by default, what all of a socket's tcp
// and ipc peers together can make it hold in queued messages, each way:
// however many peers connect, their queues share this many bytes
// (counted as for DefaultBufferBytes). It is sixteen peers' worth of full
// queues; a socket with many busy peers may want more.
const DefaultSocketBufferBytes = 512 << 20

// WithSocketBufferBytes bounds what the queues of all the socket's tcp and
// ipc peers hold together: send for messages waiting to go out, recv for
// received messages waiting for Recv (0: no bound). A queue finds itself
// full while its socket's total is at the bound, as at its own HWM: a
// connection stops reading until Recv makes room, PUSH and DEALER wait,
// PUB and ROUTER drop for that peer. Default DefaultSocketBufferBytes each
// way; inproc peers do not count (their queues are both sockets'). libzmq
// has no such bound.
func WithSocketBufferBytes(send, recv int64) Option {
	return func(c *config) error {
		if send < 0 || recv < 0 {
			return fmt.Errorf("%w: socket buffer bytes %d, %d < 0", ErrBadOption, send, recv)
		}
		c.socketSend, c.socketRecv = send, recv
		return nil
	}
}

// WithSendBufferBytes bounds, per peer, the bytes of messages waiting to be
// sent (0: no bound beyond the send HWM). When either bound is reached the
// socket acts as at its HWM (waits, or drops for PUB and ROUTER). Default
// DefaultBufferBytes; libzmq has no such bound.
func WithSendBufferBytes(n int64) Option {
	return func(c *config) error {
		if n < 0 {
			return fmt.Errorf("%w: send buffer bytes %d < 0", ErrBadOption, n)
		}
		c.SendBytes = n
		return nil
	}
}

// WithRecvBufferBytes bounds, per peer, the bytes of received messages
// waiting for Recv (0: no bound beyond the receive HWM). When either bound
// is reached the connection stops reading until Recv makes room, so the
// peer is pushed back through TCP. Default DefaultBufferBytes.
func WithRecvBufferBytes(n int64) Option {
	return func(c *config) error {
		if n < 0 {
			return fmt.Errorf("%w: receive buffer bytes %d < 0", ErrBadOption, n)
		}
		c.RecvBytes = n
		return nil
	}
}

// WithProgressTimeout bounds how slowly a message may arrive: once a
// message has begun, each next 64 KiB of it (or its end) must arrive within
// d, or the connection is dropped with EventStalled (ErrStalled). Without
// it a peer could hold a half-sent frame, and the memory taken for it, for
// ever, or trickle it at a few bytes a second (heartbeats only look for
// silence). d == 0 turns it off. Default: the handshake timeout (30 s
// unless WithHandshakeTimeout), so a peer must send at least 64 KiB per
// 30 s once it has started a message. libzmq has no such bound.
func WithProgressTimeout(d time.Duration) Option {
	return func(c *config) error {
		switch {
		case d < 0:
			return fmt.Errorf("%w: progress timeout %v < 0", ErrBadOption, d)
		case d == 0:
			c.progressSet = -1
		default:
			c.progressSet, c.ProgressTimeout = 1, d
		}
		return nil
	}
}

// WithLargeFrameBudget bounds the bytes that large frames (16 KiB and
// more) still arriving may hold, across every connection of the socket
// together. A frame is read into memory as its bytes arrive and charged
// here until it is whole (then it counts against the receiving peer's
// WithRecvBufferBytes); a frame that would take the budget past n drops its
// connection with EventMessageTooLarge (ErrFrameBudget). n < 0 removes the
// bound. Default: twice the maximum message size (512 MiB with
// DefaultMaxMsgSize; 1 GiB when WithMaxMsgSize removed the limit), so one
// peer sending a message of the largest size never hits it. libzmq has no
// such bound.
func WithLargeFrameBudget(n int64) Option {
	return func(c *config) error {
		if n == 0 {
			return fmt.Errorf("%w: large frame budget 0 (use < 0 for none)", ErrBadOption)
		}
		c.budget = n
		return nil
	}
}

// WithMaxConnections bounds the connections each Listen endpoint holds at
// once, counting those still in their handshake (0: no bound, the
// default, as libzmq). A connection over the bound is closed as soon as it
// is accepted, counted in Stats.Rejected and reported as EventRejected
// with ErrTooManyConnections.
func WithMaxConnections(n int) Option {
	return func(c *config) error {
		if n < 0 {
			return fmt.Errorf("%w: max connections %d < 0", ErrBadOption, n)
		}
		c.MaxConns = n
		return nil
	}
}

// WithLinger sets how long Close waits for queued messages to be written
// (0: drop them at once). Default DefaultLinger.
func WithLinger(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("%w: linger %v < 0", ErrBadOption, d)
		}
		c.linger = d
		return nil
	}
}

// WithMaxMsgSize sets the largest message (all frames together) a peer may
// send; a larger one drops that connection before any memory is taken for
// it. n <= 0 removes the limit (a frame's memory then still grows only as
// its bytes arrive). Default DefaultMaxMsgSize.
func WithMaxMsgSize(n int64) Option {
	return func(c *config) error { c.MaxMsgSize = n; return nil }
}

// WithHandshakeTimeout bounds the ZMTP handshake of each connection
// (libzmq's ZMQ_HANDSHAKE_IVL, default 30 s).
func WithHandshakeTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("%w: handshake timeout %v <= 0", ErrBadOption, d)
		}
		c.HandshakeTimeout = d
		return nil
	}
}

// WithReconnect sets the interval between connection attempts of Dial and,
// when max > ivl, the cap of its exponential back-off. Each wait has ±25%
// jitter. libzmq's defaults: 100 ms, no back-off.
func WithReconnect(ivl, max time.Duration) Option {
	return func(c *config) error {
		if ivl <= 0 || max < 0 {
			return fmt.Errorf("%w: reconnect interval %v, max %v", ErrBadOption, ivl, max)
		}
		c.ReconnectIvl, c.ReconnectMax = ivl, max
		return nil
	}
}

// WithRetryAuthFailures(true) keeps a Dial reconnecting after the server
// refused its PLAIN or CURVE handshake (ErrRefusedByServer: credentials,
// key, wrong server public key), as libzmq does. By default such a Dial
// stops: its EventHandshakeFailed says why and matches ErrDialStopped, and
// it tries no more, since the same credentials would be refused again (a
// server that will admit them later, after a key rotation say, is a case
// for this option).
func WithRetryAuthFailures(on bool) Option {
	return func(c *config) error {
		c.RetryAuthFailures = on
		return nil
	}
}

// WithHeartbeat sends a ZMTP PING every ivl and drops a connection that
// stays silent for ivl+timeout (timeout 0: ivl); ttl is sent in the PING to
// ask the peer to drop us after that long without traffic (0: none). Off by
// default, as in libzmq.
func WithHeartbeat(ivl, timeout, ttl time.Duration) Option {
	return func(c *config) error {
		if ivl < 0 || timeout < 0 || ttl < 0 || ttl > 6553500*time.Millisecond {
			return fmt.Errorf("%w: heartbeat %v/%v/%v", ErrBadOption, ivl, timeout, ttl)
		}
		c.HeartbeatIvl, c.HeartbeatTimeout, c.HeartbeatTTL = ivl, timeout, ttl
		return nil
	}
}

// WithRoutingID sets the identity this socket announces to its peers (up to
// 255 bytes, not starting with a zero byte); a ROUTER peer routes by it.
func WithRoutingID(id []byte) Option {
	return func(c *config) error {
		if len(id) > 255 || (len(id) > 0 && id[0] == 0) {
			return fmt.Errorf("%w: routing id must be 1-255 bytes not starting with 0", ErrBadOption)
		}
		c.Identity = append([]byte(nil), id...)
		return nil
	}
}

// WithImmediate queues messages only to completed connections: a Dial pipe
// exists only while connected (libzmq's ZMQ_IMMEDIATE; default off).
func WithImmediate(on bool) Option {
	return func(c *config) error { c.Immediate = on; return nil }
}

// WithMetadata adds an application property to what the socket announces
// in every handshake (libzmq's ZMQ_METADATA): a peer reads it with
// Peer.Property, a libzmq peer with zmq_msg_gets. As in libzmq the name
// must begin with "X-"; it is at most 255 characters of letters, digits
// and "-_.+" (RFC 23), and names are compared without regard to case, so
// a second WithMetadata of the same name replaces the first. The handshake, which
// writes the properties, reserves X-Socket-Type and X-Identity. The values
// may add up to 32 KiB: a handshake frame is bounded (64 KiB here) so that
// a peer cannot make us allocate at will before it is even admitted.
func WithMetadata(name, value string) Option {
	return func(c *config) error {
		rest, ok := cutPrefixFold(name, "X-")
		if !ok || rest == "" || len(name) > 255 {
			return fmt.Errorf("%w: metadata name %q: want X- and a name, 255 characters at most", ErrBadOption, name)
		}
		for _, r := range name {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.+", r)) {
				return fmt.Errorf("%w: metadata name %q: %q is not a letter, digit or one of -_.+", ErrBadOption, name, r)
			}
		}
		if strings.EqualFold(rest, "Socket-Type") || strings.EqualFold(rest, "Identity") {
			return fmt.Errorf("%w: metadata name %q is reserved", ErrBadOption, name)
		}
		m := make(map[string]string, len(c.Metadata)+1)
		size := len(value)
		for k, v := range c.Metadata {
			if !strings.EqualFold(k, name) {
				m[k] = v
				size += len(v)
			}
		}
		if size > maxMetadata {
			return fmt.Errorf("%w: metadata %q: values of more than %d bytes in all", ErrBadOption, name, maxMetadata)
		}
		m[name] = value
		c.Metadata = m
		return nil
	}
}

const maxMetadata = 32 << 10

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return s, false
	}
	return s[len(prefix):], true
}

// WithConflate makes the socket keep only the newest message per peer,
// for a reader that wants the latest state rather than every update
// (libzmq's ZMQ_CONFLATE): a newer message replaces an older one still
// waiting, and Stats.Conflated counts those replaced. It works on the
// queues that carry messages: inbound on PULL and SUB (a SUB filters by
// subscription before it keeps one), outbound on PUSH and PUB, both on
// DEALER; the high-water marks then do not apply, and Send never waits.
// Unlike libzmq's, it keeps whole multipart messages.
func WithConflate(on bool) Option {
	return func(c *config) error {
		if err := onlyFor(c, "WithConflate", Pull, Push, Sub, Pub, Dealer); err != nil {
			return err
		}
		in := c.typ == Pull || c.typ == Sub || c.typ == Dealer
		out := c.typ == Push || c.typ == Pub || c.typ == Dealer
		c.ConflateIn, c.ConflateOut = on && in, on && out
		return nil
	}
}

// WithRouterMandatory makes a ROUTER report an unknown routing id with
// ErrHostUnreachable, and wait at a full peer, instead of dropping
// (ZMQ_ROUTER_MANDATORY; default off).
func WithRouterMandatory(on bool) Option {
	return func(c *config) error {
		if err := onlyFor(c, "WithRouterMandatory", Router); err != nil {
			return err
		}
		c.routerMand = on
		return nil
	}
}

// onlyFor refuses an option that c's socket type does not take, as libzmq
// refuses such a setsockopt with EINVAL.
func onlyFor(c *config, option string, types ...Type) error {
	for _, t := range types {
		if c.typ == t {
			return nil
		}
	}
	return fmt.Errorf("%w: %s on a %s socket (%v only)", ErrBadOption, option, c.typ, types)
}

// WithRouterHandover makes a ROUTER give a routing id to the newest peer
// that claims it, disconnecting the older one; by default the newer peer is
// refused (ZMQ_ROUTER_HANDOVER). Only an id the older peer announced itself
// passes on: an id the ROUTER generated for an anonymous peer, or one
// DialRouted gave, is never handed over (such a newcomer is refused), and a
// peer cannot claim a generated id anyway, as announced ids starting with a
// zero byte are ignored.
func WithRouterHandover(on bool) Option {
	return func(c *config) error {
		if err := onlyFor(c, "WithRouterHandover", Router); err != nil {
			return err
		}
		c.routerHandover = on
		return nil
	}
}

// WithReqRelaxed lets a REQ send a new request before the reply to the
// last one came (ZMQ_REQ_RELAXED; default off: such a Send fails with
// ErrState). The earlier request is abandoned: the new one goes to the next
// peer in turn, so a peer that never answers does not stall the socket,
// replies already queued are dropped, and Recv waits only for a reply from
// the peer the new request went to. That peer may still be the one asked
// before (with a single peer it always is), and a late reply from it to the
// abandoned request is then taken as the answer: add WithReqCorrelate to
// tell the two apart. A Send while another Send still waits for room fails
// with ErrState. REQ only; any other type fails with ErrBadOption.
func WithReqRelaxed(on bool) Option {
	return func(c *config) error {
		if err := onlyFor(c, "WithReqRelaxed", Req); err != nil {
			return err
		}
		c.reqRelaxed = on
		return nil
	}
}

// WithReqCorrelate makes a REQ put a 4-byte request id in front of the
// empty delimiter of each request, and take only a reply that echoes the
// current id there; other replies are dropped and counted in
// Stats.DroppedReplies (ZMQ_REQ_CORRELATE; default off). REP and ROUTER
// peers, libzmq's included, return the envelope unchanged. The id starts at
// a random value and goes up by one per request. Usually combined with
// WithReqRelaxed. REQ only; any other type fails with ErrBadOption.
func WithReqCorrelate(on bool) Option {
	return func(c *config) error {
		if err := onlyFor(c, "WithReqCorrelate", Req); err != nil {
			return err
		}
		c.reqCorrelate = on
		return nil
	}
}

// WithXPubVerbose makes an XPUB deliver every subscription message, not
// only the first for each topic (ZMQ_XPUB_VERBOSE).
func WithXPubVerbose(on bool) Option {
	return func(c *config) error {
		if err := onlyFor(c, "WithXPubVerbose", XPub); err != nil {
			return err
		}
		c.xpubVerbose = on
		return nil
	}
}

// WithPubNoDrop makes a PUB or XPUB wait, instead of dropping, when a
// matching subscriber is at its high-water mark: Send returns once every
// matching subscriber has taken the message, or with ctx's error having
// given it to none (libzmq's ZMQ_XPUB_NODROP, whose send fails with EAGAIN
// instead of waiting). The publisher then goes at the pace of its slowest
// subscriber; without it, a slow subscriber loses messages and the others
// do not wait.
func WithPubNoDrop(on bool) Option {
	return func(c *config) error {
		if err := onlyFor(c, "WithPubNoDrop", Pub, XPub); err != nil {
			return err
		}
		c.pubNoDrop = on
		return nil
	}
}

// WithSubscriptionFilter makes a PUB or XPUB ask allow about every
// subscription as it arrives, with the subscriber's Peer (with PLAIN or
// CURVE, Peer.UserID says who it is): a refused one is not applied, so
// nothing of that topic goes to that subscriber, an XPUB's Recv does not
// see it, and Stats.SubscriptionsRefused counts it. ZMTP has no way to tell
// the subscriber; it simply receives nothing for it. allow runs on the
// connection's reader: it must be quick and must not block. topic is only
// valid during the call.
func WithSubscriptionFilter(allow func(p Peer, topic []byte) bool) Option {
	return func(c *config) error {
		if err := onlyFor(c, "WithSubscriptionFilter", Pub, XPub); err != nil {
			return err
		}
		c.subFilter = allow
		return nil
	}
}

// Limits on what one subscriber may make a PUB or XPUB hold, unless
// WithMaxSubscriptions and WithMaxSubscriptionBytes say otherwise. libzmq
// has none: a subscriber there can make its publisher hold any number of
// topics of any size (each up to the maximum message size).
//
// A subscriber's topics cost the publisher their bytes plus some 80 bytes
// each (an XPUB, which also counts subscribers per topic, some 200), and
// no time per message beyond the length of its first frame. 100,000
// topics, and 4 MiB of topic bytes (40 bytes a topic at the full count),
// are more than a real subscriber holds: a whole equity market is some
// 10,000 symbols, and a topic is usually a short name or id. Yet they
// bound what one hostile peer can make a publisher hold to about 12 MiB
// (an XPUB, 24 MiB).
//
// A publisher upstream of a forwarder (devices.NewForwarder) receives the
// distinct topics of all the forwarder's subscribers on one connection:
// give it limits that fit them all.
const (
	DefaultMaxSubscriptions     = 100_000
	DefaultMaxSubscriptionBytes = 4 << 20
)

// WithMaxSubscriptions sets how many topics each subscriber of a PUB or
// XPUB may subscribe to at once (0: no limit, as in libzmq; default
// DefaultMaxSubscriptions). A subscription beyond it is refused: not
// applied, not shown to an XPUB's Recv, counted in
// Stats.SubscriptionsOverLimit, and logged (once per connection) through
// WithLogger's logger; the connection stays, with the subscriptions it
// has, and its cancel of a refused topic does nothing. A subscription to
// a topic the subscriber holds already is never refused. PUB and XPUB
// only.
func WithMaxSubscriptions(n int) Option {
	return func(c *config) error {
		if err := onlyFor(c, "WithMaxSubscriptions", Pub, XPub); err != nil {
			return err
		}
		if n < 0 {
			return fmt.Errorf("%w: max subscriptions %d < 0", ErrBadOption, n)
		}
		c.maxSubs = n
		return nil
	}
}

// WithMaxSubscriptionBytes sets how many bytes of topics each subscriber
// of a PUB or XPUB may subscribe to at once, all its topics' lengths
// together (0: no limit, as in libzmq; default
// DefaultMaxSubscriptionBytes). A subscription that would go beyond it is
// refused as with WithMaxSubscriptions. PUB and XPUB only.
func WithMaxSubscriptionBytes(n int) Option {
	return func(c *config) error {
		if err := onlyFor(c, "WithMaxSubscriptionBytes", Pub, XPub); err != nil {
			return err
		}
		if n < 0 {
			return fmt.Errorf("%w: max subscription bytes %d < 0", ErrBadOption, n)
		}
		c.maxSubBytes = n
		return nil
	}
}

// WithSubscribe subscribes a SUB (or XSUB) socket to prefix from the start.
func WithSubscribe(prefix string) Option {
	return func(c *config) error {
		if err := onlyFor(c, "WithSubscribe", Sub, XSub); err != nil {
			return err
		}
		c.subscribe = append(c.subscribe, prefix)
		return nil
	}
}

// WithLogger sets where the socket logs connection life (default: nowhere).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error { c.logger = l; return nil }
}

// WithEventBuffer sets how many monitor events wait unread before new ones
// are dropped (and counted in Stats.EventsDropped). Default 256.
func WithEventBuffer(n int) Option {
	return func(c *config) error {
		if n < 0 {
			return fmt.Errorf("%w: event buffer %d < 0", ErrBadOption, n)
		}
		c.eventBuffer = n
		return nil
	}
}

// DefaultConnectTimeout bounds each tcp or ipc connection attempt of a Dial
// unless WithConnectTimeout says otherwise.
const DefaultConnectTimeout = 10 * time.Second

// WithConnectTimeout bounds each tcp or ipc connection attempt of a Dial:
// an attempt that has not connected within d fails (EventConnectRetried,
// with an error whose Timeout() is true) and the Dial tries again after
// its reconnect interval. Without a bound, an address that drops packets
// holds the Dial for the kernel's SYN timeout (about two minutes on
// Linux) before it tries again. d == 0 leaves only the system's timeout,
// which is libzmq's default (ZMQ_CONNECT_TIMEOUT 0); the default here is
// DefaultConnectTimeout. The handshake that follows has its own bound
// (WithHandshakeTimeout).
func WithConnectTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("%w: connect timeout %v < 0", ErrBadOption, d)
		}
		c.ConnectTimeout = d
		return nil
	}
}

// ReconnectStop names failures after which a Dial stops reconnecting; see
// WithReconnectStop.
type ReconnectStop uint8

// The failures a Dial can stop on.
const (
	// StopOnRefused: a connection attempt was refused, so nothing listens
	// at the address (libzmq's ZMQ_RECONNECT_STOP_CONN_REFUSED).
	StopOnRefused ReconnectStop = 1 << iota
	// StopOnHandshakeFailed: the ZMTP handshake failed, for any reason
	// (libzmq's ZMQ_RECONNECT_STOP_HANDSHAKE_FAILED).
	StopOnHandshakeFailed
)

// WithReconnectStop makes a Dial stop reconnecting after the failures in
// stop (StopOnRefused, StopOnHandshakeFailed, or both or-ed together),
// as libzmq's ZMQ_RECONNECT_STOP does: the Dial then reports
// EventDialStopped, whose Err matches ErrDialStopped and the failure
// (errors.Is(err, syscall.ECONNREFUSED) for a refusal), counts it in
// Stats.DialStops, and tries no more; what its pipe held is dropped.
// Disconnect and Dial again to start anew. The default, 0, is libzmq's:
// keep reconnecting. Independently of this option a Dial stops when the
// server refuses its PLAIN or CURVE credentials (see WithRetryAuthFailures).
// A dial set's member that stops is not dialed again while its resolver
// still lists it.
func WithReconnectStop(stop ReconnectStop) Option {
	return func(c *config) error {
		if stop&^(StopOnRefused|StopOnHandshakeFailed) != 0 {
			return fmt.Errorf("%w: reconnect stop %#x", ErrBadOption, uint8(stop))
		}
		c.ReconnectStop = engine.ReconnectStop(stop)
		return nil
	}
}
