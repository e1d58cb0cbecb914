package rpc

import (
	"encoding/binary"
	"fmt"
	"time"
)

// The wire format. A call is one message from the client's DEALER to the
// server's ROUTER, and its answer one message back; the ROUTER puts the
// client's routing id in front of what it receives and takes it off what
// it sends, so neither side sees it in the frames below. Integers are big
// endian. Every message starts with a header frame:
//
//	offset size field
//	0      1    magic 'R'
//	1      1    version (1)
//	2      1    kind
//	3      8    call id, chosen by the client, unique among its calls in flight
//
// and then, by kind:
//
//	1 request (client → server), 3 frames, or 4 with headers:
//	    header + 8 bytes: the time left to the caller's deadline, in
//	        nanoseconds when sent (0: no deadline). A duration and not an
//	        instant, so that the two clocks need not agree.
//	    method name
//	    [a sockets header frame (docs/headers.md): only when the client's
//	        socket was made sockets.WithHeaders(true) and the call's
//	        context carries headers; the handler's context then carries
//	        them (sockets.HeadersFromContext). A server without
//	        WithHeaders answers such a request with CodeBadRequest.]
//	    payload: the request as the method's codec encodes it
//	2 cancel (client → server), 1 frame: the header. The caller gave up;
//	    the server cancels the handler's context. Best effort.
//	3 reply (server → client), 2 frames: the header, then the payload.
//	4 error (server → client), 2 frames:
//	    header + 2 bytes: the error code (see Code)
//	    the error message (UTF-8)
//
// A receiver drops a message whose header it does not understand and counts
// it (Stats().Malformed); a server answers a request it cannot parse past
// the header with CodeBadRequest.
const (
	magic   = 'R'
	version = 1

	kindRequest = 1
	kindCancel  = 2
	kindReply   = 3
	kindError   = 4

	headerSize = 11
)

type header struct {
	kind    byte
	id      uint64
	timeout time.Duration // kindRequest
	code    Code          // kindError
}

func (h header) marshal() []byte {
	n := headerSize
	switch h.kind {
	case kindRequest:
		n += 8
	case kindError:
		n += 2
	}
	b := make([]byte, 0, n)
	b = append(b, magic, version, h.kind)
	b = binary.BigEndian.AppendUint64(b, h.id)
	switch h.kind {
	case kindRequest:
		b = binary.BigEndian.AppendUint64(b, uint64(h.timeout))
	case kindError:
		b = binary.BigEndian.AppendUint16(b, uint16(h.code))
	}
	return b
}

func parseHeader(b []byte) (header, error) {
	var h header
	if len(b) < headerSize || b[0] != magic {
		return h, fmt.Errorf("rpc: not a call header (%d bytes)", len(b))
	}
	if b[1] != version {
		return h, fmt.Errorf("rpc: protocol version %d, want %d", b[1], version)
	}
	h.kind = b[2]
	h.id = binary.BigEndian.Uint64(b[3:])
	want := headerSize
	switch h.kind {
	case kindRequest:
		want += 8
	case kindError:
		want += 2
	case kindCancel, kindReply:
	default:
		return h, fmt.Errorf("rpc: unknown message kind %d", h.kind)
	}
	if len(b) != want {
		return h, fmt.Errorf("rpc: kind %d header of %d bytes, want %d", h.kind, len(b), want)
	}
	switch h.kind {
	case kindRequest:
		h.timeout = time.Duration(binary.BigEndian.Uint64(b[headerSize:]))
	case kindError:
		h.code = Code(binary.BigEndian.Uint16(b[headerSize:]))
	}
	return h, nil
}
