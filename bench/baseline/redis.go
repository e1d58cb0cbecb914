package baseline

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
	"github.com/zmqkit/zmqkit/bench"
)

// Redis patterns, in the order Redis measures them.
const (
	// RedisOneByOne is one command per message on each side: the producer
	// LPUSHes one message per round trip while the consumer BRPOPs one per
	// round trip, as the seeds' enqueue/dequeue loops did.
	RedisOneByOne = "lpush-rpop"
	// RedisPipelined sends RedisBatch LPUSHes per pipeline and pops with
	// RPOP key RedisBatch (Redis 6.2 or later), blocking in BRPOP only when
	// the list is empty.
	RedisPipelined = "pipelined"
)

// RedisBatch is the pipeline depth and pop count of RedisPipelined.
const RedisBatch = 100

// Redis measures a Redis list used as a queue, at each size: first every
// size one command per message (RedisOneByOne), then every size pipelined
// (RedisPipelined). addr is host:port; each row uses a list key of its own,
// zmqkit-bench:PATTERN:SIZE:RANDOM, and deletes it afterwards.
//
// A row sends at most count messages (none if count <= 0) for at most
// duration (DefaultDuration if <= 0), then gives the consumer at least
// 5 s more to dequeue what is left; what it could not is reported as Lost.
// Rows that could not run carry the reason in Err. When ctx ends, Redis
// returns the rows it has.
//
// The rows' System is "redis" and Transport "tcp"; CPUPerMsg is this client
// process's CPU time only, not redis-server's (see the package doc).
func Redis(ctx context.Context, addr string, sizes []int, count int, duration time.Duration) []bench.Row {
	lim := newLimits(count, duration)
	if ctx.Err() != nil {
		return nil
	}
	// A plain dial first: a client whose dials fail keeps retrying them in
	// the background for a while, and logs each failure.
	var d net.Dialer
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	c, err := d.DialContext(dctx, "tcp", addr)
	cancel()
	if err != nil {
		return errorRows("redis", []string{RedisOneByOne, RedisPipelined}, sizes, "redis "+addr+": "+err.Error())
	}
	c.Close()
	rdb := redis.NewClient(&redis.Options{
		Addr:            addr,
		PoolSize:        4, // producer, consumer, cleanup
		DialTimeout:     5 * time.Second,
		ReadTimeout:     10 * time.Second,
		WriteTimeout:    10 * time.Second,
		DisableIdentity: true,
		MaintNotificationsConfig: &maintnotifications.Config{
			Mode: maintnotifications.ModeDisabled,
		},
	})
	defer rdb.Close()
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	pingErr := rdb.Ping(pctx).Err()
	cancel()

	var rows []bench.Row
	for _, pattern := range []string{RedisOneByOne, RedisPipelined} {
		for _, size := range sizes {
			if ctx.Err() != nil {
				return rows
			}
			row := bench.Row{System: "redis", Pattern: pattern, Transport: "tcp", Size: size}
			switch {
			case pingErr != nil:
				row.Err = "redis " + addr + ": " + pingErr.Error()
			case sizeErr(size) != "":
				row.Err = sizeErr(size)
			default:
				redisRow(ctx, rdb, &row, lim)
			}
			rows = append(rows, row)
		}
	}
	return rows
}

// redisHook, when set (by tests), is called before each message is pushed;
// if it returns true the producer counts the message as sent but does not
// push it, as if it had been lost on the way.
var redisHook func(seq uint64) (drop bool)

