package pipeline

import (
	"testing"
	"time"

	"github.com/zmqkit/zmqkit/internal/testutil"
	"github.com/zmqkit/zmqkit/sockets"
)

// TestWrongRoleDoesNotCompile documents which role takes which option: a
// Ventilator given a Worker's option, or the reverse, does not compile.
func TestWrongRoleDoesNotCompile(t *testing.T) {
	testutil.CheckOptionRoles(t, testutil.OptionRoles{
		Imports: []string{"time", "github.com/zmqkit/zmqkit/codec", "github.com/zmqkit/zmqkit/patterns/pipeline"},
		Roles: map[string]string{
			"ventilator": "_, _ = pipeline.NewVentilator(codec.String(), codec.String(), pipeline.%s)",
			"worker":     "_, _ = pipeline.NewWorker(codec.String(), codec.String(), pipeline.%s)",
		},
		Options: map[string][]string{
			"WithTaskTimeout(time.Second)": {"ventilator"},
			"WithMaxAttempts(1)":           {"ventilator"},
			"WithPrefetch(1)":              {"ventilator"},
			"WithDiscardResults()":         {"ventilator"},
			"WithTaskHWM(1)":               {"ventilator", "worker"},
			"WithResultHWM(1)":             {"ventilator", "worker"},
			"WithSocketOptions()":          {"ventilator", "worker"},
			"WithName(\"w\")":              {"worker"},
			"WithConcurrency(2)":           {"worker"},
			"WithLinger(0)":                {"worker"},
		},
	})
}

// TestOptionsTakeEffect checks that each option a role accepts changes
// that role's configuration.
func TestOptionsTakeEffect(t *testing.T) {
	sock := WithSocketOptions(sockets.WithSendHWM(1))
	testutil.OptionEffects(t, map[string]VentilatorOption{
		"task timeout": WithTaskTimeout(time.Hour), "attempts": WithMaxAttempts(9), "prefetch": WithPrefetch(99),
		"discard": WithDiscardResults(), "task HWM": WithTaskHWM(5), "result HWM": WithResultHWM(5), "socket": sock,
	}, func(o []VentilatorOption) (config, error) { return newConfig(o, VentilatorOption.applyVentilator) })
	testutil.OptionEffects(t, map[string]WorkerOption{
		"name": WithName("w"), "concurrency": WithConcurrency(7), "linger": WithLinger(time.Hour),
		"task HWM": WithTaskHWM(5), "result HWM": WithResultHWM(5), "socket": sock,
	}, func(o []WorkerOption) (config, error) { return newConfig(o, WorkerOption.applyWorker) })
}
