//go:build linux

package multihost

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/zmqkit/zmqkit/codec"
	"github.com/zmqkit/zmqkit/patterns/pipeline"
	"github.com/zmqkit/zmqkit/sockets"
)

// The settings the roles share. Short intervals keep the test short; each
// is one a deployment might pick for a fast-moving pool.
const (
	resolveInterval = 500 * time.Millisecond
	heartbeatIvl    = 200 * time.Millisecond
	heartbeatWait   = 600 * time.Millisecond
	connectTimeout  = 500 * time.Millisecond
	taskTimeout     = 3 * time.Second
	taskWork        = 5 * time.Millisecond // what a worker spends on a task
	taskSize        = 1024
)

// runRole is what a re-executed test binary does inside a namespace; the
// environment says with what. It runs until SIGTERM (or, for the
// ventilator, "stop" on stdin).
func runRole(role string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	env := os.Getenv
	switch role {
	case "worker":
		return worker(ctx, env("NAME"), env("LISTEN"), env("DIAL"))
	case "pub":
		return publisher(ctx, env("NAME"), env("LISTEN"))
	case "sub":
		return subscriber(ctx, env("DIAL"), env("DNS"))
	case "ventilator":
		return ventilator(ctx, env("LISTEN"), env("DIAL"), env("DNS"))
	}
	return fmt.Errorf("unknown role %q", role)
}

// lockedWriter writes whole lines from several goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func worker(ctx context.Context, name, listen, dial string) error {
	// A short task queue (4, as the ventilator's): a worker holds little
	// beyond what it works on, so a newcomer is not behind workers with
	// deep backlogs, and a worker that dies takes few tasks with it.
	w, err := pipeline.NewWorker(codec.Bytes(), codec.String(), pipeline.WithName(name), pipeline.WithTaskHWM(4),
		pipeline.WithSocketOptions(sockets.WithHeartbeat(heartbeatIvl, heartbeatWait, 0), sockets.WithConnectTimeout(connectTimeout)))
	if err != nil {
		return err
	}
	defer w.Close()
	if _, err := w.Listen(pipeline.Endpoints{Tasks: listen}); err != nil {
		return err
	}
	if err := w.Dial(pipeline.Endpoints{Results: dial}); err != nil {
		return err
	}
	fmt.Println("ready")
	err = w.Run(ctx, func(ctx context.Context, _ []byte) (string, error) {
		t := time.NewTimer(taskWork) // the work itself, not a wait for anything
		defer t.Stop()
		select {
		case <-t.C:
			return name, nil
		case <-ctx.Done():
			return "", ctx.Err()
		}
	})
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func publisher(ctx context.Context, name, listen string) error {
	pub, err := sockets.NewPub(sockets.WithLinger(0))
	if err != nil {
		return err
	}
	defer pub.Close()
	if _, err := pub.Listen(listen); err != nil {
		return err
	}
	fmt.Println("ready")
	tk := time.NewTicker(20 * time.Millisecond)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tk.C:
			if err := pub.Send(ctx, []byte("tick"), []byte(name)); err != nil && ctx.Err() == nil {
				return err
			}
		}
	}
}

func subscriber(ctx context.Context, set, dns string) error {
	sub, err := sockets.NewSub(sockets.WithSubscribe("tick"), sockets.WithDNSServer(dns),
		sockets.WithResolveInterval(resolveInterval), sockets.WithConnectTimeout(connectTimeout))
	if err != nil {
		return err
	}
	defer sub.Close()
	if err := sub.Dial(set); err != nil {
		return err
	}
	fmt.Println("ready")
	heard := map[string]bool{}
	for {
		m, err := sub.Recv(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if len(m) == 2 && !heard[string(m[1])] {
			heard[string(m[1])] = true
			fmt.Printf("heard %s\n", m[1])
		}
	}
}

// ventilator deals tasks to the set behind dial, collects the results on
// listen, and prints: "R <worker>" per result, the task socket's monitor
// events as JSON log records, and at "stop" on stdin, once every task is
// settled, "S <stats as JSON>".
func ventilator(ctx context.Context, listen, dial, dns string) error {
	out := &lockedWriter{w: os.Stdout}
	log := slog.New(slog.NewJSONHandler(out, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// A prefetch window far above what one slow link can hold (its pipe's
	// HWM of 4, the connection's write buffer, the kernel's send buffer):
	// the window is the Ventilator's, shared by every worker, so a smaller
	// one fills with the tasks a slow worker holds and then holds up the
	// others (with 50 per worker, w4 went from 159 to 90 results/s when
	// w3's link was limited; with 200, not at all).
	v, err := pipeline.NewVentilator(codec.Bytes(), codec.String(),
		pipeline.WithTaskTimeout(taskTimeout), pipeline.WithMaxAttempts(50), pipeline.WithPrefetch(200), pipeline.WithTaskHWM(4),
		pipeline.WithSocketOptions(sockets.WithDNSServer(dns), sockets.WithResolveInterval(resolveInterval),
			sockets.WithHeartbeat(heartbeatIvl, heartbeatWait, 0), sockets.WithImmediate(true),
			sockets.WithConnectTimeout(connectTimeout), sockets.WithLogger(log)))
	if err != nil {
		return err
	}
	defer v.Close()
	if _, err := v.Listen(pipeline.Endpoints{Results: listen}); err != nil {
		return err
	}
	if err := v.Dial(pipeline.Endpoints{Tasks: dial}); err != nil {
		return err
	}
	if err := v.WaitWorkers(ctx, 3); err != nil {
		return err
	}
	fmt.Fprintln(out, "ready")

	var wg sync.WaitGroup
	defer wg.Wait()
	defer v.Close()
	wg.Add(1)
	go func() { // results
		defer wg.Done()
		for {
			r, err := v.Next(ctx)
			if err != nil {
				return
			}
			if r.Err != nil {
				fmt.Fprintf(out, "X %s %v\n", r.Worker, r.Err)
				continue
			}
			fmt.Fprintf(out, "R %s\n", r.Worker)
		}
	}()
	submitCtx, stopSubmit := context.WithCancel(ctx)
	defer stopSubmit()
	wg.Add(1)
	go func() { // tasks, until stop
		defer wg.Done()
		payload := make([]byte, taskSize)
		for submitCtx.Err() == nil {
			if _, err := v.Submit(submitCtx, payload); err != nil {
				return
			}
		}
	}()
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if in.Text() != "stop" {
			continue
		}
		stopSubmit()
		wctx, cancel := context.WithTimeout(ctx, 4*taskTimeout)
		err := v.Wait(wctx)
		cancel()
		b, _ := json.Marshal(v.Stats())
		fmt.Fprintf(out, "S %s %v\n", b, err)
		return nil
	}
	return nil
}
