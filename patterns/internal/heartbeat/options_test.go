package heartbeat_test

import (
	"context"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zmqkit/zmqkit/internal/testutil"
	"github.com/zmqkit/zmqkit/patterns/internal/heartbeat"
	"github.com/zmqkit/zmqkit/patterns/majordomo"
	"github.com/zmqkit/zmqkit/patterns/pirate"
	"github.com/zmqkit/zmqkit/sockets"
)

// accepts is which roles take each option of Majordomo and Paranoid
// Pirate: the rule the option types enforce.
var accepts = map[string][]string{
	"WithHeartbeat(time.Second, 3)":           {"broker", "worker"},
	"WithLogger(nil)":                         {"broker", "worker"},
	"WithReconnect(time.Second, time.Second)": {"worker"},
	"WithIdentity(\"w\")":                     {"worker"},
	"WithRetry(time.Second, 3)":               {"client"},
	"WithMaxQueue(1)":                         {"broker"},
	"WithRequestTTL(time.Second)":             {"broker"},
	"WithMaxDeliveries(1)":                    {"broker"},
	"WithSocketOptions()":                     {"broker", "worker", "client"},
}

// TestWrongRoleDoesNotCompile gives every role of both patterns every
// option: what a role would ignore must not compile.
func TestWrongRoleDoesNotCompile(t *testing.T) {
	for pkg, roles := range map[string]map[string]string{
		"majordomo": {
			"broker": `_, _ = majordomo.NewBroker(majordomo.%s)`,
			"worker": `_, _ = majordomo.NewWorker("tcp://x", "svc", nil, majordomo.%s)`,
			"client": `_, _ = majordomo.NewClient("tcp://x", majordomo.%s)`,
		},
		"pirate": {
			"broker": `_, _ = pirate.NewBroker(pirate.%s)`,
			"worker": `_, _ = pirate.NewWorker("tcp://x", nil, pirate.%s)`,
			"client": `_, _ = pirate.NewClient("tcp://x", pirate.%s)`,
		},
	} {
		t.Run(pkg, func(t *testing.T) {
			testutil.CheckOptionRoles(t, testutil.OptionRoles{
				Imports: []string{"time", "github.com/zmqkit/zmqkit/patterns/" + pkg},
				Roles:   roles, Options: accepts,
			})
		})
	}
}

// effect is an option and what it must leave in a Config.
type effect[O any] struct {
	opt  O
	want func(t *testing.T, c heartbeat.Config)
}

