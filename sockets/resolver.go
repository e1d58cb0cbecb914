package sockets

import "context"

// A Resolver follows the set of endpoints behind a name, so that one Dial
// reaches every member of a service rather than one address. Implement it for
// a service registry (Consul, etcd, Kubernetes, …); dns:// and srv:// are
// built in.
//
// Watch reports target (what follows "scheme://" in the dialed endpoint) to
// update: the whole current set each time, as endpoints a socket can dial
// (tcp://host:port, ipc://path), first as soon as it is known and again
// whenever it changes, until ctx ends; Watch then returns. A failed lookup is
// reported as update(nil, err), and the socket keeps the members it has: only
// a successful update, even an empty one, changes the set. A value on refresh
// asks for a new lookup now (the socket saw a member fail); a resolver that is
// told of changes rather than polling may ignore it. update is never called
// concurrently with itself by the socket's own resolvers, and must not be by
// others.
type Resolver interface {
	Watch(ctx context.Context, target string, refresh <-chan struct{}, update func(endpoints []string, err error)) error
}
