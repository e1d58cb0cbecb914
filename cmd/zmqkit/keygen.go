package main

import (
	"context"
	"fmt"
	"io"

	"github.com/zmqkit/zmqkit/sockets"
)

const keygenSynopsis = `Usage: zmqkit keygen

Prints a new CURVE key pair (Curve25519, from the system's random source),
each key in Z85 (40 characters), as two lines:

  public: <key>
  secret: <key>

The public key goes to the peers (--curve-server on a client, --curve-clients
on a server); the secret key stays with its owner (--curve-secret). A key flag
also takes @file, so that the secret does not show in the process list, and
reads this output as it is (each flag takes the key it needs):

  (umask 077; zmqkit keygen > server.keys; zmqkit keygen > client.keys)
  grep '^public:' server.keys > server.pub    # this one may be shared
  zmqkit recv --type pull --bind tcp://*:5555 --curve-secret @server.keys
  zmqkit send --type push --connect tcp://127.0.0.1:5555 \
      --curve-secret @client.keys --curve-server @server.pub

(recv admits any client here; to admit only yours, give it
--curve-clients @client.pub, made from client.keys as server.pub is.)
`

func runKeygen(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	return report(stderr, "keygen", keygen(args, stdout))
}

func keygen(args []string, stdout io.Writer) error {
	fs := newFlagSet("keygen")
	if err := parseFlags(fs, keygenSynopsis, args, stdout); err != nil {
		return err
	}
	k, err := sockets.NewCurveKeypair()
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(stdout, "public: %s\nsecret: %s\n", sockets.CurveKey(k.Public), sockets.CurveKey(k.Secret)); err != nil {
		return fmt.Errorf("writing stdout: %w", err)
	}
	return nil
}
