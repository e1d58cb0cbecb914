package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"

	"github.com/zmqkit/zmqkit/sockets"
)

// curveHelp ends the help of send and recv (the devices have their own).
const curveHelp = `
CURVE (RFC 26: encryption, and authentication by key): --curve-secret alone
makes the socket a CURVE server, which admits any client that knows its
public key, or with --curve-clients only those clients; with --curve-server
too, the socket is a CURVE client of that server. Which side binds does not
matter. Keys are Z85, 40 characters, as 'zmqkit keygen' prints them; any key
flag takes @file instead, to read the value from that file, so that secrets
stay out of the process list: bare keys (one per line or comma-separated),
the output of 'zmqkit keygen', or a CZMQ certificate (each flag takes the
public or secret key it needs from those).
`

// curveFlags are the CURVE (RFC 26) flags of one socket: its own secret
// key, the server's public key when it is a client, the clients it admits
// when it is a server. Keys are Z85, as 'zmqkit keygen' prints them.
type curveFlags struct {
	prefix                  string // of the flag names: "frontend-", "backend-" or ""
	secret, server, clients string
	// warnings, once options has run: a secret key read from a file that
	// others may read. The command reports them and goes on.
	warnings []string
	// allowed is the client list in force (a CURVE server with
	// --curve-clients); reloadClients replaces it.
	allowed atomic.Pointer[map[[32]byte]bool]
}

// register adds --<prefix>curve-secret, -server and -clients; with env,
// each also reads ZMQKIT_<PREFIX>CURVE_<NAME> (as the device flags do).
// what names the socket in the help text.
func (c *curveFlags) register(fs *flag.FlagSet, prefix, what string, env bool) {
	c.prefix = prefix
	str := fs.StringVar
	if env {
		str = func(p *string, name, def, usage string) { envString(fs, p, name, def, usage) }
	}
	str(&c.secret, prefix+"curve-secret", "",
		"CURVE secret `key` of "+what+" (Z85, or @file); alone, it makes "+what+" a CURVE server")
	str(&c.server, prefix+"curve-server", "",
		"the CURVE server's public `key` (Z85, or @file); makes "+what+" its client (needs --"+prefix+"curve-secret)")
	str(&c.clients, prefix+"curve-clients", "",
		"public `keys` of the clients the CURVE server admits, comma-separated (or @file; default: any)")
}

func (c *curveFlags) flagName(name string) string { return "--" + c.prefix + "curve-" + name }

// mode is "server", "client" or "" (no CURVE), for logs; valid once
// options has accepted the flags.
func (c *curveFlags) mode() string {
	switch {
	case strings.TrimSpace(c.server) != "":
		return "client"
	case strings.TrimSpace(c.secret) != "":
		return "server"
	}
	return ""
}

// options turns the flags into socket options (none without CURVE), or a
// usage error naming the flag. An empty value counts as not given.
//
// Any value may be @path: the value is then read from that file, with
// surrounding white space trimmed (for --curve-clients, keys separated by
// commas or line ends). Z85 has '@' among its characters, so a value that
// starts with '@', names no file and is itself a key is taken as the key.
func (c *curveFlags) options() ([]sockets.Option, error) {
	secret, server, clients := strings.TrimSpace(c.secret), strings.TrimSpace(c.server), strings.TrimSpace(c.clients)
	if secret == "" {
		switch {
		case server != "":
			return nil, usagef("%s needs %s, the client's own secret key (see 'zmqkit keygen')", c.flagName("server"), c.flagName("secret"))
		case clients != "":
			return nil, usagef("%s is for a CURVE server, which %s makes", c.flagName("clients"), c.flagName("secret"))
		}
		return nil, nil
	}
	sec, err := c.key("secret", secret, true)
	if err != nil {
		return nil, err
	}
	keys := sockets.CurveKeypairFromSecret(sec)
	if server != "" {
		if clients != "" {
			return nil, usagef("%s is for a CURVE server; with %s this is a client", c.flagName("clients"), c.flagName("server"))
		}
		pub, err := c.key("server", server, false)
		if err != nil {
			return nil, err
		}
		return []sockets.Option{sockets.WithCurve(pub, keys)}, nil
	}
	var auth func([32]byte) bool
	if clients != "" {
		allowed, err := c.keys("clients", clients)
		if err != nil {
			return nil, err
		}
		c.allowed.Store(&allowed)
		auth = func(k [32]byte) bool { return (*c.allowed.Load())[k] }
	}
	return []sockets.Option{sockets.WithCurveServer(keys, auth)}, nil
}

// reloadClients reads a --curve-clients @file again (SIGHUP), for the
// handshakes to come (admits tells the clients already connected that it
// no longer holds). It reports whether there was a file to read; on an
// error the list in force stays.
func (c *curveFlags) reloadClients() (bool, int, error) {
	clients := strings.TrimSpace(c.clients)
	if c.allowed.Load() == nil || !strings.HasPrefix(clients, "@") {
		return false, 0, nil
	}
	allowed, err := c.keys("clients", clients)
	if err != nil {
		return true, 0, err
	}
	c.allowed.Store(&allowed)
	return true, len(allowed), nil
}

