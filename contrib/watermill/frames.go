package zmqwatermill

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/zmqkit/zmqkit/sockets"
)

// The wire format, version 1. A Watermill message is three ZMTP frames:
//
//	frame 0  topic: the topic's bytes, then one 0x00 byte
//	frame 1  header:
//	           version  1 byte   (1)
//	           kind     1 byte   (0: message)
//	           uuid     uvarint length, then the bytes
//	           metadata uvarint count, then per entry, in key order:
//	                    uvarint key length, key, uvarint value length, value
//	frame 2  payload: the message's payload, unchanged
//
// A welcome (kind 1, see Subscriber.SubscribeInitialize) is two frames: the
// topic frame and a header of exactly {1, 1}.
//
// The 0x00 ending the topic frame makes ZMTP's prefix subscriptions exact:
// a subscription to "orders\x00" matches the topic "orders" and never
// "orders.archive" (a topic may not contain 0x00). Receivers still compare
// the topic exactly. A header is refused, before anything is allocated for
// it, when it is longer than Limits.MaxHeaderBytes, when a length in it
// runs past its end, when it holds more than Limits.MaxMetadata entries or
// a UUID longer than Limits.MaxUUIDBytes, when a key repeats, or when bytes
// are left over; so is a version or kind this package does not know.
const (
	wireVersion byte = 1

	kindMessage byte = 0
	kindWelcome byte = 1
)

// Errors of the wire format. A message that fails to decode is dropped and
// counted (SubscriberStats.Malformed); Publish returns these for a message
// it will not encode.
var (
	// ErrMalformed: the frames are not a message in this package's format.
	ErrMalformed = errors.New("zmqwatermill: malformed message")
	// ErrTooLarge: a topic, UUID, header or metadata over the Limits.
	ErrTooLarge = errors.New("zmqwatermill: over the limits")
	// ErrBadTopic: a topic holding a 0x00 byte, which the format reserves.
	ErrBadTopic = errors.New("zmqwatermill: topic may not contain 0x00")
)

// Limits bound what a message's topic and header may hold, on both sides:
// Publish refuses to encode beyond them, and a Subscriber refuses to
// decode beyond them (dropping and counting the message). A zero field
// takes its default.
type Limits struct {
	MaxTopicBytes  int // default 1024
	MaxHeaderBytes int // the whole header frame; default 64 KiB
	MaxUUIDBytes   int // default 256
	MaxMetadata    int // metadata entries; default 1024
}

// Default limits.
const (
	DefaultMaxTopicBytes  = 1024
	DefaultMaxHeaderBytes = 64 << 10
	DefaultMaxUUIDBytes   = 256
	DefaultMaxMetadata    = 1024
)

