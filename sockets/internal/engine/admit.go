package engine

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/go-zeromq/zmq4"
)

// ErrRefused is why a handshake fails when the socket's admission hook
// (Options.Admit) refused the peer; it comes wrapped with ErrAuth.
var ErrRefused = errors.New("peer refused by admission")

// admission is what a handshake needs to vet the peer once it knows it:
// where it connects from, and the socket's hook. The mechanism's deciding
// side runs it before its last command, so that a refusal is an ERROR in
// place of that command, as a ZAP handler's would be.
type admission struct {
	remote string
	admit  func(*Peer) error
}

// peer is the Peer the handshake has learnt so far: the peer's metadata
// (a copy without any "User-Id" it claims), and the user our mechanism
// authenticated, if any.
func (a *admission) peer(meta zmq4.Metadata, userID string) *Peer {
	pr := peerFrom(meta, userID)
	if a != nil {
		pr.Remote = a.remote
	}
	return &pr
}

// check runs the hook; a refusal matches ErrAuth and ErrRefused and wraps
// the hook's reason.
func (a *admission) check(meta zmq4.Metadata, userID string) error {
	if a == nil || a.admit == nil {
		return nil
	}
	if err := a.admit(a.peer(meta, userID)); err != nil {
		return fmt.Errorf("%w: %w: %w", ErrAuth, ErrRefused, err)
	}
	return nil
}

// peerFrom reads the socket type and routing id out of a peer's metadata
// and keeps the rest, less "User-Id", which only our own mechanism sets.
func peerFrom(meta zmq4.Metadata, userID string) Peer {
	pr := Peer{Meta: make(map[string]string, len(meta)), UserID: userID}
	for k, v := range meta {
		if !strings.EqualFold(k, "User-Id") {
			pr.Meta[k] = v
		}
	}
	pr.Type = zmq4.SocketType(meta["Socket-Type"])
	if id := meta["Identity"]; id != "" {
		pr.Identity = []byte(id)
	}
	return pr
}

// nullAdmitting is NULL (RFC 23) for a socket that vets its peers: the
// side that accepted the connection waits for the peer's READY, asks the
// hook, and answers READY or, refusing, ERROR "400" (as libzmq's NULL
// server does with a ZAP handler); the dialing side sends its READY first,
// as any NULL peer does, and refuses with ERROR after the peer's READY.
type nullAdmitting struct{ adm *admission }

var _ zmq4.Security = nullAdmitting{}

func (nullAdmitting) Type() zmq4.SecurityType                    { return zmq4.NullSecurity }
func (nullAdmitting) Encrypt(w io.Writer, b []byte) (int, error) { return w.Write(b) }
func (nullAdmitting) Decrypt(w io.Writer, b []byte) (int, error) { return w.Write(b) }

func (n nullAdmitting) Handshake(c *zmq4.Conn, server bool) error {
	if !server {
		if err := sendReady(c); err != nil {
			return err
		}
	}
	if err := recvNullReady(c); err != nil {
		return err
	}
	if err := n.adm.check(c.Peer.Meta, ""); err != nil {
		sendError(c, zapRefused)
		return err
	}
	if server {
		return sendReady(c)
	}
	return nil
}

func sendReady(c *zmq4.Conn) error {
	meta, err := c.Meta.MarshalZMTP()
	if err != nil {
		return fmt.Errorf("NULL: %w", err)
	}
	if err := c.SendCmd(zmq4.CmdReady, meta); err != nil {
		return fmt.Errorf("NULL: sending READY: %w", err)
	}
	return nil
}

func recvNullReady(c *zmq4.Conn) error {
	cmd, err := c.RecvCmd()
	if err != nil {
		return fmt.Errorf("NULL: waiting for READY: %w", err)
	}
	switch cmd.Name {
	case zmq4.CmdReady:
	case zmq4.CmdError:
		return errorReason(cmd.Body)
	default:
		return fmt.Errorf("NULL: got %s, want READY", cmd.Name)
	}
	if err := checkMeta(cmd.Body); err != nil {
		return fmt.Errorf("NULL: READY metadata: %w", err)
	}
	if err := c.Peer.Meta.UnmarshalZMTP(cmd.Body); err != nil {
		return fmt.Errorf("NULL: READY metadata: %w", err)
	}
	return nil
}