func redisRow(ctx context.Context, rdb *redis.Client, row *bench.Row, lim limits) {
	key := fmt.Sprintf("zmqkit-bench:%s:%d:%s", row.Pattern, row.Size, rand.Text())
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		rdb.Del(dctx, key)
	}()
	pipelined := row.Pattern == RedisPipelined
	t := &tally{size: row.Size}
	var (
		stop   atomic.Bool // the consumer gave up: the producer stops too
		noMark atomic.Bool // the producer stopped without its end mark
	)
	type produced struct {
		sent    uint64
		elapsed time.Duration
		err     error
	}
	done := make(chan produced, 1)
	cpu0 := cpuTime()
	start := time.Now()
	go func() {
		var p produced
		if pipelined {
			p.sent, p.err = redisPushPipelined(ctx, rdb, key, t, lim, start, &stop)
		} else {
			p.sent, p.err = redisPushOne(ctx, rdb, key, t, lim, start, &stop)
		}
		p.elapsed = time.Since(start)
		if p.err == nil {
			p.err = rdb.LPush(ctx, key, endMessage()).Err()
		}
		if p.err != nil {
			noMark.Store(true)
		}
		done <- p
	}()
	cerr := redisPop(ctx, rdb, key, t, pipelined, lim.drainDeadline(start), &noMark)
	if cerr != nil {
		stop.Store(true)
	}
	p := <-done
	var errs []string
	if p.err != nil {
		errs = append(errs, "producer: "+p.err.Error())
	}
	if cerr != nil {
		errs = append(errs, "consumer: "+cerr.Error())
	}
	fill(row, start, cpu0, p.sent, p.elapsed, t, errs)
}

// redisPushOne LPUSHes one message per round trip.
func redisPushOne(ctx context.Context, rdb *redis.Client, key string, t *tally, lim limits, start time.Time, stop *atomic.Bool) (uint64, error) {
	buf := make([]byte, t.size)
	deadline := start.Add(lim.d)
	var sent uint64
	for i := 0; lim.more(i, start); i++ {
		if stop.Load() || !t.backlog(sent, deadline, stop) {
			break
		}
		seq := uint64(i)
		if redisHook != nil && redisHook(seq) {
			sent++
			continue
		}
		stamp(buf, seq)
		if err := rdb.LPush(ctx, key, buf).Err(); err != nil {
			return sent, err
		}
		sent++
	}
	return sent, nil
}

// redisPushPipelined LPUSHes RedisBatch messages per pipeline.
func redisPushPipelined(ctx context.Context, rdb *redis.Client, key string, t *tally, lim limits, start time.Time, stop *atomic.Bool) (uint64, error) {
	bufs := make([][]byte, RedisBatch)
	for j := range bufs {
		bufs[j] = make([]byte, t.size)
	}
	deadline := start.Add(lim.d)
	pipe := rdb.Pipeline()
	var sent uint64
	for i := 0; lim.more(i, start); {
		if stop.Load() || !t.backlog(sent, deadline, stop) {
			break
		}
		n := RedisBatch
		if lim.n > 0 {
			n = min(n, lim.n-i)
		}
		dropped := uint64(0)
		for j := range n {
			seq := uint64(i + j)
			if redisHook != nil && redisHook(seq) {
				dropped++
				continue
			}
			stamp(bufs[j], seq)
			pipe.LPush(ctx, key, bufs[j])
		}
		i += n
		cmds, err := pipe.Exec(ctx)
		sent += dropped
		for _, c := range cmds {
			if c.Err() == nil {
				sent++
			}
		}
		if err != nil {
			return sent, err
		}
	}
	return sent, nil
}

// redisPop dequeues until the end mark, the deadline, or an error. It
// blocks in BRPOP (1 s at a time) only while the list is empty.
func redisPop(ctx context.Context, rdb *redis.Client, key string, t *tally, pipelined bool, deadline time.Time, noMark *atomic.Bool) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return errors.New("drain deadline passed before the last message was dequeued")
		}
		if pipelined {
			vals, err := rdb.RPopCount(ctx, key, RedisBatch).Result()
			if err != nil && !errors.Is(err, redis.Nil) {
				return err
			}
			for _, v := range vals {
				if count(t, v) {
					return nil
				}
			}
			if len(vals) > 0 {
				continue
			}
		}
		kv, err := rdb.BRPop(ctx, time.Second, key).Result()
		switch {
		case errors.Is(err, redis.Nil): // timed out on an empty list
			if noMark.Load() {
				return nil // the producer stopped early; nothing more will come
			}
			continue
		case err != nil:
			return err
		case len(kv) != 2:
			return fmt.Errorf("BRPOP answered %d values, want 2", len(kv))
		}
		if count(t, kv[1]) {
			return nil
		}
	}
}
