package main

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/patterns/pipeline"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRunKillsAWorker(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	s, err := runAll(ctx, &out, 3, 30, true, 200*time.Millisecond)
	require.NoError(t, err, out.String())
	assert.Equal(t, 30, s.Tasks)
	assert.Equal(t, "worker 1", s.Victim)
	assert.Equal(t, 1, s.PerWorker["worker 1"], "it finished its first task, died on the second")
	assert.GreaterOrEqual(t, s.Reissued, 1)
	assert.Equal(t, 29, s.PerWorker["worker 2"]+s.PerWorker["worker 3"])
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 5, out.String())
	assert.Equal(t, "worker 1 died holding a task", lines[0])
	assert.Contains(t, lines[1], "30 tasks done in")
	assert.Contains(t, lines[1], "each counted once")
}

func TestRunWithoutKill(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	s, err := runAll(ctx, &out, 2, 20, false, time.Second)
	require.NoError(t, err)
	assert.Equal(t, summary{Tasks: 20, PerWorker: map[string]int{"worker 1": 10, "worker 2": 10}}, s)
}

// The roles the program takes when its pieces run as separate processes.
func TestRoles(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	wctx, stopWorkers := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { stopWorkers(); wg.Wait() }()
	var out bytes.Buffer
	ready := func(ep pipeline.Endpoints) {
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = runWorker(wctx, ep, "", nil)
			}()
		}
	}
	s, err := runVentilator(ctx, &out, pipeline.Endpoints{Tasks: "tcp://127.0.0.1:0", Results: "tcp://127.0.0.1:0"}, 2, 20, time.Second, ready)
	require.NoError(t, err)
	assert.Equal(t, 20, s.Tasks)
	assert.Len(t, s.PerWorker, 2)
	assert.Contains(t, out.String(), "20 tasks done in")
}
