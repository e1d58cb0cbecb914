// Package dnstest is a small authoritative DNS server for tests: A, AAAA
// and SRV records that a test sets and changes while it runs, served over
// UDP and TCP on an address the test chooses (127.0.0.1, or one inside a
// network namespace). Names it does not hold get NXDOMAIN; Silence makes it
// drop every query, as a server that does not answer.
//
// It is written for the questions Go's resolver asks (one question per
// message, class IN) and answers nothing else; it is not a general server.
// It exists so the core module's tests need no DNS library: the messages are
// a few fixed layouts (RFC 1035 section 4, RFC 2782 for SRV).
package dnstest

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
)

// Record types and the answers' TTL.
const (
	typeA    = 1
	typeAAAA = 28
	typeSRV  = 33
	classIN  = 1
	ttl      = 1 // seconds: Go's resolver does not cache, but others may
	udpMax   = 1232
)

// SRV is one SRV record's data.
type SRV struct {
	Priority, Weight, Port uint16
	Target                 string
}

type records struct {
	ips []net.IP
	srv []SRV
}

// Server is a running DNS server. Its methods are safe for concurrent use.
type Server struct {
	udp net.PacketConn
	tcp net.Listener

	mu     sync.Mutex
	names  map[string]*records
	silent bool
	conns  map[net.Conn]struct{} // TCP connections open now
	closed bool

	queries atomic.Int64
	wg      sync.WaitGroup
}

// Start serves on addr ("127.0.0.1:0" picks a port) over UDP and TCP, on the
// same port.
func Start(addr string) (*Server, error) {
	return StartOn(addr, net.ListenPacket, net.Listen)
}

// StartOn is Start with the functions that open the sockets (for example
// ones that open them inside a network namespace).
func StartOn(addr string, listenPacket func(network, addr string) (net.PacketConn, error),
	listen func(network, addr string) (net.Listener, error)) (*Server, error) {
	var udp net.PacketConn
	var tcp net.Listener
	// With port 0 the system picks the UDP port, which TCP may have in use
	// already: pick again, a few times.
	for try := 0; ; try++ {
		var err error
		if udp, err = listenPacket("udp", addr); err != nil {
			return nil, err
		}
		if tcp, err = listen("tcp", udp.LocalAddr().String()); err == nil {
			break
		}
		_ = udp.Close()
		if _, port, _ := net.SplitHostPort(addr); port != "0" || try == 10 {
			return nil, err
		}
	}
	s := &Server{udp: udp, tcp: tcp, names: make(map[string]*records), conns: make(map[net.Conn]struct{})}
	s.wg.Add(2)
	go s.serveUDP()
	go s.serveTCP()
	return s, nil
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return s.udp.LocalAddr().String() }

// Queries counts the questions received.
func (s *Server) Queries() int64 { return s.queries.Load() }

