package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/internal/testutil"
	"github.com/zmqkit/zmqkit/patterns/majordomo"
	"github.com/zmqkit/zmqkit/sockets"
)

func curveKeys(t *testing.T) sockets.CurveKeypair {
	t.Helper()
	k, err := sockets.NewCurveKeypair()
	require.NoError(t, err)
	return k
}

// keyFile writes content to a new file in dir and returns "@path".
func keyFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return "@" + path
}

// awaitEvent reads s's events until one of kind arrives, or fails after 5s.
func awaitEvent(t *testing.T, s *sockets.Socket, kind sockets.EventKind) sockets.Event {
	t.Helper()
	timeout := time.NewTimer(5 * time.Second)
	defer timeout.Stop()
	for {
		select {
		case ev := <-s.Events():
			if ev.Kind == kind {
				return ev
			}
		case <-timeout.C:
			require.FailNow(t, "no event", "waited 5s for %v", kind)
		}
	}
}

func TestKeygen(t *testing.T) {
	gen := func() (public, secret string) {
		p := start(t, nil, "keygen")
		require.Equal(t, 0, p.wait(t), p.stderr.String())
		assert.Empty(t, p.stderr.String())
		lines := p.stdout.lines()
		require.Len(t, lines, 2, p.stdout.String())
		public, ok := strings.CutPrefix(lines[0], "public: ")
		require.True(t, ok, lines[0])
		secret, ok = strings.CutPrefix(lines[1], "secret: ")
		require.True(t, ok, lines[1])
		return public, secret
	}
	pub, sec := gen()
	assert.Len(t, pub, 40)
	assert.Len(t, sec, 40)
	pk, err := sockets.ParseCurveKey(pub)
	require.NoError(t, err)
	sk, err := sockets.ParseCurveKey(sec)
	require.NoError(t, err)
	assert.Equal(t, sockets.CurveKeypairFromSecret(sk).Public, pk, "the public key belongs to the secret one")

	pub2, sec2 := gen()
	assert.NotEqual(t, pub, pub2)
	assert.NotEqual(t, sec, sec2)
}

// recv is a CURVE server that admits one client; senders with the wrong
// server key, an unlisted key or no CURVE get no connection, and the same
// recv then takes the admitted client's messages, so the refusals cannot
// pass by the recv not working at all. Keys come from files.
func TestE2ECurve(t *testing.T) {
	srv, other, friend, stranger := curveKeys(t), curveKeys(t), curveKeys(t), curveKeys(t)
	dir := t.TempDir()
	// The server's file is keygen's output as it is; the others hold bare keys.
	srvSecret := keyFile(t, dir, "srv.keys", "public: "+sockets.CurveKey(srv.Public)+"\nsecret: "+sockets.CurveKey(srv.Secret)+"\n")
	srvPublic := keyFile(t, dir, "srv.public", "  "+sockets.CurveKey(srv.Public)+"\n")
	friendSecret := keyFile(t, dir, "friend.secret", sockets.CurveKey(friend.Secret))
	clients := keyFile(t, dir, "clients", sockets.CurveKey(other.Public)+"\n"+sockets.CurveKey(friend.Public)+"\n")

	recv := start(t, nil, "recv", "--type", "pull", "--bind", "tcp://127.0.0.1:0", "--count", "3", "--timeout", "10s", "--from",
		"--curve-secret", srvSecret, "--curve-clients", clients)
	ep := recv.stderr.waitEndpoint(t)

	for _, tc := range []struct {
		name string
		args []string
		why  []string // in the error: why the handshake failed
	}{
		// Refused: the client says so at once, and gives up.
		{"wrong server key", []string{"--curve-secret", friendSecret, "--curve-server", sockets.CurveKey(other.Public)},
			[]string{"zmqkit send: --connect " + ep + ": ", "wrong server public key?", "not reconnecting"}},
		{"client not listed", []string{"--curve-secret", sockets.CurveKey(stranger.Secret), "--curve-server", srvPublic},
			[]string{"zmqkit send: --connect " + ep + ": ", "not among the clients it admits", "refused our credentials"}},
		// Not a refusal: it keeps trying until --timeout.
		{"no CURVE", nil, []string{"zmqkit send: no peer connected within 300ms", "security mechanism"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"send", "--type", "push", "--connect", ep, "--count", "1", "--timeout", "300ms"}, tc.args...)
			send := start(t, nil, args...)
			assert.Equal(t, 1, send.wait(t))
			oneLine(t, send.stderr.String(), tc.why...)
		})
	}
	assert.Empty(t, recv.stdout.String(), "nothing from the refused senders")

	send := start(t, nil, "send", "--type", "push", "--connect", ep, "--count", "3", "--size", "6",
		"--curve-secret", friendSecret, "--curve-server", srvPublic)
	require.Equal(t, 0, send.wait(t), send.stderr.String())
	require.Equal(t, 0, recv.wait(t), recv.stderr.String())
	// --from: the sender's key (as this side checked it) and address first.
	lines := recv.stdout.lines()
	require.Len(t, lines, 3)
	for i, l := range lines {
		f := strings.Split(l, "\t")
		require.Len(t, f, 3, l)
		assert.Equal(t, sockets.CurveKey(friend.Public), string(unescape([]byte(f[0]))))
		assert.Regexp(t, `^127\.0\.0\.1:\d+$`, f[1])
		assert.Equal(t, fmt.Sprintf("%d xxxx", i+1), f[2])
	}

	t.Run("the binding side is the client", func(t *testing.T) {
		// Roles belong to CURVE, not to who binds: send binds as the
		// client, recv connects as the server.
		send := start(t, nil, "send", "--type", "push", "--bind", "tcp://127.0.0.1:0", "--count", "2", "--size", "3",
			"--curve-secret", sockets.CurveKey(friend.Secret), "--curve-server", sockets.CurveKey(srv.Public))
		ep := send.stderr.waitEndpoint(t)
		recv := start(t, nil, "recv", "--type", "pull", "--connect", ep, "--count", "2", "--curve-secret", srvSecret)
		require.Equal(t, 0, send.wait(t), send.stderr.String())
		require.Equal(t, 0, recv.wait(t), recv.stderr.String())
		assert.Equal(t, []string{"1 x", "2 x"}, recv.stdout.lines())
	})
}