func (l Limits) withDefaults() Limits {
	if l.MaxTopicBytes <= 0 {
		l.MaxTopicBytes = DefaultMaxTopicBytes
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if l.MaxUUIDBytes <= 0 {
		l.MaxUUIDBytes = DefaultMaxUUIDBytes
	}
	if l.MaxMetadata <= 0 {
		l.MaxMetadata = DefaultMaxMetadata
	}
	return l
}

// checkTopic refuses a topic the format cannot carry.
func checkTopic(topic string, l Limits) error {
	if len(topic) > l.MaxTopicBytes {
		return fmt.Errorf("%w: topic of %d bytes (limit %d)", ErrTooLarge, len(topic), l.MaxTopicBytes)
	}
	for i := 0; i < len(topic); i++ {
		if topic[i] == 0 {
			return fmt.Errorf("%w: %q", ErrBadTopic, topic)
		}
	}
	return nil
}

// topicFrame is the topic's first frame (and a subscription to exactly it).
func topicFrame(topic string) []byte {
	b := make([]byte, len(topic)+1)
	copy(b, topic)
	return b
}

// encodeMessage builds the three frames of a message, all in one
// allocation: the payload is copied, so the socket owns what it sends and
// the caller may go on using msg.
func encodeMessage(topic, uuid string, meta map[string]string, payload []byte, l Limits) (sockets.Msg, error) {
	if len(uuid) > l.MaxUUIDBytes {
		return sockets.Msg{}, fmt.Errorf("%w: uuid of %d bytes (limit %d)", ErrTooLarge, len(uuid), l.MaxUUIDBytes)
	}
	if len(meta) > l.MaxMetadata {
		return sockets.Msg{}, fmt.Errorf("%w: %d metadata entries (limit %d)", ErrTooLarge, len(meta), l.MaxMetadata)
	}
	hlen := 2 + uvarintLen(len(uuid)) + len(uuid) + uvarintLen(len(meta))
	for k, v := range meta {
		hlen += uvarintLen(len(k)) + len(k) + uvarintLen(len(v)) + len(v)
	}
	if hlen > l.MaxHeaderBytes {
		return sockets.Msg{}, fmt.Errorf("%w: header of %d bytes (limit %d)", ErrTooLarge, hlen, l.MaxHeaderBytes)
	}
	tlen := len(topic) + 1
	buf := make([]byte, tlen+hlen+len(payload))
	copy(buf, topic)
	h := buf[tlen : tlen : tlen+hlen]
	h = append(h, wireVersion, kindMessage)
	h = appendString(h, uuid)
	h = binary.AppendUvarint(h, uint64(len(meta)))
	if len(meta) > 0 {
		for _, k := range slices.Sorted(maps.Keys(meta)) {
			h = appendString(h, k)
			h = appendString(h, meta[k])
		}
	}
	p := buf[tlen+hlen:]
	copy(p, payload)
	return sockets.Msg{Head: buf[:tlen:tlen], Tail: [][]byte{h, p}}, nil
}

// welcomeMsg is the welcome a Publisher sends on topic (topic frame as
// received, without the nonce).
func welcomeMsg(topicFrame []byte) sockets.Msg {
	return sockets.Msg{Head: topicFrame, Tail: [][]byte{{wireVersion, kindWelcome}}}
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func uvarintLen(n int) int {
	l := 1
	for n >= 0x80 {
		n >>= 7
		l++
	}
	return l
}

// decoded is a message as received.
type decoded struct {
	topic   string
	welcome bool
	uuid    string
	meta    map[string]string
	payload []byte
}

// decodeMessage parses frames in the format above. The payload is frame 2
// itself (the socket gave the frames to us).
func decodeMessage(m sockets.Msg, l Limits) (decoded, error) {
	var d decoded
	n := m.Len()
	if n < 2 {
		return d, fmt.Errorf("%w: %d frame(s), want 3", ErrMalformed, n)
	}
	tf := m.Head
	if len(tf) == 0 || tf[len(tf)-1] != 0 {
		return d, fmt.Errorf("%w: topic frame does not end in 0x00", ErrMalformed)
	}
	if len(tf)-1 > l.MaxTopicBytes {
		return d, fmt.Errorf("%w: topic of %d bytes (limit %d)", ErrTooLarge, len(tf)-1, l.MaxTopicBytes)
	}
	for _, c := range tf[:len(tf)-1] {
		if c == 0 {
			return d, fmt.Errorf("%w: topic holds 0x00", ErrMalformed)
		}
	}
	h := m.Frame(1)
	if len(h) > l.MaxHeaderBytes {
		return d, fmt.Errorf("%w: header of %d bytes (limit %d)", ErrTooLarge, len(h), l.MaxHeaderBytes)
	}
	if len(h) < 2 {
		return d, fmt.Errorf("%w: header of %d bytes", ErrMalformed, len(h))
	}
	if h[0] != wireVersion {
		return d, fmt.Errorf("%w: version %d, want %d", ErrMalformed, h[0], wireVersion)
	}
	d.topic = string(tf[:len(tf)-1])
	switch h[1] {
	case kindWelcome:
		if n != 2 || len(h) != 2 {
			return d, fmt.Errorf("%w: welcome of %d frame(s), header %d bytes", ErrMalformed, n, len(h))
		}
		d.welcome = true
		return d, nil
	case kindMessage:
	default:
		return d, fmt.Errorf("%w: kind %d", ErrMalformed, h[1])
	}
	if n != 3 {
		return d, fmt.Errorf("%w: %d frame(s), want 3", ErrMalformed, n)
	}
	r := reader{b: h[2:]}
	uuid, err := r.bytes(l.MaxUUIDBytes, "uuid")
	if err != nil {
		return d, err
	}
	count, err := r.uvarint()
	if err != nil {
		return d, err
	}
	if count > uint64(l.MaxMetadata) {
		return d, fmt.Errorf("%w: %d metadata entries (limit %d)", ErrTooLarge, count, l.MaxMetadata)
	}
	// Each entry takes at least two bytes: a count beyond that is a lie,
	// refused before the map is sized by it.
	if count > uint64(len(r.b))/2 {
		return d, fmt.Errorf("%w: %d metadata entries in %d bytes", ErrMalformed, count, len(r.b))
	}
	d.uuid = string(uuid)
	d.meta = make(map[string]string, int(count))
	for range count {
		k, err := r.bytes(len(r.b), "metadata key")
		if err != nil {
			return d, err
		}
		v, err := r.bytes(len(r.b), "metadata value")
		if err != nil {
			return d, err
		}
		key := string(k)
		if _, dup := d.meta[key]; dup {
			return d, fmt.Errorf("%w: metadata key %q twice", ErrMalformed, key)
		}
		d.meta[key] = string(v)
	}
	if len(r.b) != 0 {
		return d, fmt.Errorf("%w: %d bytes after the header", ErrMalformed, len(r.b))
	}
	d.payload = m.Frame(2)
	return d, nil
}

// reader takes lengths and strings off a header, refusing any length that
// runs past its end.
type reader struct{ b []byte }

func (r *reader) uvarint() (uint64, error) {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		return 0, fmt.Errorf("%w: bad length", ErrMalformed)
	}
	r.b = r.b[n:]
	return v, nil
}

func (r *reader) bytes(max int, what string) ([]byte, error) {
	n, err := r.uvarint()
	if err != nil {
		return nil, err
	}
	if n > uint64(len(r.b)) {
		return nil, fmt.Errorf("%w: %s of %d bytes, %d left", ErrMalformed, what, n, len(r.b))
	}
	if n > uint64(max) {
		return nil, fmt.Errorf("%w: %s of %d bytes (limit %d)", ErrTooLarge, what, n, max)
	}
	b := r.b[:n]
	r.b = r.b[n:]
	return b, nil
}