// Close stops the server and waits for its goroutines.
func (s *Server) Close() {
	_ = s.udp.Close()
	_ = s.tcp.Close()
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func canon(name string) string { return strings.ToLower(strings.TrimSuffix(name, ".")) }

// SetIPs makes name resolve to ips (A and AAAA records); no ips makes name
// exist with no address (NOERROR, no answer).
func (s *Server) SetIPs(name string, ips ...string) {
	r := &records{}
	for _, ip := range ips {
		r.ips = append(r.ips, net.ParseIP(ip))
	}
	s.mu.Lock()
	old := s.names[canon(name)]
	if old != nil {
		r.srv = old.srv
	}
	s.names[canon(name)] = r
	s.mu.Unlock()
}

// SetSRV gives name these SRV records.
func (s *Server) SetSRV(name string, recs ...SRV) {
	s.mu.Lock()
	r := s.names[canon(name)]
	if r == nil {
		r = &records{}
		s.names[canon(name)] = r
	}
	r.srv = append([]SRV(nil), recs...)
	s.mu.Unlock()
}

// Remove makes name unknown (NXDOMAIN).
func (s *Server) Remove(name string) {
	s.mu.Lock()
	delete(s.names, canon(name))
	s.mu.Unlock()
}

// Silence makes the server drop every query (on) or answer again (off).
func (s *Server) Silence(on bool) {
	s.mu.Lock()
	s.silent = on
	s.mu.Unlock()
}

func (s *Server) serveUDP() {
	defer s.wg.Done()
	buf := make([]byte, 4096)
	for {
		n, from, err := s.udp.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		resp := s.answer(buf[:n], udpMax)
		if resp != nil {
			_, _ = s.udp.WriteTo(resp, from)
		}
	}
}

func (s *Server) serveTCP() {
	defer s.wg.Done()
	var conns sync.WaitGroup
	defer conns.Wait()
	for {
		c, err := s.tcp.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			_ = c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		conns.Add(1)
		go func() {
			defer conns.Done()
			defer func() {
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				_ = c.Close()
			}()
			for {
				var l [2]byte
				if _, err := io.ReadFull(c, l[:]); err != nil {
					return
				}
				q := make([]byte, binary.BigEndian.Uint16(l[:]))
				if _, err := io.ReadFull(c, q); err != nil {
					return
				}
				resp := s.answer(q, 65535)
				if resp == nil {
					continue
				}
				out := binary.BigEndian.AppendUint16(nil, uint16(len(resp)))
				if _, err := c.Write(append(out, resp...)); err != nil {
					return
				}
			}
		}()
	}
}

// answer builds the response to query q, or nil to stay silent. A response
// longer than max is sent truncated (TC, no answers): the client asks again
// over TCP.
func (s *Server) answer(q []byte, max int) []byte {
	if len(q) < 12 {
		return nil
	}
	s.queries.Add(1)
	s.mu.Lock()
	silent := s.silent
	s.mu.Unlock()
	if silent {
		return nil
	}
	id := binary.BigEndian.Uint16(q)
	flags := binary.BigEndian.Uint16(q[2:])
	if flags&0x8000 != 0 || binary.BigEndian.Uint16(q[4:]) != 1 {
		return nil // a response, or not one question
	}
	name, end, ok := readName(q, 12)
	if !ok || end+4 > len(q) {
		return nil
	}
	qtype := binary.BigEndian.Uint16(q[end:])
	question := q[12 : end+4]

	s.mu.Lock()
	r := s.names[canon(name)]
	var rrs [][]byte
	if r != nil {
		switch qtype {
		case typeA, typeAAAA:
			for _, ip := range r.ips {
				if ip4 := ip.To4(); ip4 != nil && qtype == typeA {
					rrs = append(rrs, rr(typeA, ip4))
				} else if ip4 == nil && qtype == typeAAAA {
					rrs = append(rrs, rr(typeAAAA, ip.To16()))
				}
			}
		case typeSRV:
			for _, v := range r.srv {
				d := binary.BigEndian.AppendUint16(nil, v.Priority)
				d = binary.BigEndian.AppendUint16(d, v.Weight)
				d = binary.BigEndian.AppendUint16(d, v.Port)
				rrs = append(rrs, rr(typeSRV, appendName(d, v.Target)))
			}
		}
	}
	s.mu.Unlock()

	// QR, the query's opcode and RD, AA; RCODE 3 (NXDOMAIN) for an unknown
	// name.
	rflags := uint16(0x8000|0x0400) | flags&0x7900
	if r == nil {
		rflags |= 3
	}
	size := 12 + len(question)
	for _, a := range rrs {
		size += len(a)
	}
	if size > max {
		rflags |= 0x0200 // TC
		rrs = nil
	}
	out := make([]byte, 12, size)
	binary.BigEndian.PutUint16(out, id)
	binary.BigEndian.PutUint16(out[2:], rflags)
	binary.BigEndian.PutUint16(out[4:], 1)
	binary.BigEndian.PutUint16(out[6:], uint16(len(rrs)))
	out = append(out, question...)
	for _, a := range rrs {
		out = append(out, a...)
	}
	return out
}

// rr is an answer record for the question's name (a pointer to offset 12).
func rr(typ uint16, data []byte) []byte {
	b := []byte{0xC0, 12}
	b = binary.BigEndian.AppendUint16(b, typ)
	b = binary.BigEndian.AppendUint16(b, classIN)
	b = binary.BigEndian.AppendUint32(b, ttl)
	b = binary.BigEndian.AppendUint16(b, uint16(len(data)))
	return append(b, data...)
}

// appendName writes name uncompressed.
func appendName(b []byte, name string) []byte {
	for _, l := range strings.Split(strings.TrimSuffix(name, "."), ".") {
		if l == "" {
			continue
		}
		b = append(b, byte(len(l)))
		b = append(b, l...)
	}
	return append(b, 0)
}

// readName reads an uncompressed name at off (a question's is never
// compressed); it returns the name and the offset after it.
func readName(b []byte, off int) (string, int, bool) {
	var labels []string
	for {
		if off >= len(b) {
			return "", 0, false
		}
		n := int(b[off])
		off++
		if n == 0 {
			return strings.Join(labels, "."), off, true
		}
		if n > 63 || off+n > len(b) {
			return "", 0, false
		}
		labels = append(labels, string(b[off:off+n]))
		off += n
	}
}