// A streamer whose frontend is a CURVE server for listed clients only, and
// whose backend is plain.
func TestDeviceCurveFrontend(t *testing.T) {
	ctx := testutil.Context(t, 30*time.Second)
	srv, friend, stranger := curveKeys(t), curveKeys(t), curveKeys(t)
	d := startDevice(t, nil, "streamer", "--frontend", "tcp://127.0.0.1:0", "--backend", "tcp://127.0.0.1:0",
		"--frontend-curve-secret", sockets.CurveKey(srv.Secret),
		"--frontend-curve-clients", sockets.CurveKey(curveKeys(t).Public)+","+sockets.CurveKey(friend.Public))
	assert.Contains(t, d.stderr.String(), `"curve":"server"`, "the log says the frontend is a CURVE server")

	pull := sock(t, sockets.Pull)
	require.NoError(t, pull.Dial(d.eps["backend"]))
	push := sock(t, sockets.Push, sockets.WithCurve(srv.Public, friend))
	require.NoError(t, push.Dial(d.eps["frontend"]))
	require.NoError(t, push.Send(ctx, []byte("sealed"), []byte("two frames")))
	m, err := pull.Recv(ctx)
	require.NoError(t, err)
	assert.Equal(t, [][]byte{[]byte("sealed"), []byte("two frames")}, m)

	refused := sock(t, sockets.Push, sockets.WithCurve(srv.Public, stranger), sockets.WithReconnect(time.Second, time.Second))
	require.NoError(t, refused.Dial(d.eps["frontend"]))
	ev := awaitEvent(t, refused, sockets.EventHandshakeFailed)
	assert.ErrorIs(t, ev.Err, sockets.ErrAuth, "%v", ev.Err)
	assert.Zero(t, refused.Stats().Connects)

	require.NoError(t, d.cmd.Process.Signal(syscall.SIGTERM))
	assert.Equal(t, 0, d.wait(t))
}

