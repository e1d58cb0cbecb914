//go:build !brokers

package main

import (
	"context"
	"time"

	"github.com/zmqkit/zmqkit/bench"
)

// brokersBuiltIn: the Redis and AMQP clients (bench/baseline) are linked
// only with -tags brokers. go-redis alone was a fifth of a cold build's
// compile time, for two flags few runs use.
const brokersBuiltIn = false

func redisRows(context.Context, string, []int, int, time.Duration) []bench.Row { return nil }

func amqpRows(context.Context, string, []int, int, time.Duration) []bench.Row { return nil }
