package sockets_test

// A second ZWS 2.0 peer, independent of the transport under test: the
// WebSocket framing (RFC 6455) and the ZWS mapping (RFC 45) are written
// here by hand from the two texts, over a plain TCP connection, without
// coder/websocket. Tests use it to check our framing byte by byte and to
// send what no well-behaved library would.

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// RFC 6455 opcodes.
const (
	opCont   = 0x0
	opText   = 0x1
	opBinary = 0x2
	opClose  = 0x8
	opPing   = 0x9
	opPong   = 0xA
)

type rawZWS struct {
	c  net.Conn
	br *bufio.Reader
}

// upgradeRequest is a WebSocket opening handshake (RFC 6455 §4.1) for
// path on host, offering the subprotocols in protos ("" offers none).
func upgradeRequest(host, path, protos, origin string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n", path, host)
	b.WriteString("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n")
	if protos != "" {
		fmt.Fprintf(&b, "Sec-WebSocket-Protocol: %s\r\n", protos)
	}
	if origin != "" {
		fmt.Fprintf(&b, "Origin: %s\r\n", origin)
	}
	b.WriteString("\r\n")
	return b.String()
}

// dialRawZWS opens a WebSocket to a ws:// endpoint by hand; it returns the
// HTTP status and, on 101, the connection.
func dialRawZWS(t testing.TB, endpoint, protos, origin string) (*rawZWS, int) {
	t.Helper()
	u, err := url.Parse(endpoint)
	require.NoError(t, err)
	c, err := net.Dial("tcp", u.Host)
	require.NoError(t, err)
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	_, err = io.WriteString(c, upgradeRequest(u.Host, u.Path, protos, origin))
	require.NoError(t, err)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		_ = c.Close()
		return nil, resp.StatusCode
	}
	require.Equal(t, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", resp.Header.Get("Sec-WebSocket-Accept"))
	_ = c.SetDeadline(time.Time{})
	t.Cleanup(func() { _ = c.Close() })
	return &rawZWS{c: c, br: br}, resp.StatusCode
}

// frameHeader is a client's frame header (masked, with the all-zero key,
// which leaves the payload as it is).
func frameHeader(fin bool, op byte, n uint64) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	var h []byte
	switch {
	case n < 126:
		h = []byte{b0, 0x80 | byte(n)}
	case n <= 0xffff:
		h = []byte{b0, 0x80 | 126, byte(n >> 8), byte(n)}
	default:
		h = append([]byte{b0, 0x80 | 127}, binary.BigEndian.AppendUint64(nil, n)...)
	}
	return append(h, 0, 0, 0, 0) // masking key
}

func (r *rawZWS) frame(fin bool, op byte, payload []byte) error {
	_, err := r.c.Write(append(frameHeader(fin, op, uint64(len(payload))), payload...))
	return err
}

// send writes one ZWS frame: a binary message holding flags and body.
func (r *rawZWS) send(flags byte, body []byte) error {
	return r.frame(true, opBinary, append([]byte{flags}, body...))
}

// readMessage reads the next data message, answering pings and putting
// fragments together.
func (r *rawZWS) readMessage() (op byte, payload []byte, err error) {
	op = 0xff
	for {
		var h [2]byte
		if _, err = io.ReadFull(r.br, h[:]); err != nil {
			return 0, nil, err
		}
		fin, fop := h[0]&0x80 != 0, h[0]&0x0f
		if h[1]&0x80 != 0 {
			return 0, nil, fmt.Errorf("server frame is masked")
		}
		n := uint64(h[1] & 0x7f)
		switch n {
		case 126:
			var e [2]byte
			if _, err = io.ReadFull(r.br, e[:]); err != nil {
				return 0, nil, err
			}
			n = uint64(binary.BigEndian.Uint16(e[:]))
		case 127:
			var e [8]byte
			if _, err = io.ReadFull(r.br, e[:]); err != nil {
				return 0, nil, err
			}
			n = binary.BigEndian.Uint64(e[:])
		}
		if n > 64<<20 {
			return 0, nil, fmt.Errorf("frame of %d bytes", n)
		}
		p := make([]byte, n)
		if _, err = io.ReadFull(r.br, p); err != nil {
			return 0, nil, err
		}
		switch fop {
		case opPing:
			if err = r.frame(true, opPong, p); err != nil {
				return 0, nil, err
			}
			continue
		case opPong:
			continue
		case opClose:
			return opClose, p, nil
		case opCont:
		default:
			op = fop
		}
		payload = append(payload, p...)
		if fin {
			return op, payload, nil
		}
	}
}

// recv reads one ZWS frame.
func (r *rawZWS) recv() (flags byte, body []byte, err error) {
	op, p, err := r.readMessage()
	if err != nil {
		return 0, nil, err
	}
	if op != opBinary {
		return 0, nil, fmt.Errorf("opcode %#x, want binary", op)
	}
	if len(p) == 0 {
		return 0, nil, fmt.Errorf("empty ZWS message")
	}
	return p[0], p[1:], nil
}

// zwsReady is a READY command body (RFC 23): name, then properties, each
// a one-byte name length, the name, a four-byte value length, the value.
func zwsReady(props ...string) []byte {
	b := append([]byte{5}, "READY"...)
	for i := 0; i+1 < len(props); i += 2 {
		b = append(b, byte(len(props[i])))
		b = append(b, props[i]...)
		b = binary.BigEndian.AppendUint32(b, uint32(len(props[i+1])))
		b = append(b, props[i+1]...)
	}
	return b
}

// parseReady reads a READY command's properties.
func parseReady(b []byte) (map[string]string, error) {
	if len(b) < 6 || string(b[:6]) != "\x05READY" {
		return nil, fmt.Errorf("not a READY: %q", b)
	}
	props := map[string]string{}
	b = b[6:]
	for len(b) > 0 {
		n := int(b[0])
		if len(b) < 1+n+4 {
			return nil, fmt.Errorf("short property")
		}
		name := string(b[1 : 1+n])
		vn := int(binary.BigEndian.Uint32(b[1+n:]))
		b = b[1+n+4:]
		if len(b) < vn {
			return nil, fmt.Errorf("short value")
		}
		props[name] = string(b[:vn])
		b = b[vn:]
	}
	return props, nil
}

// handshakeNULL sends our READY as socketType and checks the peer's.
func (r *rawZWS) handshakeNULL(t testing.TB, socketType string) map[string]string {
	t.Helper()
	require.NoError(t, r.send(0x02, zwsReady("Socket-Type", socketType)))
	flags, body, err := r.recv()
	require.NoError(t, err)
	require.Equal(t, byte(0x02), flags, "READY travels as a ZWS command")
	props, err := parseReady(body)
	require.NoError(t, err)
	return props
}

// handshakeBare runs RFC 45's "no mechanism" start (subprotocol ZWS2.0,
// what browsers use): each side's first message is its routing id.
func (r *rawZWS) handshakeBare(t testing.TB, id string) []byte {
	t.Helper()
	require.NoError(t, r.send(0x00, []byte(id)))
	flags, body, err := r.recv()
	require.NoError(t, err)
	require.Equal(t, byte(0x00), flags, "a routing id is a single-frame message")
	return body
}