// A queue whose backend connects, as a CURVE client, to a worker that is
// the CURVE server; the flags come from the environment, the server key
// from a file.
func TestDeviceCurveClientFromEnvironment(t *testing.T) {
	ctx := testutil.Context(t, 30*time.Second)
	srv, cli := curveKeys(t), curveKeys(t)
	rep := sock(t, sockets.Rep, sockets.WithCurveServer(srv, func(k [32]byte) bool { return k == cli.Public }))
	addr, err := rep.Listen("tcp://127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	wctx, stop := context.WithCancel(ctx)
	defer func() { stop(); wg.Wait() }()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			m, err := rep.Recv(wctx)
			if err != nil || rep.Send(wctx, append([]byte("re:"), m[0]...)) != nil {
				return
			}
		}
	}()

	d := startDevice(t, []string{
		"ZMQKIT_FRONTEND=tcp://127.0.0.1:0",
		"ZMQKIT_BACKEND=>" + addr,
		"ZMQKIT_BACKEND_CURVE_SECRET=" + sockets.CurveKey(cli.Secret),
		"ZMQKIT_BACKEND_CURVE_SERVER=" + keyFile(t, t.TempDir(), "server.public", sockets.CurveKey(srv.Public)),
	}, "queue")
	req := sock(t, sockets.Req)
	require.NoError(t, req.Dial(d.eps["frontend"]))
	require.NoError(t, req.Send(ctx, []byte("ping")))
	r, err := req.Recv(ctx)
	require.NoError(t, err)
	assert.Equal(t, "re:ping", string(r[0]))

	require.NoError(t, d.cmd.Process.Signal(syscall.SIGTERM))
	assert.Equal(t, 0, d.wait(t))
}

func TestBrokerCurve(t *testing.T) {
	ctx := testutil.Context(t, 30*time.Second)
	srv := curveKeys(t)
	d := startDevice(t, nil, "broker", "--bind", "tcp://127.0.0.1:0", "--heartbeat", "100ms",
		"--curve-secret", keyFile(t, t.TempDir(), "broker.secret", sockets.CurveKey(srv.Secret)))
	ep := d.all[0]
	curve := func() majordomo.Option {
		return majordomo.WithSocketOptions(sockets.WithCurve(srv.Public, curveKeys(t)))
	}
	w, err := majordomo.NewWorker(ep, "echo", func(_ context.Context, req [][]byte) ([][]byte, error) {
		return req, nil
	}, majordomo.WithHeartbeat(100*time.Millisecond, 3), curve())
	require.NoError(t, err)
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(wctx) }()
	defer func() { stop(); <-done }()

	c, err := majordomo.NewClient(ep, majordomo.WithRetry(2*time.Second, 3), curve())
	require.NoError(t, err)
	defer c.Close()
	reply, err := c.Send(ctx, "echo", []byte("hi"))
	require.NoError(t, err)
	assert.Equal(t, [][]byte{[]byte("hi")}, reply)

	plain, err := majordomo.NewClient(ep, majordomo.WithRetry(200*time.Millisecond, 1))
	require.NoError(t, err)
	defer plain.Close()
	_, err = plain.Send(ctx, "echo", []byte("hi"))
	assert.ErrorIs(t, err, majordomo.ErrNoReply, "a client without CURVE gets nothing")

	require.NoError(t, d.cmd.Process.Signal(syscall.SIGTERM))
	assert.Equal(t, 0, d.wait(t))
}

