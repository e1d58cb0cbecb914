// Package majordomo is the Majordomo service broker: 7/MDP
// (rfc.zeromq.org/spec:7, MDP/0.1) with the 8/MMI management namespace.
//
// Clients name a service and send it a request; workers register for one
// service each; the Broker routes each request to a free worker of that
// service, least recently used first, and queues it while none is free.
// Broker and workers heartbeat each other; a worker silent for a liveness
// window (heartbeat interval × liveness) is forgotten.
//
// A request held by a worker that dies, disconnects, or breaks the protocol
// is put back at the head of its service's queue and given to the next
// free worker, at most WithMaxDeliveries times in all (MDP assumes workers
// are idempotent). A request that waits longer than its TTL for a worker
// is dropped, as the spec recommends. The Client retries a request that
// gets no reply in time on a new socket, and reports ErrNoReply when its
// attempts are spent, so every request ends with a reply or a clear error
// within its deadline.
//
// # Wire format
//
// Everything is as 7/MDP says; the broker uses one ROUTER socket for both
// sub-protocols, which the spec allows. The ROUTER's routing-id frame is
// not shown. Client ↔ broker (a REQ socket adds and removes frame 0):
//
//	REQUEST  "" | "MDPC01" | service | body…
//	REPLY    "" | "MDPC01" | service | body…
//
// Worker (DEALER) ↔ broker:
//
//	READY       "" | "MDPW01" | 0x01 | service
//	REQUEST     "" | "MDPW01" | 0x02 | client address | "" | body…
//	REPLY       "" | "MDPW01" | 0x03 | client address | "" | body…
//	HEARTBEAT   "" | "MDPW01" | 0x04
//	DISCONNECT  "" | "MDPW01" | 0x05
//
// Services whose names start with "mmi." are answered by the broker itself
// (8/MMI): "mmi.service" with a service name as body replies "200" if at
// least one worker is registered for it and "404" if none is; any other
// "mmi." service replies "501". A worker that tries to register an "mmi."
// service is sent DISCONNECT.
//
// # Options
//
// Options are typed by role: NewBroker takes BrokerOptions, NewWorker
// WorkerOptions and NewClient ClientOptions. WithHeartbeat and WithLogger
// are BrokerWorkerOptions, WithSocketOptions an Option all three take, so
// one heartbeat value can be given to the broker and its workers, while a
// worker's option given to a client does not compile. The Client is the
// library's Lazy Pirate, reliable.NewRawClient, speaking MDP/Client.
package majordomo
