package pubsub

import (
	"encoding/binary"
	"fmt"
)

// The snapshot protocol, between a Replica's DEALER and a Publisher's
// ROUTER (the routing-id frame the ROUTER adds is not shown):
//
//	request: one frame, 12 bytes
//	  0  2  magic "zq"
//	  2  1  version (1)
//	  3  1  kind: 1 (snapshot request)
//	  4  8  request id (big endian), echoed in the reply
//
//	reply: one or more parts, each a 36-byte frame and then two frames per
//	topic (topic, value), at most snapshotPart topics per part
//	  0  2  magic "zq"
//	  2  1  version (1)
//	  3  1  kind: 2 (a part, more follow) or 3 (the last part)
//	  4  8  request id
//	  12 8  publisher id
//	  20 8  seq: the state is the result of the publisher's messages 1..seq
//	  28 4  part number, from 0
//	  32 4  number of topics in this part
//
// A deleted topic is not in a snapshot. Parts travel in order; a replica
// that misses one (its queue was full) asks again.
const (
	snapMagic0    = 'z'
	snapMagic1    = 'q'
	snapVersion   = 1
	kindRequest   = 1
	kindPart      = 2
	kindLast      = 3
	snapReqSize   = 12
	snapReplySize = 36
	// snapshotPart is how many topics one part carries: well under the
	// 65536 frames a message may have.
	snapshotPart = 1024
)

func snapshotRequest(id uint64) []byte {
	b := []byte{snapMagic0, snapMagic1, snapVersion, kindRequest}
	return binary.BigEndian.AppendUint64(b, id)
}

func parseSnapshotRequest(b []byte) (uint64, error) {
	if len(b) != snapReqSize || b[0] != snapMagic0 || b[1] != snapMagic1 || b[2] != snapVersion || b[3] != kindRequest {
		return 0, fmt.Errorf("%w: not a snapshot request (%d bytes)", ErrBadStamp, len(b))
	}
	return binary.BigEndian.Uint64(b[4:]), nil
}

// snapshotHeader describes one part of a snapshot reply.
type snapshotHeader struct {
	req, publisher, seq uint64
	part, count         uint32
	last                bool
}

func (h snapshotHeader) marshal() []byte {
	kind := byte(kindPart)
	if h.last {
		kind = kindLast
	}
	b := make([]byte, 0, snapReplySize)
	b = append(b, snapMagic0, snapMagic1, snapVersion, kind)
	b = binary.BigEndian.AppendUint64(b, h.req)
	b = binary.BigEndian.AppendUint64(b, h.publisher)
	b = binary.BigEndian.AppendUint64(b, h.seq)
	b = binary.BigEndian.AppendUint32(b, h.part)
	return binary.BigEndian.AppendUint32(b, h.count)
}

// parseSnapshot checks a snapshot part and returns its header; the pairs
// are frames[1:].
func parseSnapshot(frames [][]byte) (snapshotHeader, error) {
	var h snapshotHeader
	if len(frames) == 0 {
		return h, fmt.Errorf("%w: empty snapshot", ErrBadStamp)
	}
	b := frames[0]
	if len(b) != snapReplySize || b[0] != snapMagic0 || b[1] != snapMagic1 || b[2] != snapVersion ||
		(b[3] != kindPart && b[3] != kindLast) {
		return h, fmt.Errorf("%w: not a snapshot (%d bytes)", ErrBadStamp, len(b))
	}
	h.last = b[3] == kindLast
	h.req = binary.BigEndian.Uint64(b[4:])
	h.publisher = binary.BigEndian.Uint64(b[12:])
	h.seq = binary.BigEndian.Uint64(b[20:])
	h.part = binary.BigEndian.Uint32(b[28:])
	h.count = binary.BigEndian.Uint32(b[32:])
	if uint64(len(frames)-1) != 2*uint64(h.count) {
		return h, fmt.Errorf("%w: snapshot part announces %d topics but has %d frames", ErrBadStamp, h.count, len(frames)-1)
	}
	return h, nil
}
