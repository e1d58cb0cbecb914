// Package zmqwatermill is a Watermill Pub/Sub over zmqkit: a Publisher
// and a Subscriber (message.Publisher, message.Subscriber and
// message.SubscribeInitializer) that carry Watermill messages over ZeroMQ
// sockets, brokerless, on any zmqkit transport (tcp, ipc, inproc) and
// security mechanism (PLAIN, CURVE).
//
// # Modes
//
// FanOut (XPUB → SUB): every Subscriber of a topic gets every message
// published to it. Topics match exactly, not by ZeroMQ's prefix: the
// topic frame ends in a 0x00 byte that no topic may hold, so the ZMTP
// subscription to "orders\x00" is exact at the Publisher already, and the
// Subscriber compares again on receipt.
//
// Competing (PUSH → PULL): each message goes to one Subscriber. PUSH and
// PULL know no topics, so an endpoint is a work queue: every Subscriber
// connected to it must subscribe to every topic sent there (a message for
// another topic is dropped and counted in Stats().Unknown).
//
// Either mode may go through a Device (a forwarder or a streamer) so that
// many Publishers and Subscribers meet at two endpoints without knowing
// each other.
//
// # Delivery
//
// Nothing is persistent and nothing is acknowledged over the network:
// delivery is at most once between processes (a queue at its high-water
// mark drops in FanOut, a broken connection loses what was in flight, and
// Close loses what was queued), and within a Subscriber a message is
// redelivered on Nack until it is Acked. See Subscriber for the details,
// and SubscribeInitialize for what a FanOut subscription guarantees when
// it returns (the slow-joiner problem of PUB/SUB).
//
// # Wire format
//
// Version 1: three frames, [topic 0x00] [header] [payload], the header
// holding a version byte, a kind byte, the message UUID and its metadata
// with uvarint lengths; the payload travels unchanged. Decoding is bounded
// (Limits): an oversize or malformed message is dropped, counted
// (Stats().Malformed) and logged, never a panic. The layout is spelt out
// in docs/watermill.md and in frames.go.
package zmqwatermill
