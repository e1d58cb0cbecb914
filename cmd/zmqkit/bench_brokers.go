//go:build brokers

package main

import (
	"context"
	"time"

	"github.com/zmqkit/zmqkit/bench"
	"github.com/zmqkit/zmqkit/bench/baseline"
)

// brokersBuiltIn: this build links the Redis and AMQP clients.
const brokersBuiltIn = true

func redisRows(ctx context.Context, addr string, sizes []int, count int, d time.Duration) []bench.Row {
	return baseline.Redis(ctx, addr, sizes, count, d)
}

func amqpRows(ctx context.Context, url string, sizes []int, count int, d time.Duration) []bench.Row {
	return baseline.AMQP(ctx, url, sizes, count, d)
}
