package rpc

import (
	"testing"

	"github.com/zmqkit/zmqkit/internal/testutil"
	"github.com/zmqkit/zmqkit/sockets"
)

// TestWrongRoleDoesNotCompile documents which role takes which option: a
// Client given a Server's option, or the reverse, does not compile.
func TestWrongRoleDoesNotCompile(t *testing.T) {
	testutil.CheckOptionRoles(t, testutil.OptionRoles{
		Imports: []string{"github.com/zmqkit/zmqkit/patterns/rpc"},
		Roles: map[string]string{
			"client": "_, _ = rpc.NewClient(rpc.%s)",
			"server": "_, _ = rpc.NewServer(rpc.%s)",
		},
		Options: map[string][]string{
			"WithWorkers(1)":              {"server"},
			"WithBacklog(1)":              {"server"},
			"WithFailOnDisconnect(false)": {"client"},
			"WithSocketOptions()":         {"client", "server"},
		},
	})
}

// TestOptionsTakeEffect checks that each option a role accepts changes
// that role's configuration.
func TestOptionsTakeEffect(t *testing.T) {
	sock := WithSocketOptions(sockets.WithSendHWM(1))
	testutil.OptionEffects(t, map[string]ClientOption{"fail on disconnect": WithFailOnDisconnect(false), "socket": sock},
		func(o []ClientOption) (config, error) { return newConfig(o, ClientOption.applyClient) })
	testutil.OptionEffects(t, map[string]ServerOption{"workers": WithWorkers(3), "backlog": WithBacklog(1000), "socket": sock},
		func(o []ServerOption) (config, error) { return newConfig(o, ServerOption.applyServer) })
}
