//go:build amqp

package baseline

// These tests need a RabbitMQ broker, named by ZMQKIT_AMQP_URL (for
// example amqp://guest:guest@127.0.0.1:5672/). CI does not run them, since
// the broker is slow to start; run them by hand:
//
//	ZMQKIT_AMQP_URL=amqp://guest:guest@127.0.0.1:5672/ go test -tags amqp ./bench/baseline/

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/bench"
)

func amqpURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("ZMQKIT_AMQP_URL")
	if u == "" {
		t.Fatal("ZMQKIT_AMQP_URL must name a RabbitMQ broker, e.g. amqp://guest:guest@127.0.0.1:5672/")
	}
	return u
}

func checkAMQPRows(t *testing.T, rows []bench.Row, sizes []int) {
	t.Helper()
	require.Len(t, rows, 2*len(sizes))
	for i, r := range rows {
		name := r.Variant() + " " + strconv.Itoa(r.Size)
		assert.Equal(t, "rabbitmq", r.System, name)
		assert.Equal(t, []string{AMQPPublish, AMQPConfirm}[i/len(sizes)], r.Pattern, name)
		assert.Equal(t, "tcp", r.Transport, name)
		assert.Equal(t, sizes[i%len(sizes)], r.Size, name)
		assert.Positive(t, r.Sent, name)
		assert.Positive(t, r.SendRate, name)
		assert.Positive(t, r.RecvRate, name)
		assert.Positive(t, r.CPUPerMsg, name)
		assert.InDelta(t, r.SendRate*float64(r.Size)/1e6, r.SendMBps, 1e-6, name)
		assert.Equal(t, r.Sent, r.Received+r.Lost, "%s: every message is received or counted lost", name)
	}
}

func TestAMQPRows(t *testing.T) {
	url := amqpURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sizes := []int{64, 1000}
	rows := AMQP(ctx, url, sizes, 300, 5*time.Second)
	checkAMQPRows(t, rows, sizes)
	for _, r := range rows {
		assert.Empty(t, r.Err, r.Pattern)
		assert.Equal(t, uint64(300), r.Sent, "count bounds a row")
		assert.Equal(t, uint64(300), r.Received, "a local queue loses nothing")
		assert.Zero(t, r.Reordered, "one publisher's order is kept")
	}
	var table bytes.Buffer
	rep := &bench.Report{Samples: rows}
	rep.Summarize()
	require.NoError(t, bench.WriteTable(&table, rep))
	for _, want := range []string{"rabbitmq", "publish-consume/tcp", "publish-confirm/tcp", "64 B", "1000 B"} {
		assert.Contains(t, table.String(), want)
	}
}

func TestAMQPDurationBound(t *testing.T) {
	url := amqpURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	t0 := time.Now()
	rows := AMQP(ctx, url, []int{128}, 0, 200*time.Millisecond)
	assert.Less(t, time.Since(t0), 15*time.Second)
	checkAMQPRows(t, rows, []int{128})
	for _, r := range rows {
		assert.Empty(t, r.Err, r.Pattern)
		assert.Equal(t, r.Sent, r.Received, r.Pattern)
	}
}

// Messages that never reach the queue show up as Lost.
func TestAMQPSequenceAccounting(t *testing.T) {
	url := amqpURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var dropped atomic.Int64
	amqpHook = func(seq uint64) bool {
		if seq%50 == 7 {
			dropped.Add(1)
			return true
		}
		return false
	}
	defer func() { amqpHook = nil }()
	rows := AMQP(ctx, url, []int{256}, 200, 5*time.Second)
	checkAMQPRows(t, rows, []int{256})
	assert.Equal(t, int64(8), dropped.Load(), "4 per row")
	for _, r := range rows {
		assert.Empty(t, r.Err, r.Pattern)
		assert.Equal(t, uint64(200), r.Sent, r.Pattern)
		assert.Equal(t, uint64(196), r.Received, r.Pattern)
		assert.Equal(t, uint64(4), r.Lost, r.Pattern)
		assert.Zero(t, r.Reordered, r.Pattern)
	}
}

// A URL with bad credentials gives rows that say so.
func TestAMQPBadCredentials(t *testing.T) {
	url := amqpURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	bad := strings.Replace(url, "guest:guest@", "guest:wrong@", 1)
	if bad == url {
		t.Skip("the URL has no guest:guest credentials to spoil")
	}
	rows := AMQP(ctx, bad, []int{128}, 10, time.Second)
	require.Len(t, rows, 2)
	for _, r := range rows {
		assert.NotEmpty(t, r.Err)
		assert.Zero(t, r.Sent)
	}
}
