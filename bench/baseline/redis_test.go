//go:build interop

package baseline

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/bench"
)

// redisServer is where the test looks for redis-server (Debian's package;
// scripts/ensure-redis.sh installs it). ZMQKIT_REDIS_SERVER overrides it.
func redisServer() string {
	if p := os.Getenv("ZMQKIT_REDIS_SERVER"); p != "" {
		return p
	}
	return "/usr/bin/redis-server"
}

// startRedis runs a throwaway redis-server on a free 127.0.0.1 port, with
// no persistence, for the test's lifetime, and returns its address.
func startRedis(t *testing.T) string {
	t.Helper()
	bin := redisServer()
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("redis-server is needed for the Redis baseline tests (run scripts/ensure-redis.sh): %v", err)
	}
	var lastErr error
	for range 3 { // the free port may be taken between the probe and the server's bind
		port := closedPort(t)
		_, p, _ := strings.Cut(port, ":")
		var out bytes.Buffer
		cmd := exec.Command(bin, "--port", p, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
			"--daemonize", "no", "--dir", t.TempDir(), "--protected-mode", "yes")
		cmd.Stdout, cmd.Stderr = &out, &out
		require.NoError(t, cmd.Start())
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		stopped := sync.OnceFunc(func() {
			cmd.Process.Signal(os.Interrupt)
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				<-exited
			}
		})
		if err := waitRedis(port, exited); err != nil {
			stopped()
			lastErr = errors.New(err.Error() + "\n" + out.String())
			continue
		}
		t.Cleanup(stopped)
		return port
	}
	t.Fatalf("could not start redis-server: %v", lastErr)
	return ""
}

// waitRedis waits (10 s at most) until the server at addr answers PING.
func waitRedis(addr string, exited <-chan error) error {
	rdb := testClient(addr)
	defer rdb.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := rdb.Ping(ctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		select {
		case werr := <-exited:
			return errors.New("redis-server exited: " + strconv.Quote(errString(werr)))
		default:
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func errString(err error) string {
	if err == nil {
		return "status 0"
	}
	return err.Error()
}

func testClient(addr string) *redis.Client {
	return redis.NewClient(&redis.Options{
		Addr: addr, DisableIdentity: true, MaxRetries: -1,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	})
}

// checkRows checks what every Redis row must satisfy.
func checkRows(t *testing.T, rows []bench.Row, sizes []int) {
	t.Helper()
	require.Len(t, rows, 2*len(sizes))
	for i, r := range rows {
		name := r.Variant() + " " + strconv.Itoa(r.Size)
		assert.Equal(t, "redis", r.System, name)
		assert.Equal(t, []string{RedisOneByOne, RedisPipelined}[i/len(sizes)], r.Pattern, name)
		assert.Equal(t, "tcp", r.Transport, name)
		assert.Equal(t, sizes[i%len(sizes)], r.Size, name)
		assert.Empty(t, r.Err, name)
		assert.Positive(t, r.Sent, name)
		assert.Positive(t, r.SendRate, name)
		assert.Positive(t, r.RecvRate, name)
		assert.Positive(t, r.CPUPerMsg, name)
		assert.InDelta(t, r.SendRate*float64(r.Size)/1e6, r.SendMBps, 1e-6, name)
		assert.InDelta(t, r.RecvRate*float64(r.Size)/1e6, r.RecvMBps, 1e-6, name)
		assert.Equal(t, r.Sent, r.Received+r.Lost, "%s: every message is received or counted lost", name)
	}
}

func TestRedisRows(t *testing.T) {
	addr := startRedis(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sizes := []int{64, 1000}
	rows := Redis(ctx, addr, sizes, 300, 5*time.Second)
	checkRows(t, rows, sizes)
	for _, r := range rows {
		assert.Equal(t, uint64(300), r.Sent, "count bounds a row")
		assert.Equal(t, uint64(300), r.Received, "a Redis list loses nothing")
		assert.Zero(t, r.Lost)
		assert.Zero(t, r.Reordered, "a Redis list is FIFO")
	}
	// Every row's list is gone.
	rdb := testClient(addr)
	defer rdb.Close()
	n, err := rdb.DBSize(ctx).Result()
	require.NoError(t, err)
	assert.Zero(t, n, "every row deletes its list")

	var table bytes.Buffer
	rep := &bench.Report{Samples: rows}
	rep.Summarize()
	require.NoError(t, bench.WriteTable(&table, rep))
	for _, want := range []string{"redis", "lpush-rpop/tcp", "pipelined/tcp", "64 B", "1000 B"} {
		assert.Contains(t, table.String(), want)
	}
}

// Without a count, the duration bounds a row.
func TestRedisDurationBound(t *testing.T) {
	addr := startRedis(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	t0 := time.Now()
	rows := Redis(ctx, addr, []int{128}, 0, 200*time.Millisecond)
	assert.Less(t, time.Since(t0), 15*time.Second)
	checkRows(t, rows, []int{128})
	for _, r := range rows {
		assert.Equal(t, r.Sent, r.Received, r.Pattern)
		assert.Zero(t, r.Lost, r.Pattern)
	}
}

// Messages that never reach the list show up as Lost, beside the rates of
// what did arrive, and the sizes that cannot carry a sequence number are
// refused.
func TestRedisSequenceAccounting(t *testing.T) {
	addr := startRedis(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var mu sync.Mutex
	var dropped []uint64
	redisHook = func(seq uint64) bool {
		if seq%50 == 7 { // 7, 57, 107, …: 4 of 200
			mu.Lock()
			dropped = append(dropped, seq)
			mu.Unlock()
			return true
		}
		return false
	}
	defer func() { redisHook = nil }()
	rows := Redis(ctx, addr, []int{256}, 200, 5*time.Second)
	checkRows(t, rows, []int{256})
	assert.Len(t, dropped, 8, "4 per row")
	for _, r := range rows {
		assert.Equal(t, uint64(200), r.Sent, r.Pattern)
		assert.Equal(t, uint64(196), r.Received, r.Pattern)
		assert.Equal(t, uint64(4), r.Lost, r.Pattern)
		assert.Zero(t, r.Reordered, "gaps are loss, not reordering")
		assert.InDelta(t, 98, r.Delivered(), 1e-9)
	}
	redisHook = nil

	rows = Redis(ctx, addr, []int{7}, 10, time.Second)
	require.Len(t, rows, 2)
	for _, r := range rows {
		assert.Contains(t, r.Err, "size out of range")
		assert.Zero(t, r.Sent)
	}
}