// TestOptionsTakeEffect applies each option, with a value other than the
// default, for each role that accepts it, and checks what that role's
// configuration holds. Which of these fields each role then uses is shown
// by the patterns' own tests.
func TestOptionsTakeEffect(t *testing.T) {
	var defaults heartbeat.Config
	log := slog.New(slog.DiscardHandler)
	sockOpt := sockets.WithSendHWM(7)
	bw := map[string]effect[heartbeat.BrokerWorkerOption]{
		"heartbeat": {heartbeat.WithHeartbeat(time.Second, 4), func(t *testing.T, c heartbeat.Config) {
			assert.Equal(t, 4*time.Second, c.Window())
		}},
		"logger": {heartbeat.WithLogger(log), func(t *testing.T, c heartbeat.Config) { assert.Same(t, log, c.Logger) }},
	}
	broker := map[string]effect[heartbeat.BrokerOption]{
		"max queue":      {heartbeat.WithMaxQueue(5), func(t *testing.T, c heartbeat.Config) { assert.Equal(t, 5, c.MaxQueue) }},
		"request TTL":    {heartbeat.WithRequestTTL(time.Minute), func(t *testing.T, c heartbeat.Config) { assert.Equal(t, time.Minute, c.RequestTTL) }},
		"max deliveries": {heartbeat.WithMaxDeliveries(9), func(t *testing.T, c heartbeat.Config) { assert.Equal(t, 9, c.MaxDeliveries) }},
	}
	worker := map[string]effect[heartbeat.WorkerOption]{
		"reconnect": {heartbeat.WithReconnect(time.Second, time.Hour), func(t *testing.T, c heartbeat.Config) {
			assert.Equal(t, [2]time.Duration{time.Second, time.Hour}, [2]time.Duration{c.Reconnect, c.ReconnectMax})
		}},
		"identity": {heartbeat.WithIdentity("w1"), func(t *testing.T, c heartbeat.Config) { assert.Equal(t, []byte("w1"), c.Identity) }},
	}
	sockCheck := func(t *testing.T, c heartbeat.Config) { assert.Len(t, c.SocketOptions(), 1) }
	sock := heartbeat.WithSocketOptions(sockOpt)
	for name, o := range bw {
		broker[name] = effect[heartbeat.BrokerOption]{o.opt, o.want}
		worker[name] = effect[heartbeat.WorkerOption]{o.opt, o.want}
	}
	for name, o := range broker {
		t.Run("broker "+name, func(t *testing.T) {
			c, err := heartbeat.Broker(defaults, []heartbeat.BrokerOption{o.opt})
			require.NoError(t, err)
			o.want(t, c)
		})
	}
	for name, o := range worker {
		t.Run("worker "+name, func(t *testing.T) {
			c, err := heartbeat.Worker(defaults, []heartbeat.WorkerOption{o.opt})
			require.NoError(t, err)
			o.want(t, c)
		})
	}
	t.Run("client retry", func(t *testing.T) {
		c, err := heartbeat.Client(defaults, []heartbeat.ClientOption{heartbeat.WithRetry(time.Minute, 7)})
		require.NoError(t, err)
		assert.Equal(t, time.Minute, c.Timeout)
		assert.Equal(t, 7, c.Attempts)
		assert.Len(t, c.LazyPirate(), 3, "timeout, tries and socket options for reliable")
	})
	t.Run("socket options", func(t *testing.T) {
		b, err := heartbeat.Broker(defaults, []heartbeat.BrokerOption{sock})
		require.NoError(t, err)
		sockCheck(t, b)
		w, err := heartbeat.Worker(defaults, []heartbeat.WorkerOption{sock})
		require.NoError(t, err)
		sockCheck(t, w)
		c, err := heartbeat.Client(defaults, []heartbeat.ClientOption{sock})
		require.NoError(t, err)
		sockCheck(t, c)
	})
	t.Run("defaults kept", func(t *testing.T) {
		c, err := heartbeat.Broker(heartbeat.Config{Heartbeat: time.Second, Liveness: 2}, nil)
		require.NoError(t, err)
		assert.Equal(t, 2*time.Second, c.Window())
		assert.NotNil(t, c.Logger, "Finish gives a discarding logger")
		assert.True(t, reflect.ValueOf(c.SockOpts).IsNil())
	})
}

// TestSocketOptionsReachEveryRole gives each role of both patterns a
// socket option the sockets refuse: the error shows that the option
// reached the role's socket.
func TestSocketOptionsReachEveryRole(t *testing.T) {
	bad := sockets.WithSendHWM(-1)
	ctx := testutil.Context(t, 10*time.Second)
	mdpHandler := func(context.Context, [][]byte) ([][]byte, error) { return nil, nil }
	for name, role := range map[string]func() error{
		"majordomo broker": func() error { _, err := majordomo.NewBroker(majordomo.WithSocketOptions(bad)); return err },
		"majordomo worker": func() error {
			w, err := majordomo.NewWorker("tcp://127.0.0.1:1", "svc", mdpHandler, majordomo.WithSocketOptions(bad))
			require.NoError(t, err)
			return w.Run(ctx)
		},
		"majordomo client": func() error {
			_, err := majordomo.NewClient("tcp://127.0.0.1:1", majordomo.WithSocketOptions(bad))
			return err
		},
		"pirate broker": func() error { _, err := pirate.NewBroker(pirate.WithSocketOptions(bad)); return err },
		"pirate worker": func() error {
			w, err := pirate.NewWorker("tcp://127.0.0.1:1", mdpHandler, pirate.WithSocketOptions(bad))
			require.NoError(t, err)
			return w.Run(ctx)
		},
		"pirate client": func() error {
			_, err := pirate.NewClient("tcp://127.0.0.1:1", pirate.WithSocketOptions(bad))
			return err
		},
	} {
		assert.ErrorIs(t, role(), sockets.ErrBadOption, name)
	}
}
