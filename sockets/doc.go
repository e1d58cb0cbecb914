// Package sockets is zmqkit's socket layer: ZeroMQ's socket types over ZMTP
// 3.x, so that a socket here and one made with libzmq (C, pyzmq, any
// binding) are peers.
//
// # Sockets
//
// New makes a socket of a Type (PUSH, PULL, PUB, SUB, XPUB, XSUB, REQ, REP,
// DEALER, ROUTER, PAIR); NewPush and the others are shorthands. Listen binds
// an endpoint (tcp://host:port, ipc:///path, inproc://name) and Dial
// connects to one, in the background and again after every loss; a socket
// may do both, on many endpoints. Send and Recv take a context, which bounds
// any wait, and are safe for concurrent use; TrySend and TryRecv never
// wait, and return ErrWouldBlock instead. Close wakes every waiter with
// ErrClosed and waits at most the linger period to write out what is queued.
// Messages are multipart: Send takes frames, Recv returns them, and SendMsg
// and RecvMsg move a Msg without allocating, for code that forwards;
// SendMsgs and RecvMsgs move a batch of them at a time. Send
// takes the frames over (do not modify them afterwards), and what Recv
// returns belongs to the caller: no other receiver sees the frames, even
// where one message goes to many (a PUB's inproc subscribers each get
// their own copy).
//
// Each type routes as its ZeroMQ RFC says (round-robin, fair-queued,
// fan-out by prefix, strict request/reply, routing ids) and meets a full
// peer as libzmq does: PUSH, DEALER and PAIR wait, PUB drops for that
// subscriber only, ROUTER drops unless WithRouterMandatory. What is
// dropped is counted in Stats.
//
// Options follow libzmq's names and defaults (high-water marks, heartbeats,
// reconnect interval, routing ids, ZMQ_IMMEDIATE, ZMQ_CONFLATE, REQ_RELAXED
// and REQ_CORRELATE, ROUTER_MANDATORY and ROUTER_HANDOVER, XPUB_VERBOSE),
// with three deliberate differences: linger is 5 s, not forever; a message
// may be at most 256 MiB unless WithMaxMsgSize says otherwise; and each
// subscriber of a PUB or XPUB may hold at most DefaultMaxSubscriptions
// topics, of DefaultMaxSubscriptionBytes in all, unless
// WithMaxSubscriptions and WithMaxSubscriptionBytes say otherwise
// (matching a message costs the length of its first frame, however many
// topics there are). An option given to a type it means nothing to is an
// error, not a silent no-op.
//
// # Security
//
// WithPlainServer and WithPlain are ZMTP PLAIN (RFC 24) with an
// authentication function in place of a ZAP handler; WithCurveServer and
// WithCurve are CurveZMQ (RFC 26), keys in libzmq's Z85 form (CurveKey,
// ParseCurveKey). RecvFrom and RecvMsgFrom say who sent each message: a
// Peer with the socket type, routing id and address of the connection it
// came in on, its handshake metadata, and UserID, the PLAIN user or CURVE
// key that this side checked, which a peer cannot claim for itself. A
// ROUTER answers PeerOf for a routing id, RepOf handlers find the caller
// with PeerFromContext, and a PUB or XPUB may refuse subscriptions by
// subscriber with WithSubscriptionFilter. WithMetadata adds properties of
// one's own to the handshake.
//
// # Watching
//
// Stats returns counters (messages and bytes each way, drops, connects and
// disconnects, and every kind of bad input that cost a peer its
// connection); Events delivers connection life as it happens, after
// libzmq's zmq_socket_monitor: every connection that ends is reported
// with EventDisconnected, after the event that names the reason if there
// is one (EventHeartbeatTimeout, EventMessageTooLarge, EventProtocolError).
// Whatever a peer sends, however malformed,
// costs at most its own connection, which is dropped, counted and reported.
//
// # Errors
//
// Every method's error is an *OpError, after net.OpError: the operation,
// the socket's type, the endpoint when one is concerned, and the cause,
// printed once each, as "zmqkit: push dial tcp://host:5555: invalid
// endpoint: …". Test the cause with errors.Is against the sentinels
// (ErrClosed, ErrWouldBlock, ErrState, ErrAuth, ErrAddrInUse, which for
// tcp and ipc also matches syscall.EADDRINUSE, …) or a context's error;
// never match the text. Monitor events carry the same sentinels in
// Event.Err.
//
// # Typed sockets
//
// PushOf, PullOf, PubOf, SubOf, ReqOf, RepOf, DealerOf, RouterOf and PairOf
// carry values of one Go type through a codec.Codec (package codec has
// bytes, string, JSON and gob; codec/msgpack and codec/protobuf the
// others). Each has the methods its type can use and no others (a PushOf
// cannot Recv, only a SubOf subscribes), and Raw returns the *Socket
// underneath. A message that does not decode is an error for that message,
// matching codec.ErrDecode and counted in Stats.DecodeErrors, not the end
// of the socket.
//
// # Parity with libzmq
//
// Endpoints. Listen("ipc://*") binds, as libzmq does, a socket file of its
// own in a fresh private directory under the temporary directory ($TMPDIR)
// and returns the real endpoint (ipc:///tmp/zmqkit-ipc-…/socket) for peers
// to dial; Unbind and Close remove the file and the directory. A tcp bind
// takes, besides *, an IPv4 address, [IPv6] and a host name, the name of a
// network interface (tcp://lo:0, tcp://eth0:5555): it binds that
// interface's first IPv4 address in the order the system lists them, or
// if it has none its first IPv6 one, much as libzmq takes the first usable
// address (IPv4 unless ZMQ_IPV6). An interface name wins over a host name
// that is the same; a name that is neither is an ErrBadEndpoint at Listen
// that lists the interfaces there are.
//
// XPUB_VERBOSER. WithXPubVerboser(true) makes an XPUB pass every cancel
// upstream, not only the last one for a topic, as well as every subscribe
// (it implies WithXPubVerbose), and a departing subscriber yields a cancel
// for each topic it held: a proxy mirrors each subscriber one for one. As
// with the other XPUB modes, and unlike libzmq, a cancel for a topic the
// subscriber never held is not passed on.
//
// STREAM. NewStream (type Stream) talks to peers that speak no ZMTP over
// tcp or ipc, with libzmq's framing: a connection, accepted by Listen or
// made by Dial, arrives as [routing id, empty]; each read of its bytes (at
// most 8 KiB) as [routing id, data]; its end as [routing id, empty].
// Send([routing id, data]) writes data raw to that peer, waiting while it
// is slow to read; Send([routing id, empty]) closes its connection; an
// unknown routing id is ErrHostUnreachable. Reading stops at WithRecvHWM
// messages and WithRecvBufferBytes bytes per connection and at the
// socket's WithSocketBufferBytes, so a peer that writes faster than Recv
// reads is slowed by TCP, not buffered. A STREAM socket has no queue to
// the peer: Send writes directly, and Close has nothing to linger for.
package sockets
