// Package rpc is typed, concurrent request/reply over DEALER/ROUTER.
//
// A Client sends calls over one DEALER socket, as many in flight at once as
// its callers like; each call carries an id and the time left to its
// deadline, and one reader goroutine hands every answer to its caller. A
// Server receives them on a ROUTER, runs the handler registered for the
// call's method on a bounded pool of workers, with a context that has the
// caller's deadline, and sends the answer back to the client it came from.
// A handler's error comes back as a *RemoteError that errors.Is can test
// (ErrRemote, ErrNoMethod, an application's own *Error, …).
//
// Method[Q, R] declares a method once, with its codecs, for both sides:
// Method.Call on the client, Handle on the server.
//
// The frames on the wire are documented in wire.go.
//
// Options are typed by role: NewServer takes ServerOptions, NewClient
// ClientOptions, and WithSocketOptions is an Option both take. A server's
// option given to a client does not compile.
package rpc
