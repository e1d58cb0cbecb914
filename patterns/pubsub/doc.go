// Package pubsub is publish/subscribe with state, over zmqkit sockets: the
// ZeroMQ guide's last-value cache, Clone and "suicidal snail" patterns,
// typed with codecs.
//
//   - Publisher stamps every message with its instance id, a sequence
//     number (publisher-wide and per topic) and the time; it remembers the
//     latest value of each topic, answers each new subscription with the
//     values it matches (last-value cache), serves snapshots of the whole
//     state over ROUTER, and sends heartbeats.
//   - Cache is a last-value cache in front of any publisher: an XSUB↔XPUB
//     proxy that remembers the latest message per topic.
//   - Subscriber checks the stamps and reports, as errors from Recv, the
//     messages it lost (a gap in a sequence) and when it falls behind (a
//     message older than a maximum lag), instead of losing them silently.
//   - Replica keeps a copy of a Publisher's state: snapshot, then updates
//     in sequence, and a fresh snapshot whenever it finds a gap.
//
// Nothing is persisted: a restarted Publisher starts empty, with a new id,
// and Replicas start over from its first snapshot.
//
// The wire formats are documented on Stamp (updates and heartbeats) and in
// snapshot.go (the snapshot exchange).
//
// Options are typed by role: NewPublisher takes PublisherOptions, NewCache
// CacheOptions, NewSubscriber SubscriberOptions and NewReplica
// ReplicaOptions. WithMaxTopics is a CacheSubscriberOption and
// WithSocketOptions an Option all four take; an option for a role that
// would ignore it does not compile.
package pubsub