func TestCurveUsageErrors(t *testing.T) {
	dir := t.TempDir()
	// A key cut to 39 characters must read as a bad key, not as an @path:
	// take one that does not start with '@' (1 in 85 do).
	key := sockets.CurveKey(curveKeys(t).Public)
	for key[0] == '@' {
		key = sockets.CurveKey(curveKeys(t).Public)
	}
	secret := sockets.CurveKey(curveKeys(t).Secret)
	badSecret := "~" + secret[1:] // '~' is not Z85
	missing := filepath.Join(dir, "missing")
	empty := keyFile(t, dir, "empty", "\n")
	dev := []string{"streamer", "--frontend", "tcp://127.0.0.1:0", "--backend", "tcp://127.0.0.1:0"}
	cases := []struct {
		name string
		env  []string // NAME=value
		args []string
		want []string
	}{
		{"short key", nil, append(dev, "--frontend-curve-secret", "short"),
			[]string{"zmqkit streamer: --frontend-curve-secret: a CURVE key is 40 Z85 characters, not 5"}},
		{"bad Z85 secret", nil, append(dev, "--backend-curve-secret", badSecret),
			[]string{"--backend-curve-secret: not valid Z85"}},
		{"bad Z85 server key", nil, append(dev, "--backend-curve-secret", secret, "--backend-curve-server", strings.Repeat("#", 40)),
			[]string{"--backend-curve-server: ", "is not valid Z85", "exceeds 32 bits"}},
		{"bad client key", nil, append(dev, "--frontend-curve-secret", secret, "--frontend-curve-clients", key+",nope"),
			[]string{`--frontend-curve-clients: "nope": a CURVE key is 40 Z85 characters, not 4`}},
		{"server without secret", nil, append(dev, "--frontend-curve-server", key),
			[]string{"--frontend-curve-server needs --frontend-curve-secret"}},
		{"clients without server", nil, append(dev, "--backend-curve-clients", key),
			[]string{"--backend-curve-clients is for a CURVE server"}},
		{"clients on a client", nil, append(dev, "--frontend-curve-secret", secret, "--frontend-curve-server", key, "--frontend-curve-clients", key),
			[]string{"--frontend-curve-clients is for a CURVE server", "--frontend-curve-server"}},
		{"no such file", nil, append(dev, "--frontend-curve-secret", "@"+missing),
			[]string{"--frontend-curve-secret: ", missing, "no such file"}},
		{"empty file", nil, append(dev, "--frontend-curve-secret", secret, "--frontend-curve-clients", empty),
			[]string{"--frontend-curve-clients: ", "is empty"}},
		{"from the environment", []string{"ZMQKIT_FRONTEND_CURVE_SECRET", badSecret}, dev,
			[]string{"--frontend-curve-secret: not valid Z85"}},
		{"send", nil, []string{"send", "--type", "push", "--connect", "tcp://127.0.0.1:1", "--curve-secret", "@" + missing},
			[]string{"zmqkit send: --curve-secret: ", "no such file"}},
		{"recv", nil, []string{"recv", "--type", "pull", "--bind", "tcp://127.0.0.1:0", "--curve-secret", secret, "--curve-server", key[:39]},
			[]string{"zmqkit recv: --curve-server: ", "not 39"}},
		{"broker", nil, []string{"broker", "--bind", "tcp://127.0.0.1:0", "--curve-clients", key},
			[]string{"zmqkit broker: --curve-clients is for a CURVE server"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env != nil {
				t.Setenv(tc.env[0], tc.env[1])
			}
			code, out, errOut := runCmd(t, tc.args...)
			assert.Equal(t, 2, code)
			assert.Empty(t, out)
			oneLine(t, errOut, tc.want...)
			assert.NotContains(t, errOut, secret[1:], "a secret key is never shown")
		})
	}
}

// Values from files: white space trimmed, client keys one per line or
// comma-separated; a key that happens to begin with '@' is still a key.
func TestCurveKeyFiles(t *testing.T) {
	dir := t.TempDir()
	a, b, c := curveKeys(t).Public, curveKeys(t).Public, curveKeys(t).Public
	f := curveFlags{prefix: "frontend-"}
	set, err := f.keys("clients", keyFile(t, dir, "clients", "\n"+sockets.CurveKey(a)+"\n"+sockets.CurveKey(b)+", "+sockets.CurveKey(c)+"\r\n"))
	require.NoError(t, err)
	assert.Equal(t, map[[32]byte]bool{a: true, b: true, c: true}, set)

	at := "@" + strings.Repeat("0", 39) // valid Z85: '@' is a digit of it
	k, err := f.key("server", at, false)
	require.NoError(t, err)
	want, err := sockets.ParseCurveKey(at)
	require.NoError(t, err)
	assert.Equal(t, want, k)

	f.secret, f.server = keyFile(t, dir, "secret", sockets.CurveKey(curveKeys(t).Secret)+"\n"), keyFile(t, dir, "server", sockets.CurveKey(a))
	opts, err := f.options()
	require.NoError(t, err)
	assert.Len(t, opts, 1)
	assert.Equal(t, "client", f.mode())
}

