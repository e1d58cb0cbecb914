package sockets

import (
	"fmt"

	"github.com/zmqkit/zmqkit/sockets/internal/engine"
)

// CheckEndpoint reports whether endpoint could be given to Listen (bind
// true) or Dial (bind false), without binding or connecting anything: an
// error matches ErrBadEndpoint and says what is wrong. A program that takes
// several endpoints checks them all first, so that a typo in the last one
// does not leave the first ones bound. (Whether a port is free, or a host
// name resolves, only Listen and Dial can tell.) It knows the built-in dial
// sets (dns://NAME:PORT, srv://NAME, list://…), which only Dial takes;
// schemes added with WithResolver are a socket's own and unknown here.
func CheckEndpoint(endpoint string, bind bool) error {
	if set, err := checkSet(endpoint); set {
		if err == nil && bind {
			err = fmt.Errorf("%w %q: a dial set cannot be bound; Listen on tcp://, ipc:// or inproc://", ErrBadEndpoint, endpoint)
		}
		return err
	}
	_, err := engine.ParseEndpoint(endpoint, bind)
	return err
}

// Errors of a Dial whose server turned its handshake down; test them with
// errors.Is on the Err of an EventHandshakeFailed.
var (
	// ErrRefusedByServer: the server refused this PLAIN or CURVE client's
	// handshake: its credentials or CURVE key, or (wrong server public key)
	// its CURVE HELLO. It matches ErrAuth too; the error's text words the
	// likely cause.
	ErrRefusedByServer = errRefusedByServer() // "the server refused our handshake"
	// ErrDialStopped: after that refusal the Dial stopped reconnecting to
	// the endpoint (see WithRetryAuthFailures). Disconnect and Dial again
	// to try anew.
	ErrDialStopped = errDialStopped()
)

func errRefusedByServer() error { return engine.ErrRefusedByServer }
func errDialStopped() error     { return engine.ErrDialStopped }
