package baseline

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/zmqkit/zmqkit/bench"
)

// AMQP patterns, in the order AMQP measures them.
const (
	// AMQPPublish publishes without confirms to a queue that a consumer
	// with auto-ack drains.
	AMQPPublish = "publish-consume"
	// AMQPConfirm is AMQPPublish with publisher confirms: at most
	// AMQPConfirmWindow publishes await their confirm at a time, and the
	// send rate counts a message when the broker has confirmed it.
	AMQPConfirm = "publish-confirm"
)

// AMQPConfirmWindow is how many unconfirmed publishes AMQPConfirm allows.
const AMQPConfirmWindow = 256

// AMQP measures a RabbitMQ (or other AMQP 0-9-1 broker's) queue at each
// size: first every size without publisher confirms (AMQPPublish), then
// every size with them (AMQPConfirm). url is an AMQP URI such as
// amqp://guest:guest@127.0.0.1:5672/.
//
// Each row opens two connections, one for the publisher and one for the
// consumer, and a fresh server-named queue (transient, exclusive to the
// consumer's connection, auto-deleted), which the publisher reaches through
// the default exchange; messages are transient. Limits, loss and errors
// are as in Redis.
//
// The rows' System is "rabbitmq" and Transport "tcp"; CPUPerMsg is this
// client process's CPU time only, not the broker's (see the package doc).
func AMQP(ctx context.Context, url string, sizes []int, count int, duration time.Duration) []bench.Row {
	lim := newLimits(count, duration)
	if ctx.Err() != nil {
		return nil
	}
	c, err := amqpDial(url)
	if err != nil {
		return errorRows("rabbitmq", []string{AMQPPublish, AMQPConfirm}, sizes, err.Error())
	}
	c.CloseDeadline(time.Now().Add(5 * time.Second))
	var rows []bench.Row
	for _, pattern := range []string{AMQPPublish, AMQPConfirm} {
		for _, size := range sizes {
			if ctx.Err() != nil {
				return rows
			}
			row := bench.Row{System: "rabbitmq", Pattern: pattern, Transport: "tcp", Size: size}
			switch {
			case sizeErr(size) != "":
				row.Err = sizeErr(size)
			default:
				amqpRow(ctx, url, &row, lim)
			}
			rows = append(rows, row)
		}
	}
	return rows
}

func amqpDial(url string) (*amqp.Connection, error) {
	return amqp.DialConfig(url, amqp.Config{
		Heartbeat:  10 * time.Second,
		Dial:       amqp.DefaultDial(10 * time.Second),
		Properties: amqp.Table{"connection_name": "zmqkit bench"},
	})
}

// amqpHook, when set (by tests), is called before each message is
// published; if it returns true the publisher counts the message as sent
// but does not publish it, as if it had been lost on the way.
var amqpHook func(seq uint64) (drop bool)

func amqpRow(ctx context.Context, url string, row *bench.Row, lim limits) {
	fail := func(what string, err error) { row.Err = what + ": " + err.Error() }
	cconn, err := amqpDial(url)
	if err != nil {
		fail("consumer connection", err)
		return
	}
	defer cconn.CloseDeadline(time.Now().Add(5 * time.Second))
	cch, err := cconn.Channel()
	if err != nil {
		fail("consumer channel", err)
		return
	}
	q, err := cch.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		fail("queue.declare", err)
		return
	}
	deliveries, err := cch.Consume(q.Name, "", true, true, false, false, nil)
	if err != nil {
		fail("basic.consume", err)
		return
	}
	pconn, err := amqpDial(url)
	if err != nil {
		fail("publisher connection", err)
		return
	}
	// A publisher the broker blocks (flow control, a resource alarm) is
	// stuck in a write: closing with a deadline ends that write too.
	closePub := func() { pconn.CloseDeadline(time.Now().Add(2 * time.Second)) }
	pch, err := pconn.Channel()
	if err != nil {
		closePub()
		fail("publisher channel", err)
		return
	}
	confirm := row.Pattern == AMQPConfirm
	if confirm {
		if err := pch.Confirm(false); err != nil {
			closePub()
			fail("confirm.select", err)
			return
		}
	}

	t := &tally{size: row.Size}
	var stop atomic.Bool
	noMark := make(chan struct{}) // closed when the publisher stopped without its end mark
	type produced struct {
		sent    uint64
		elapsed time.Duration
		err     error
	}
	done := make(chan produced, 1)
	cpu0 := cpuTime()
	start := time.Now()
	deadline := lim.drainDeadline(start)
	go func() {
		var p produced
		if confirm {
			p.sent, p.err = amqpPublishConfirmed(ctx, pch, q.Name, t, lim, start, deadline, &stop)
		} else {
			p.sent, p.err = amqpPublish(ctx, pch, q.Name, t, lim, start, &stop)
		}
		p.elapsed = time.Since(start)
		if p.err == nil {
			p.err = pch.PublishWithContext(ctx, "", q.Name, false, false, publishing(endMessage()))
		}
		if p.err != nil {
			close(noMark)
		}
		done <- p
	}()
	cerr := amqpConsume(ctx, deliveries, t, deadline, noMark)
	if cerr != nil {
		stop.Store(true)
	}
	closePub()
	p := <-done
	var errs []string
	if p.err != nil && !(cerr != nil && errors.Is(p.err, amqp.ErrClosed)) {
		errs = append(errs, "publisher: "+p.err.Error())
	}
	if cerr != nil {
		errs = append(errs, "consumer: "+cerr.Error())
	}
	fill(row, start, cpu0, p.sent, p.elapsed, t, errs)
}