// Key files that name their keys: keygen's output as it is, and CZMQ
// certificates; each flag takes the kind of key it needs.
func TestCurveLabelledKeyFiles(t *testing.T) {
	dir := t.TempDir()
	f := curveFlags{prefix: ""}
	pair, other := curveKeys(t), curveKeys(t)
	z := sockets.CurveKey
	keygenOut := keyFile(t, dir, "server.keys", "public: "+z(pair.Public)+"\nsecret: "+z(pair.Secret)+"\n")
	zcert := keyFile(t, dir, "server.key_secret", `#   ****  Generated by CZMQ  ****
#   ZeroMQ CURVE **Secret** Certificate
#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.

metadata
    name = "server"
curve
    public-key = "`+z(pair.Public)+`"
    secret-key = "`+z(pair.Secret)+`"
`)
	for _, file := range []string{keygenOut, zcert} {
		sec, err := f.key("secret", file, true)
		require.NoError(t, err, file)
		assert.Equal(t, pair.Secret, sec, file)
		pub, err := f.key("server", file, false)
		require.NoError(t, err, file)
		assert.Equal(t, pair.Public, pub, file)
	}

	// A list of labelled public keys, as several 'grep ^public:' lines.
	clients := keyFile(t, dir, "clients", "public: "+z(pair.Public)+"\n# bob\npublic: "+z(other.Public)+"\n")
	set, err := f.keys("clients", clients)
	require.NoError(t, err)
	assert.Equal(t, map[[32]byte]bool{pair.Public: true, other.Public: true}, set)

	// Keys whose Z85 holds ':' or '=' still read in both layouts.
	odd := "a:b=c" + strings.Repeat("0", 35)
	want, err := sockets.ParseCurveKey(odd)
	require.NoError(t, err)
	for _, text := range []string{"public: " + odd, `public-key = "` + odd + `"`, odd} {
		k, err := f.key("server", keyFile(t, dir, "odd", text), false)
		require.NoError(t, err, text)
		assert.Equal(t, want, k, text)
	}

	bad := []struct{ name, text, flag, want string }{
		{"no secret in a public file", "public: " + z(pair.Public), "secret", "holds 0 secret keys"},
		{"two secrets", "secret: " + z(pair.Secret) + "\nsecret: " + z(other.Secret), "secret", "holds 2 secret keys"},
		{"secret among clients", "public: " + z(pair.Public) + "\npublic: " + z(other.Public) + "\nsecret: " + z(other.Secret), "clients", "give the public keys alone"},
		{"bad labelled key", "public: nope", "server", `"nope": a CURVE key is 40 Z85 characters, not 4`},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			file := keyFile(t, dir, "bad", tc.text)
			var err error
			if tc.flag == "clients" {
				_, err = f.keys(tc.flag, file)
			} else {
				_, err = f.key(tc.flag, file, tc.flag == "secret")
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), z(other.Secret))
		})
	}
}

// A secret key in a file other users may read is used, with a warning.
func TestCurveSecretFileModeWarning(t *testing.T) {
	dir := t.TempDir()
	k := curveKeys(t)
	open := keyFile(t, dir, "open.keys", "secret: "+sockets.CurveKey(k.Secret)+"\n")
	require.NoError(t, os.Chmod(open[1:], 0o644))
	closed := keyFile(t, dir, "closed.keys", "secret: "+sockets.CurveKey(k.Secret)+"\n")
	for _, tc := range []struct {
		file string
		warn bool
	}{{open, true}, {closed, false}} {
		code, _, errOut := runCmd(t, "send", "--type", "push", "--connect", "tcp://127.0.0.1:1", "--count", "1",
			"--timeout", "50ms", "--curve-secret", tc.file, "--curve-server", sockets.CurveKey(k.Public))
		assert.Equal(t, 1, code, errOut)
		lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
		if !tc.warn {
			assert.Len(t, lines, 1, errOut)
			continue
		}
		require.Len(t, lines, 2, errOut)
		assert.Equal(t, "zmqkit send: warning: --curve-secret: "+tc.file[1:]+" may be read by other users (mode 0644); chmod 600 it", lines[0])
		assert.NotContains(t, errOut, sockets.CurveKey(k.Secret)[1:])
	}
}

