package sockets

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"unicode/utf8"

	"github.com/zmqkit/zmqkit/codec"
)

// Headers are string key/values that travel with a message in a header
// frame of their own, in front of the body (docs/headers.md has the wire
// format): a trace context (traceparent, tracestate, baggage), a content
// type, an idempotency key. They are opt-in (WithHeaders) and bounded
// (MaxHeaderKeys, MaxHeaderBytes). Keys are case-sensitive; the
// OpenTelemetry propagators use lower case.
type Headers map[string]string

// Limits of a header frame, checked on both sides: EncodeHeaders refuses
// more, and a receiver drops a frame that announces more before it
// allocates anything for it.
const (
	// MaxHeaderKeys is the most key/values one header frame carries.
	MaxHeaderKeys = 64
	// MaxHeaderBytes is the largest header frame, all of it (magic,
	// version, count, lengths, keys and values).
	MaxHeaderBytes = 16 << 10
	// HeadersVersion is the version of the header frame format written
	// here; a frame of another version is refused (ErrMalformedHeaders).
	HeadersVersion = 1
)

// headerMagic starts every header frame. 0xFF starts no UTF-8 text (so no
// JSON, no string codec's value) and no valid protobuf message (wire type
// 7); with the three letters after it, a body is not taken for headers by
// chance.
var headerMagic = [4]byte{0xFF, 'Z', 'K', 'H'}

// headerFixed is the magic, the version byte and the uint16 count.
const headerFixed = len(headerMagic) + 1 + 2

var (
	// ErrMalformedHeaders is matched by the error of a header frame that
	// cannot be read: truncated, of another version, over MaxHeaderKeys
	// or MaxHeaderBytes, with an empty or duplicate key, or text that is
	// not UTF-8. It also matches codec.ErrDecode: the message is not
	// delivered, the next receive goes on with the next one, and the
	// typed socket counts it in Stats.HeaderErrors and DecodeErrors.
	ErrMalformedHeaders = errors.New("malformed header frame")
	// ErrUnexpectedHeaders is matched by the error a typed socket made
	// without WithHeaders returns for a message that carries a header
	// frame: it is not decoded as a value it is not. It also matches
	// codec.ErrDecode, and counts in Stats.DecodeErrors.
	ErrUnexpectedHeaders = errors.New("message carries a header frame, and the socket was not made WithHeaders")
)

// headerError is a header failure: it matches its sentinel and
// codec.ErrDecode, so that All and Chan go on past it as past any value
// that does not decode.
type headerError struct {
	sentinel error
	detail   string
}

func (e *headerError) Error() string {
	if e.detail == "" {
		return e.sentinel.Error()
	}
	return e.sentinel.Error() + ": " + e.detail
}

func (e *headerError) Is(target error) bool { return target == e.sentinel || target == codec.ErrDecode }

func malformed(format string, args ...any) error {
	return &headerError{sentinel: ErrMalformedHeaders, detail: fmt.Sprintf(format, args...)}
}

// IsHeaderFrame reports whether f starts as a header frame does (its
// magic); DecodeHeaders says whether the rest is well formed.
func IsHeaderFrame(f []byte) bool {
	return len(f) >= len(headerMagic) && [4]byte(f[:4]) == headerMagic
}

