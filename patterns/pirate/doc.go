// Package pirate is the ZeroMQ guide's Paranoid Pirate pattern: a
// load-balancing Broker between clients and a pool of heartbeating Workers.
//
// Clients send requests to the broker's frontend (a ROUTER; a REQ socket or
// a Client is the usual peer). Workers connect to the backend (another
// ROUTER) with a DEALER, announce themselves with READY and then heartbeat
// the broker while the broker heartbeats them. The broker hands each
// request to the worker that has been ready longest (least recently used),
// queues requests while no worker is free, and forgets a worker it has not
// heard from for one liveness window (heartbeat interval × liveness).
//
// A request held by a worker that dies is not lost: the broker puts it back
// at the head of the queue and gives it to the next ready worker, at most
// WithMaxDeliveries times in all (workers are assumed idempotent, as in the
// guide). A client that gets no reply within its timeout retries on a new
// socket (Client does this), so a request lost with the broker itself is
// retried too. The broker forwards at most one reply per delivery and drops
// replies from workers it has already given up on, so a late reply cannot
// be mistaken for the answer to a client's next request.
//
// Workers that stop hearing the broker for a liveness window close their
// socket and connect again on a new one, waiting between attempts with an
// interval that doubles up to a cap (WithReconnect).
//
// # Wire protocol
//
// Between broker and workers this is 6/PPP (rfc.zeromq.org/spec:6):
//
//	READY      worker → broker   one frame: 0x01
//	HEARTBEAT  both ways         one frame: 0x02
//	REQUEST    broker → worker   client envelope, empty frame, body (≥ 1 frame)
//	REPLY      worker → broker   the same envelope, empty frame, body (≥ 1 frame)
//
// A worker sends READY once per connection and again after a request it
// could not serve (its Handler returned an error): the broker then treats
// the request as lost with that worker and requeues it.
// Between clients and the broker it is plain REQ/REP: a client sends the
// body, the broker answers with the reply body.
//
// # Options
//
// Options are typed by role: NewBroker takes BrokerOptions, NewWorker
// WorkerOptions and NewClient ClientOptions. WithHeartbeat and WithLogger
// are BrokerWorkerOptions, WithSocketOptions an Option all three take; a
// worker's option given to a client does not compile. The Client is
// reliable.NewRawClient, the library's one Lazy Pirate.
package pirate