// A forwarder admits subscriptions by CURVE key as --backend-topics says:
// everyone may take news., alice weather. too; what is refused is logged,
// counted, and never delivered.
func TestForwarderBackendTopics(t *testing.T) {
	ctx := testutil.Context(t, 30*time.Second)
	srv, alice, bob := curveKeys(t), curveKeys(t), curveKeys(t)
	dir := t.TempDir()
	rules := filepath.Join(dir, "topics")
	require.NoError(t, os.WriteFile(rules, []byte("# who may subscribe to what\n*  news.\n"+
		sockets.CurveKey(alice.Public)+"  weather.\n"), 0o600))
	d := startDevice(t, nil, "forwarder", "--frontend", "tcp://127.0.0.1:0", "--backend", "tcp://127.0.0.1:0",
		"--backend-curve-secret", keyFile(t, dir, "srv.keys", "secret: "+sockets.CurveKey(srv.Secret)+"\n"),
		"--backend-topics", rules, "--metrics", "127.0.0.1:0")
	pub := sock(t, sockets.Pub)
	require.NoError(t, pub.Dial(d.eps["frontend"]))
	subA := sock(t, sockets.Sub, sockets.WithCurve(srv.Public, alice),
		sockets.WithSubscribe("news."), sockets.WithSubscribe("weather."), sockets.WithSubscribe("sports."))
	subB := sock(t, sockets.Sub, sockets.WithCurve(srv.Public, bob),
		sockets.WithSubscribe("news."), sockets.WithSubscribe("weather."))
	require.NoError(t, subA.Dial(d.eps["backend"]))
	require.NoError(t, subB.Dial(d.eps["backend"]))

	// What is allowed gets through (subscriptions travel upstream first).
	// through publishes topic until s gets it; other probes are skipped.
	through := func(s *sockets.Socket, topic string) {
		for i := 0; ; i++ {
			require.Less(t, i, 400, "%s never got through", topic)
			require.NoError(t, pub.Send(ctx, []byte(topic), []byte("probe")))
			rctx, cancel := context.WithTimeout(ctx, 25*time.Millisecond)
			m, err := s.Recv(rctx)
			cancel()
			if err == nil && string(m[0]) == topic {
				return
			}
		}
	}
	through(subB, "news.b")
	through(subA, "news.a")
	through(subA, "weather.a")
	for _, s := range []*sockets.Socket{subA, subB} { // leftover probes
		for {
			rctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
			m, err := s.Recv(rctx)
			cancel()
			if err != nil {
				break
			}
			require.Equal(t, "probe", string(m[1]))
		}
	}
	// alice's sports. and bob's weather. were refused.
	refused := `zmqkit_socket_events_total{device="forwarder",event="subscription_refused",side="backend"} 2`
	require.Contains(t, scrapeUntil(t, d.metrics, refused), refused, "two refusals counted:\n%s", d.stderr.String())
	require.NoError(t, pub.Send(ctx, []byte("sports.1"), []byte("x")))
	require.NoError(t, pub.Send(ctx, []byte("weather.1"), []byte("x")))
	require.NoError(t, pub.Send(ctx, []byte("news.end"), []byte("x")))
	for _, tc := range []struct {
		s    *sockets.Socket
		want []string
	}{{subA, []string{"weather.1", "news.end"}}, {subB, []string{"news.end"}}} {
		for _, want := range tc.want {
			m, err := tc.s.Recv(ctx)
			require.NoError(t, err)
			assert.Equal(t, want, string(m[0]))
		}
	}
	log := d.stderr.String()
	assert.Contains(t, log, `"msg":"subscription refused"`)
	assert.Contains(t, log, sockets.CurveKey(bob.Public))

	// SIGHUP reads the rules again: bob may now take weather. too, once he
	// asks again.
	require.NoError(t, os.WriteFile(rules, []byte("*  news.\n"+sockets.CurveKey(alice.Public)+"  weather.\n"+
		sockets.CurveKey(bob.Public)+"  weather.\n"), 0o600))
	mark := len(d.stderr.String())
	require.NoError(t, d.cmd.Process.Signal(syscall.SIGHUP))
	d.stderr.waitFor(t, mark, `"flag":"--backend-topics","keys":2`, 10*time.Second) // the "reloaded" line
	require.NoError(t, subB.Unsubscribe("weather."))
	require.NoError(t, subB.Subscribe("weather."))
	through(subB, "weather.b")
	require.NoError(t, d.cmd.Process.Signal(syscall.SIGTERM))
	assert.Equal(t, 0, d.wait(t))
}

func TestForwarderBackendTopicsErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(text), 0o600))
		return p
	}
	key := sockets.CurveKey(curveKeys(t).Public)
	fwd := []string{"forwarder", "--frontend", "tcp://127.0.0.1:0", "--backend", "tcp://127.0.0.1:0", "--backend-topics"}
	for _, tc := range []struct{ name, file, want string }{
		{"missing", filepath.Join(dir, "none"), "no such file"},
		{"no prefix", write("a", "*\n"), `line 1: "*" names no topic prefix`},
		{"bad key", write("b", "# c\nnotakey news.\n"), `line 2: "notakey" is neither '*' nor a CURVE public key`},
		{"keys without CURVE", write("c", key+" news.\n"), "only a CURVE server backend knows"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := runCmd(t, append(fwd, tc.file)...)
			assert.Equal(t, 2, code)
			oneLine(t, errOut, "zmqkit forwarder: ", tc.want)
		})
	}
	code, _, errOut := runCmd(t, "streamer", "--frontend", "tcp://127.0.0.1:0", "--backend", "tcp://127.0.0.1:0", "--backend-topics", "x")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "flag provided but not defined: -backend-topics")
}

// A --…-curve-clients @file is read again on SIGHUP: a client refused
// before is admitted after, and a file that does not parse leaves the
// list in force.
func TestDeviceReloadsClientsOnSIGHUP(t *testing.T) {
	ctx := testutil.Context(t, 30*time.Second)
	srv, a, b := curveKeys(t), curveKeys(t), curveKeys(t)
	dir := t.TempDir()
	clients := filepath.Join(dir, "clients")
	require.NoError(t, os.WriteFile(clients, []byte(sockets.CurveKey(a.Public)+"\n"), 0o600))
	d := startDevice(t, nil, "streamer", "--frontend", "tcp://127.0.0.1:0", "--backend", "tcp://127.0.0.1:0",
		"--frontend-curve-secret", sockets.CurveKey(srv.Secret), "--frontend-curve-clients", "@"+clients)
	pull := sock(t, sockets.Pull)
	require.NoError(t, pull.Dial(d.eps["backend"]))
	// A refused client stops reconnecting unless told to keep trying.
	push := sock(t, sockets.Push, sockets.WithCurve(srv.Public, b), sockets.WithReconnect(20*time.Millisecond, 50*time.Millisecond),
		sockets.WithRetryAuthFailures(true))
	require.NoError(t, push.Dial(d.eps["frontend"]))
	ev := awaitEvent(t, push, sockets.EventHandshakeFailed) // b is not on the list
	assert.ErrorIs(t, ev.Err, sockets.ErrRefusedByServer)
	assert.NotErrorIs(t, ev.Err, sockets.ErrDialStopped)

	reload := func(want string) {
		t.Helper()
		mark := len(d.stderr.String())
		require.NoError(t, d.cmd.Process.Signal(syscall.SIGHUP))
		d.stderr.waitFor(t, mark, want, 10*time.Second)
	}
	require.NoError(t, os.WriteFile(clients, []byte("not a key\n"), 0o600))
	reload(`"msg":"reload failed; the client list in force stays"`)
	require.NoError(t, os.WriteFile(clients, []byte(sockets.CurveKey(a.Public)+"\n"+sockets.CurveKey(b.Public)+"\n"), 0o600))
	reload(`"flag":"--frontend-curve-clients","keys":2`) // the "reloaded" line

	require.NoError(t, push.Send(ctx, []byte("in at last")))
	m, err := pull.Recv(ctx)
	require.NoError(t, err)
	assert.Equal(t, "in at last", string(m[0]))
	require.NoError(t, d.cmd.Process.Signal(syscall.SIGTERM))
	assert.Equal(t, 0, d.wait(t))
}

// The broker reads its @file client list again on SIGHUP too, and a SIGHUP
// with nothing to read is only logged: the process goes on.
func TestBrokerSIGHUP(t *testing.T) {
	srv, a := curveKeys(t), curveKeys(t)
	dir := t.TempDir()
	clients := keyFile(t, dir, "clients", sockets.CurveKey(a.Public)+"\n")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--curve-secret", sockets.CurveKey(srv.Secret), "--curve-clients", clients}, `"flag":"--curve-clients","keys":1`},
		{nil, `"msg":"SIGHUP: nothing to reload"`},
	} {
		d := startDevice(t, nil, append([]string{"broker", "--bind", "tcp://127.0.0.1:0"}, tc.args...)...)
		require.NoError(t, d.cmd.Process.Signal(syscall.SIGHUP))
		d.stderr.waitFor(t, 0, tc.want, 10*time.Second)
		require.NoError(t, d.cmd.Process.Signal(syscall.SIGTERM))
		assert.Equal(t, 0, d.wait(t), "SIGHUP did not end it")
	}
}