func publishing(body []byte) amqp.Publishing {
	return amqp.Publishing{DeliveryMode: amqp.Transient, Body: body}
}

// amqpPublish publishes without confirms.
func amqpPublish(ctx context.Context, ch *amqp.Channel, queue string, t *tally, lim limits, start time.Time, stop *atomic.Bool) (uint64, error) {
	buf := make([]byte, t.size)
	deadline := start.Add(lim.d)
	var sent uint64
	for i := 0; lim.more(i, start); i++ {
		if stop.Load() || !t.backlog(sent, deadline, stop) {
			break
		}
		seq := uint64(i)
		if amqpHook != nil && amqpHook(seq) {
			sent++
			continue
		}
		stamp(buf, seq)
		// The body is written out before Publish returns, so buf is reused.
		if err := ch.PublishWithContext(ctx, "", queue, false, false, publishing(buf)); err != nil {
			return sent, err
		}
		sent++
	}
	return sent, nil
}

// amqpPublishConfirmed publishes with confirms, AMQPConfirmWindow at most in
// flight, and returns when every publish is confirmed (or nacked, which
// counts it sent and so, since it never arrives, lost).
func amqpPublishConfirmed(ctx context.Context, ch *amqp.Channel, queue string, t *tally, lim limits, start, drainDeadline time.Time, stop *atomic.Bool) (uint64, error) {
	buf := make([]byte, t.size)
	deadline := start.Add(lim.d)
	wctx, cancel := context.WithDeadline(ctx, drainDeadline)
	defer cancel()
	var (
		ring    [AMQPConfirmWindow]*amqp.DeferredConfirmation
		head, n int
		sent    uint64
		nacked  uint64
	)
	waitOldest := func() error {
		dc := ring[head]
		ring[head] = nil
		head = (head + 1) % len(ring)
		n--
		ok, err := dc.WaitContext(wctx)
		if err != nil {
			return fmt.Errorf("waiting for a confirm: %w", err)
		}
		if !ok {
			nacked++
		}
		return nil
	}
	var err error
	for i := 0; lim.more(i, start); i++ {
		if stop.Load() || !t.backlog(sent, deadline, stop) {
			break
		}
		if n == len(ring) {
			if err = waitOldest(); err != nil {
				break
			}
		}
		seq := uint64(i)
		if amqpHook != nil && amqpHook(seq) {
			sent++
			continue
		}
		stamp(buf, seq)
		dc, perr := ch.PublishWithDeferredConfirmWithContext(ctx, "", queue, false, false, publishing(buf))
		if perr != nil {
			err = perr
			break
		}
		sent++
		ring[(head+n)%len(ring)] = dc
		n++
	}
	for err == nil && n > 0 {
		err = waitOldest()
	}
	if err == nil && nacked > 0 {
		err = fmt.Errorf("the broker nacked %d publishes", nacked)
	}
	return sent, err
}

// amqpConsume counts deliveries until the end mark, the deadline, or an
// error. If the publisher stopped without its end mark, it takes what is
// still arriving until nothing has for 200 ms.
func amqpConsume(ctx context.Context, deliveries <-chan amqp.Delivery, t *tally, deadline time.Time, noMark <-chan struct{}) error {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	var idle <-chan time.Time
	for {
		select {
		case d, ok := <-deliveries:
			if !ok {
				return errors.New("the broker closed the consumer's channel")
			}
			if count(t, d.Body) {
				return nil
			}
			if idle != nil {
				idle = time.After(200 * time.Millisecond)
			}
		case <-noMark:
			noMark = nil
			idle = time.After(200 * time.Millisecond)
		case <-idle:
			return nil
		case <-timer.C:
			return errors.New("drain deadline passed before the last message was dequeued")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