// EncodeHeaders writes h as a header frame, keys in sorted order (so the
// same headers always make the same bytes). It refuses, with an error
// matching ErrMalformedHeaders, more than MaxHeaderKeys keys, a frame over
// MaxHeaderBytes, an empty key or one over 255 bytes, and text that is
// not UTF-8. Empty h gives nil: no frame is sent for no headers.
func EncodeHeaders(h Headers) ([]byte, error) {
	if len(h) == 0 {
		return nil, nil
	}
	if len(h) > MaxHeaderKeys {
		return nil, malformed("%d keys, at most %d", len(h), MaxHeaderKeys)
	}
	size := headerFixed
	keys := make([]string, 0, len(h))
	for k, v := range h {
		switch {
		case k == "" || len(k) > 255:
			return nil, malformed("key of %d bytes (1 to 255)", len(k))
		case !utf8.ValidString(k) || !utf8.ValidString(v):
			return nil, malformed("key %q: not UTF-8", k)
		}
		size += 1 + len(k) + 2 + len(v)
		if size > MaxHeaderBytes {
			return nil, malformed("more than %d bytes", MaxHeaderBytes)
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b := make([]byte, 0, size)
	b = append(b, headerMagic[:]...)
	b = append(b, HeadersVersion)
	b = binary.BigEndian.AppendUint16(b, uint16(len(h)))
	for _, k := range keys {
		v := h[k]
		b = append(b, byte(len(k)))
		b = append(b, k...)
		b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
		b = append(b, v...)
	}
	return b, nil
}

// DecodeHeaders reads a header frame. Every length is checked against
// the bytes there are and the limits before anything is allocated for
// it: a frame that announces 10,000 keys, or a value longer than itself,
// costs a comparison, not memory. Errors match ErrMalformedHeaders.
func DecodeHeaders(f []byte) (Headers, error) {
	switch {
	case !IsHeaderFrame(f):
		return nil, malformed("no magic")
	case len(f) > MaxHeaderBytes:
		return nil, malformed("%d bytes, at most %d", len(f), MaxHeaderBytes)
	case len(f) < headerFixed:
		return nil, malformed("truncated: %d bytes", len(f))
	case f[4] != HeadersVersion:
		return nil, malformed("version %d, this reads version %d", f[4], HeadersVersion)
	}
	n := int(binary.BigEndian.Uint16(f[5:7]))
	if n > MaxHeaderKeys {
		return nil, malformed("%d keys, at most %d", n, MaxHeaderKeys)
	}
	// Each entry takes 4 bytes at least (a 1-byte key, no value).
	rest := f[headerFixed:]
	if n*4 > len(rest) {
		return nil, malformed("truncated: %d keys in %d bytes", n, len(rest))
	}
	h := make(Headers, n)
	for i := 0; i < n; i++ {
		if len(rest) < 1 {
			return nil, malformed("truncated at key %d", i)
		}
		kl := int(rest[0])
		if kl == 0 {
			return nil, malformed("key %d is empty", i)
		}
		if len(rest) < 1+kl+2 {
			return nil, malformed("truncated at key %d", i)
		}
		k := rest[1 : 1+kl]
		vl := int(binary.BigEndian.Uint16(rest[1+kl:]))
		rest = rest[1+kl+2:]
		if len(rest) < vl {
			return nil, malformed("truncated in the value of key %d", i)
		}
		v := rest[:vl]
		rest = rest[vl:]
		if !utf8.Valid(k) || !utf8.Valid(v) {
			return nil, malformed("key %d: not UTF-8", i)
		}
		ks := string(k)
		if _, dup := h[ks]; dup {
			return nil, malformed("key %q twice", ks)
		}
		h[ks] = string(v)
	}
	if len(rest) != 0 {
		return nil, malformed("%d bytes after the last key", len(rest))
	}
	return h, nil
}

// ReadHeaders reads a received header frame on behalf of a receiver whose
// socket has headers enabled or not (Socket.HeadersEnabled): without them
// it refuses the frame with an error matching ErrUnexpectedHeaders, with
// them it is DecodeHeaders. Both errors also match codec.ErrDecode. The
// patterns (rpc, majordomo, pipeline, pubsub) read their header frames
// with it.
func ReadHeaders(f []byte, enabled bool) (Headers, error) {
	if !enabled {
		return nil, &headerError{sentinel: ErrUnexpectedHeaders}
	}
	return DecodeHeaders(f)
}

type headersKey struct{}

// ContextWithHeaders returns a copy of ctx that carries h. A typed socket
// made WithHeaders sends the headers of its Send's context (Send, Publish,
// Call) in a header frame; RepOf.Serve hands its handler a context that
// carries the request's. The OpenTelemetry module (contrib/otel) injects
// and extracts the trace context this way.
func ContextWithHeaders(ctx context.Context, h Headers) context.Context {
	return context.WithValue(ctx, headersKey{}, h)
}

// HeadersFromContext returns the headers ContextWithHeaders put in ctx.
func HeadersFromContext(ctx context.Context) (Headers, bool) {
	h, ok := ctx.Value(headersKey{}).(Headers)
	return h, ok
}

// WithHeaders(true) makes a typed socket (PushOf, PullOf, …, ReqOf,
// RepOf) and the patterns built on one carry Headers: what it sends goes
// with a header frame when there are headers to send (from the context,
// or SendWithHeaders and its kin), and what it receives may come with
// one. Without it a typed socket never sends a header frame, and a
// received message that carries one is an error matching
// ErrUnexpectedHeaders, never a mis-decoded value. Raw sockets ignore it
// (their frames are the application's); devices forward header frames
// untouched. zmqkit's own; libzmq has no headers (a libzmq peer sees the
// header frame as one more frame: docs/headers.md).
func WithHeaders(on bool) Option {
	return func(c *config) error { c.headers = on; return nil }
}

// HeadersEnabled reports whether the socket was made WithHeaders(true).
func (s *Socket) HeadersEnabled() bool { return s.cfg.headers }

// headerFrame is the header frame to send for ctx on a socket made
// WithHeaders: nil when there is none to send.
func (s *Socket) headerFrame(ctx context.Context) ([]byte, error) {
	h, ok := HeadersFromContext(ctx)
	if !ok || len(h) == 0 {
		return nil, nil
	}
	return s.encodeHeaders(h)
}

func (s *Socket) encodeHeaders(h Headers) ([]byte, error) {
	if !s.cfg.headers {
		return nil, s.errorf("send", "", fmt.Errorf("%w: headers on a socket made without WithHeaders", ErrBadOption))
	}
	f, err := EncodeHeaders(h)
	if err != nil {
		return nil, s.errorf("send", "", err)
	}
	return f, nil
}

// readHeaders decodes a received header frame f, on behalf of a typed
// socket: refused without WithHeaders, counted when malformed.
func (s *Socket) readHeaders(f []byte) (Headers, error) {
	if !s.cfg.headers {
		s.st.decodeErrors.Add(1)
		return nil, s.errorf("recv", "", &headerError{sentinel: ErrUnexpectedHeaders})
	}
	h, err := DecodeHeaders(f)
	if err != nil {
		s.st.headerErrors.Add(1)
		s.st.decodeErrors.Add(1)
		if s.log.Enabled(context.Background(), slog.LevelWarn) {
			s.log.Warn("zmqkit: malformed header frame", "socket", s.name, "err", err)
		}
		return nil, s.errorf("recv", "", err)
	}
	return h, nil
}

// FindHeaders locates the header frame of a message as a device or a
// router sees it: the first frame after the routing envelope (the frames
// up to an empty delimiter, when there is one) that starts with the
// header magic and has a body frame after it. It returns the frame's
// index, or -1.
func FindHeaders(m Msg) int {
	n := m.Len()
	start := 0
	for i := 0; i < n; i++ {
		if len(m.Frame(i)) == 0 {
			start = i + 1
			break
		}
	}
	for i := start; i < n-1; i++ {
		if IsHeaderFrame(m.Frame(i)) {
			return i
		}
	}
	return -1
}