// admits reports whether the client list in force (if any) holds the key
// p authenticated with: a peer of a CURVE server has its key in UserID.
func (c *curveFlags) admits(p sockets.Peer) bool {
	allowed := c.allowed.Load()
	if allowed == nil {
		return true
	}
	k, err := sockets.ParseCurveKey(p.UserID)
	return err == nil && len(p.UserID) == 40 && (*allowed)[k]
}

// key reads the one key of flag name.
func (c *curveFlags) key(name, v string, secret bool) ([32]byte, error) {
	flagName := c.flagName(name)
	if secret && strings.HasPrefix(v, "@") {
		if fi, err := os.Stat(v[1:]); err == nil && fi.Mode().Perm()&0o077 != 0 {
			c.warnings = append(c.warnings, fmt.Sprintf("%s: %s may be read by other users (mode %04o); chmod 600 it",
				flagName, v[1:], fi.Mode().Perm()))
		}
	}
	v, err := fromFile(flagName, v)
	if err != nil {
		return [32]byte{}, err
	}
	want := "public"
	if secret {
		want = "secret"
	}
	found, labelled, err := labelledKeys(flagName, v, want)
	switch {
	case err != nil:
		return [32]byte{}, err
	case !labelled:
		return parseKey(flagName, v, secret)
	case len(found) != 1:
		return [32]byte{}, usagef("%s: the file holds %d %s keys; it needs one", flagName, len(found), want)
	}
	return parseKey(flagName, found[0], secret)
}

// keys reads the set of public keys of flag name.
func (c *curveFlags) keys(name, v string) (map[[32]byte]bool, error) {
	v, err := fromFile(c.flagName(name), v)
	if err != nil {
		return nil, err
	}
	fields, labelled, err := labelledKeys(c.flagName(name), v, "public")
	if err != nil {
		return nil, err
	}
	if !labelled {
		fields = strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' })
	}
	if len(fields) == 0 {
		return nil, usagef("%s: no keys in %q", c.flagName(name), v)
	}
	set := make(map[[32]byte]bool, len(fields))
	for _, f := range fields {
		k, err := parseKey(c.flagName(name), f, false)
		if err != nil {
			return nil, err
		}
		set[k] = true
	}
	return set, nil
}

// fromFile resolves a value of the form @path: see options.
func fromFile(flagName, v string) (string, error) {
	if !strings.HasPrefix(v, "@") {
		return v, nil
	}
	b, err := os.ReadFile(v[1:])
	if err != nil {
		first, _, _ := strings.Cut(v, ",")
		if _, kerr := sockets.ParseCurveKey(first); errors.Is(err, os.ErrNotExist) && len(first) == 40 && kerr == nil {
			return v, nil
		}
		return "", usagef("%s: %v", flagName, err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", usagef("%s: %s is empty", flagName, v[1:])
	}
	return s, nil
}

// labelledKeys reads the keys of kind want ("public" or "secret") from a
// key file that names its keys: 'zmqkit keygen' output ("public: K" and
// "secret: K" lines) or a CZMQ certificate (public-key = "K" and
// secret-key = "K" under "curve", with '#' comments and other sections).
// labelled is false when no line names a key: the text is then bare keys.
// A list of public keys must not carry a secret one (that file belongs
// to its owner alone), so wanting public keys from a file that also
// holds a secret key is fine only for one key (a server's own pair).
func labelledKeys(flagName, text, want string) (found []string, labelled bool, err error) {
	secrets := 0
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		// The label is a word, then ':' or '='; both are Z85 characters,
		// so a key's own may follow but never precede the label's.
		rest := strings.TrimLeft(line, "abcdefghijklmnopqrstuvwxyz-")
		label := line[:len(line)-len(rest)]
		rest = strings.TrimSpace(rest)
		kind, _ := strings.CutSuffix(label, "-key")
		if (kind != "public" && kind != "secret") || rest == "" || (rest[0] != ':' && rest[0] != '=') {
			continue
		}
		value := strings.Trim(strings.TrimSpace(rest[1:]), `"`)
		labelled = true
		if kind == "secret" {
			secrets++
		}
		if kind == want {
			found = append(found, value)
		}
	}
	if labelled && want == "public" && secrets > 0 && len(found) > 1 {
		return nil, true, usagef("%s: the file holds a secret key beside several public keys; give the public keys alone", flagName)
	}
	return found, labelled, nil
}

// warn prints each warning as a line "zmqkit <cmd>: warning: ...".
func warn(stderr io.Writer, cmd string, warnings []string) {
	for _, w := range warnings {
		fmt.Fprintf(stderr, "zmqkit %s: warning: %s\n", cmd, w)
	}
}

// parseKey reads one Z85 key. The error shows a public key but never a
// secret one, which would end up in logs.
func parseKey(flagName, s string, secret bool) ([32]byte, error) {
	if len(s) != 40 {
		if secret {
			return [32]byte{}, usagef("%s: a CURVE key is 40 Z85 characters, not %d", flagName, len(s))
		}
		return [32]byte{}, usagef("%s: %q: a CURVE key is 40 Z85 characters, not %d", flagName, s, len(s))
	}
	k, err := sockets.ParseCurveKey(s)
	if err != nil {
		if secret {
			return k, usagef("%s: not valid Z85", flagName)
		}
		why := err.Error()
		if ze, ok := errors.AsType[*sockets.Z85Error](err); ok {
			why = ze.Reason
		}
		return k, usagef("%s: %q is not valid Z85: %s", flagName, s, why)
	}
	return k, nil
}
