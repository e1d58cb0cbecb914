// Package reliable makes request-reply survive servers that crash, hang or
// restart: a call is retried with a timeout per try and ends with
// ErrNoReply after a bounded number of tries instead of waiting forever.
//
// Client is the ZeroMQ guide's Lazy Pirate: one server, a REQ socket, and
// a new REQ socket after every lost reply, because a REQ socket that sent a
// request will accept nothing but that request's reply.
//
// Freelance spreads calls over several equivalent servers and fails over
// between them: it keeps one DEALER socket per server, sends to the first
// server (starting from the last one that answered) whose connection is up,
// and moves on to the next when a try times out. It needs no broker and no
// special server: each request carries a sequence number in its envelope,
// which any REP server sends back unchanged, so a late reply to an earlier
// try is recognised and dropped. Liveness comes from the connection itself
// (a server that is down is skipped without spending a try) and, with
// WithHeartbeat, from ZMTP PING/PONG, which the server's socket answers on
// its own — the role the guide's application-level pings play.
//
// Both talk to any REP server, such as sockets.RepOf.Serve, in this library
// or another ZeroMQ implementation. A request may reach a server more than
// once (a try that timed out may still have been served): handlers should
// be idempotent. Handler errors (sockets.ErrRemote) and undecodable
// replies are answers, not lost replies: they are returned at once, not
// retried.
//
// NewRawClient is the Lazy Pirate on multipart messages, without codecs;
// the Majordomo and Paranoid Pirate clients are built on it.
package reliable
