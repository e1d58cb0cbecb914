package pubsub

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// HeartbeatTopic is the topic of a Publisher's heartbeats. Topics that start
// with a zero byte are reserved: Publish refuses them.
const HeartbeatTopic = "\x00zmqkit.hb"

// stampMagic starts every stamp frame, so that a cache can tell a stamped
// message from any other three-frame message.
const (
	stampMagic0  = 'z'
	stampMagic1  = 's'
	stampVersion = 1
	stampSize    = 36
)

// Stamp flags (byte 3 of the stamp frame).
const (
	flagReplay    = 1 << 0
	flagDeleted   = 1 << 1
	flagHeartbeat = 1 << 2
)

// ErrBadStamp is matched by the error for a message that does not carry a
// valid stamp where one is expected.
var ErrBadStamp = errors.New("pubsub: bad stamp")

// Stamp is what a Publisher adds to every message it sends: who sent it,
// where it sits in that publisher's stream, and when.
//
// On the wire a stamped message is three frames: the topic, the stamp (36
// bytes, below), and the value as its codec encodes it (empty for a
// deletion). A heartbeat is two frames: HeartbeatTopic and a stamp.
//
//	offset size field
//	0      2    magic "zs"
//	2      1    version (1)
//	3      1    flags: 1 replay, 2 deleted, 4 heartbeat
//	4      8    publisher: random id of the Publisher instance (big endian)
//	12     8    seq: publisher-wide sequence number, 1 for the first message
//	20     8    topic seq: sequence number within the topic, 1 for the first
//	28     8    time: Unix nanoseconds when published (signed)
//
// A heartbeat's seq is the latest seq published so far and its topic seq is
// zero. A replay (a cached value resent for a new subscriber) keeps the
// seq, topic seq and time of its original publication.
type Stamp struct {
	Publisher uint64    // the publishing instance; a new one after a restart
	Seq       uint64    // position in the publisher's stream
	TopicSeq  uint64    // position within the topic
	Time      time.Time // when it was published
	Replay    bool      // resent from a cache to a new subscriber
	Deleted   bool      // the topic was deleted; there is no value
	Heartbeat bool      // no value: Seq is the latest published so far
}

// AppendBinary appends the stamp's wire form (36 bytes) to b.
func (s Stamp) AppendBinary(b []byte) ([]byte, error) {
	var flags byte
	if s.Replay {
		flags |= flagReplay
	}
	if s.Deleted {
		flags |= flagDeleted
	}
	if s.Heartbeat {
		flags |= flagHeartbeat
	}
	b = append(b, stampMagic0, stampMagic1, stampVersion, flags)
	b = binary.BigEndian.AppendUint64(b, s.Publisher)
	b = binary.BigEndian.AppendUint64(b, s.Seq)
	b = binary.BigEndian.AppendUint64(b, s.TopicSeq)
	var ns int64
	if !s.Time.IsZero() {
		ns = s.Time.UnixNano()
	}
	return binary.BigEndian.AppendUint64(b, uint64(ns)), nil
}

// MarshalBinary returns the stamp's wire form.
func (s Stamp) MarshalBinary() ([]byte, error) { return s.AppendBinary(make([]byte, 0, stampSize)) }

// UnmarshalBinary parses a stamp frame; the error matches ErrBadStamp.
func (s *Stamp) UnmarshalBinary(b []byte) error {
	if len(b) != stampSize || b[0] != stampMagic0 || b[1] != stampMagic1 {
		return fmt.Errorf("%w: %d bytes, not a stamp frame", ErrBadStamp, len(b))
	}
	if b[2] != stampVersion {
		return fmt.Errorf("%w: version %d", ErrBadStamp, b[2])
	}
	flags := b[3]
	*s = Stamp{
		Publisher: binary.BigEndian.Uint64(b[4:]),
		Seq:       binary.BigEndian.Uint64(b[12:]),
		TopicSeq:  binary.BigEndian.Uint64(b[20:]),
		Replay:    flags&flagReplay != 0,
		Deleted:   flags&flagDeleted != 0,
		Heartbeat: flags&flagHeartbeat != 0,
	}
	if ns := int64(binary.BigEndian.Uint64(b[28:])); ns != 0 {
		s.Time = time.Unix(0, ns)
	}
	return nil
}

// isStamp reports whether b looks like a stamp frame.
func isStamp(b []byte) bool {
	return len(b) == stampSize && b[0] == stampMagic0 && b[1] == stampMagic1 && b[2] == stampVersion
}

// withReplay returns a copy of a stamp frame with the replay flag set.
func withReplay(b []byte) []byte {
	c := append([]byte(nil), b...)
	c[3] |= flagReplay
	return c
}

// stamped is one stamped message taken apart.
type stamped struct {
	topic string
	stamp Stamp
	value []byte
}

// parseStamped splits a received message into topic, stamp and value.
func parseStamped(frames [][]byte) (stamped, error) {
	var m stamped
	switch len(frames) {
	case 2, 3:
	default:
		return m, fmt.Errorf("%w: want 2 or 3 frames, got %d", ErrBadStamp, len(frames))
	}
	m.topic = string(frames[0])
	if err := m.stamp.UnmarshalBinary(frames[1]); err != nil {
		return m, err
	}
	if len(frames) == 2 {
		if !m.stamp.Heartbeat {
			return m, fmt.Errorf("%w: two frames but not a heartbeat", ErrBadStamp)
		}
		return m, nil
	}
	m.value = frames[2]
	return m, nil
}
