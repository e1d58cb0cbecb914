package main

import (
	"encoding/json"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/bench"
	"github.com/zmqkit/zmqkit/internal/testutil"
)

// zmqkit bench starts itself ("zmqkit bench child") for each side: the
// samples come from two processes, each with its own peak RSS.
func TestE2EBenchRunsTwoProcesses(t *testing.T) {
	cmd := exec.CommandContext(testutil.Context(t, time.Minute), binPath, "bench", "--patterns", "pushpull,reqrep", "--transport", "tcp",
		"--sizes", "64", "--runs", "1", "--count", "2000", "--trips", "100", "--search-steps", "0", "--format", "json")
	out, err := cmd.Output()
	require.NoError(t, err)
	var rep bench.Report
	require.NoError(t, json.Unmarshal(out, &rep))
	systems := map[string]bool{}
	for _, r := range rep.Samples {
		systems[r.System] = true
		assert.Empty(t, r.Err, r.System)
		assert.Equal(t, 2, r.Processes, r.System)
		if bench.UsageAvailable {
			assert.Positive(t, r.RSSSend, r.System)
			assert.Positive(t, r.RSSRecv, r.System)
		}
	}
	assert.True(t, systems[bench.SystemZmqkit])
	assert.True(t, systems[bench.SystemRaw])
	assert.Equal(t, 1, rep.Settings.Runs)
}

// The child subcommand is the bench's own: run by hand, it says so.
func TestBenchChildNeedsItsParent(t *testing.T) {
	code, _, errOut := runCmd(t, "bench", "child")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "started by zmqkit bench itself")
}
