package sockets

import (
	"fmt"
	"net/netip"

	"github.com/zmqkit/zmqkit/sockets/internal/engine"
)

// WithPlain makes the socket a ZMTP PLAIN client (RFC 24): every connection,
// reconnects included, presents user and password, and the peer must be a
// PLAIN server. Like libzmq's ZMQ_PLAIN_USERNAME and ZMQ_PLAIN_PASSWORD. PLAIN
// sends the password in clear: use it on networks you trust, or under a
// tunnel.
func WithPlain(user, password string) Option {
	return func(c *config) error {
		if len(user) > 255 || len(password) > 255 {
			return fmt.Errorf("%w: PLAIN user name and password are at most 255 bytes each", ErrBadOption)
		}
		c.Security = engine.PlainClient{User: user, Password: password}
		return nil
	}
}

// WithPlainServer makes the socket a ZMTP PLAIN server, whether it listens
// or dials (libzmq's ZMQ_PLAIN_SERVER). auth decides each client's user name
// and password; a refused client gets an ERROR command and no connection,
// and this side sees EventHandshakeFailed with an error matching ErrAuth. A
// nil auth accepts every client, as libzmq does without a ZAP handler. auth
// runs on the connection's own goroutine, once per handshake.
func WithPlainServer(auth func(user, password string) bool) Option {
	return func(c *config) error {
		c.Security = engine.PlainServer{Auth: auth}
		return nil
	}
}

// WithPlainServerAuth is WithPlainServer with an auth that also sees the
// client's Peer: its address (Remote) and the metadata it announced (Type,
// Identity, Property), so that a user may be admitted from some places
// only; UserID is empty, as auth is what decides it. auth runs once the
// client's INITIATE has brought its metadata (WithPlainServer's runs on
// HELLO, as libzmq asks its ZAP handler), so a refused client receives
// WELCOME and then ERROR "400" in place of READY; either way it has no
// connection, and both sides see EventHandshakeFailed with an error
// matching ErrAuth. A nil auth accepts every client.
func WithPlainServerAuth(auth func(p Peer, user, password string) bool) Option {
	return func(c *config) error {
		var ap func(*engine.Peer, string, string) bool
		if auth != nil {
			ap = func(p *engine.Peer, user, password string) bool { return auth(peerOf(p), user, password) }
		}
		c.Security = engine.PlainServer{AuthPeer: ap}
		return nil
	}
}

// WithAdmission vets every peer that connects over tcp or ipc, whichever
// side dials and whatever the mechanism (NULL, PLAIN, CURVE), once the
// handshake has learnt who it is: admit sees the Peer (Remote, Type,
// Identity and metadata, and UserID where this side authenticated the peer
// as a PLAIN or CURVE server) and refuses it by returning an error. This
// is libzmq's ZAP handler for addresses, as CZMQ's zauth and pyzmq's
// Authenticator allow and deny them (AllowFrom and DenyFrom make such
// lists), and it works under NULL too. Without it every peer is admitted,
// as in libzmq without a ZAP handler.
//
// A refused peer gets no connection: where this side decides the
// handshake (listening under NULL; a PLAIN or CURVE server) the peer gets
// ERROR "400" in place of READY, as from a ZAP handler, so a zmqkit or
// libzmq peer sees a failed handshake (ours: EventHandshakeFailed matching
// ErrAuth); a PLAIN or CURVE client, or a NULL socket that dials, closes
// the connection once the handshake is over. This side reports
// EventHandshakeFailed with an error matching ErrAuth and ErrRefused and
// wrapping admit's, counts it in Stats.HandshakeFailures and
// Stats.AuthFailures, and logs it (at warn level, see WithLogger).
//
// Under NULL the listening side waits for the peer's READY before it sends
// its own, to see the peer's metadata first; every NULL peer we know
// (libzmq, go-zeromq, zmqkit) sends its READY first. admit runs on the
// connection's own goroutine, once per handshake, and must not block for
// long: the handshake timeout runs meanwhile. inproc connections have no
// handshake and are not vetted, as libzmq's ZAP does not vet them.
func WithAdmission(admit func(Peer) error) Option {
	return func(c *config) error {
		if admit == nil {
			c.Admit = nil
			return nil
		}
		c.Admit = func(p *engine.Peer) error { return admit(peerOf(p)) }
		return nil
	}
}

// AllowFrom returns an admission for WithAdmission that admits only peers
// whose IP address is one of addrs, each an address ("192.0.2.7", "::1")
// or a CIDR prefix ("10.0.0.0/8"), as zauth's ALLOW list does. A peer
// without an IP address (ipc) is refused: the list names none. It fails
// with ErrBadOption on an entry that parses as neither.
func AllowFrom(addrs ...string) (func(Peer) error, error) {
	set, err := parsePrefixes("AllowFrom", addrs)
	if err != nil {
		return nil, err
	}
	return func(p Peer) error {
		ip, ok := peerIP(p)
		if !ok {
			return fmt.Errorf("%s: not an IP address, and AllowFrom names only those", describeRemote(p))
		}
		if !listed(set, ip) {
			return fmt.Errorf("%s: not on the allow list", ip)
		}
		return nil
	}, nil
}

// DenyFrom returns an admission for WithAdmission that refuses peers whose
// IP address is one of addrs (addresses or CIDR prefixes, as AllowFrom
// takes them) and admits every other, as zauth's DENY list does.
func DenyFrom(addrs ...string) (func(Peer) error, error) {
	set, err := parsePrefixes("DenyFrom", addrs)
	if err != nil {
		return nil, err
	}
	return func(p Peer) error {
		ip, ok := peerIP(p)
		if !ok {
			return nil
		}
		if listed(set, ip) {
			return fmt.Errorf("%s: on the deny list", ip)
		}
		return nil
	}, nil
}

func parsePrefixes(fn string, addrs []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(addrs))
	for _, a := range addrs {
		if pf, err := netip.ParsePrefix(a); err == nil {
			out = append(out, pf.Masked())
			continue
		}
		ip, err := netip.ParseAddr(a)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %q is neither an IP address nor a CIDR prefix", ErrBadOption, fn, a)
		}
		ip = ip.Unmap()
		out = append(out, netip.PrefixFrom(ip, ip.BitLen()))
	}
	return out, nil
}

// listed reports whether one of set holds ip.
func listed(set []netip.Prefix, ip netip.Addr) bool {
	for _, pf := range set {
		if pf.Contains(ip) {
			return true
		}
	}
	return false
}

// peerIP is the IP address of a tcp peer (an IPv4 address mapped into
// IPv6 reads as IPv4).
func peerIP(p Peer) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(p.Remote)
	if err != nil {
		return netip.Addr{}, false
	}
	return ap.Addr().Unmap(), true
}

func describeRemote(p Peer) string {
	if p.Remote == "" {
		return "peer with no address"
	}
	return fmt.Sprintf("peer %q", p.Remote)
}
