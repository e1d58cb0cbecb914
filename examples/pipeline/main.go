// Command pipeline is a worker pool that loses no task when a worker dies:
// a ventilator hands out tasks over PUSH, workers send results back over
// PUSH to the ventilator's PULL, and the ventilator re-issues any task whose
// result is late, counting each task once (patterns/pipeline).
//
// All in one process, with one worker killed while it holds a task:
//
//	go run ./examples/pipeline [-workers 4] [-n 40] [-kill=false]
//
// Across processes (start the workers in other terminals, kill one with
// Ctrl-C while the batch runs):
//
//	go run ./examples/pipeline -role ventilator -tasks-at tcp://127.0.0.1:5557 -results-at tcp://127.0.0.1:5558
//	go run ./examples/pipeline -role worker     -tasks-at tcp://127.0.0.1:5557 -results-at tcp://127.0.0.1:5558
package main

import (
	"context"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"log"
	"os"
	"os/signal"
	"slices"
	"sync"
	"time"

	"github.com/zmqkit/zmqkit/codec"
	"github.com/zmqkit/zmqkit/patterns/pipeline"
)

// Job is one piece of work: digest a text.
type Job struct {
	Text string `json:"text"`
}

// Digest is a job's result.
type Digest struct {
	Sum uint32 `json:"sum"`
}

func main() {
	role := flag.String("role", "all", "all, ventilator or worker")
	workers := flag.Int("workers", 4, "workers (role all), or workers to wait for (role ventilator)")
	n := flag.Int("n", 40, "tasks")
	kill := flag.Bool("kill", true, "kill worker 1 while it holds a task (role all)")
	timeout := flag.Duration("timeout", 300*time.Millisecond, "re-issue a task whose result is this late")
	tasksAt := flag.String("tasks-at", "tcp://127.0.0.1:0", "task endpoint")
	resultsAt := flag.String("results-at", "tcp://127.0.0.1:0", "result endpoint")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ep := pipeline.Endpoints{Tasks: *tasksAt, Results: *resultsAt}
	var err error
	switch *role {
	case "all":
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		_, err = runAll(ctx, os.Stdout, *workers, *n, *kill, *timeout)
	case "ventilator":
		_, err = runVentilator(ctx, os.Stdout, ep, *workers, *n, *timeout, nil)
	case "worker":
		err = runWorker(ctx, ep, "", nil)
		if ctx.Err() != nil {
			err = nil // Ctrl-C: the ventilator re-issues what this worker held
		}
	default:
		err = fmt.Errorf("unknown role %q", *role)
	}
	if err != nil {
		log.Fatal(err)
	}
}

// summary is what a batch came to.
type summary struct {
	Tasks     int
	Reissued  int            // tasks that needed more than one attempt
	PerWorker map[string]int // results counted, by worker
	Victim    string         // the worker killed, if any
}

func newVentilator(timeout time.Duration) (*pipeline.Ventilator[Job, Digest], error) {
	return pipeline.NewVentilator(codec.JSON[Job](), codec.JSON[Digest](),
		pipeline.WithTaskTimeout(timeout), pipeline.WithMaxAttempts(5))
}

// runAll runs the ventilator and the workers in this process, over tcp.
func runAll(ctx context.Context, out io.Writer, nWorkers, nTasks int, kill bool, timeout time.Duration) (summary, error) {
	v, err := newVentilator(timeout)
	if err != nil {
		return summary{}, err
	}
	defer v.Close()
	ep, err := v.Listen(pipeline.Endpoints{Tasks: "tcp://127.0.0.1:0", Results: "tcp://127.0.0.1:0"})
	if err != nil {
		return summary{}, err
	}

	wctx, stopWorkers := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { stopWorkers(); wg.Wait() }()
	dying := make(chan string, 1) // the victim, once it holds a task it will never finish
	victimCtx, killVictim := context.WithCancel(wctx)
	defer killVictim()
	for i := 1; i <= nWorkers; i++ {
		name := fmt.Sprintf("worker %d", i)
		wctx, hang := wctx, func() bool { return false }
		if kill && i == 1 {
			taken := 0
			wctx, hang = victimCtx, func() bool {
				if taken++; taken == 2 { // dies on its second task
					dying <- name
					return true
				}
				return false
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = runWorker(wctx, ep, name, hang)
		}()
	}
	if err := v.WaitWorkers(ctx, nWorkers); err != nil {
		return summary{}, err
	}

	start := time.Now()
	var victim string
	submitted := make(chan error, 1)
	go func() {
		for i := 1; i <= nTasks; i++ {
			if _, err := v.Submit(ctx, Job{Text: fmt.Sprintf("task %d", i)}); err != nil {
				submitted <- err
				return
			}
		}
		submitted <- nil
	}()
	if kill {
		select {
		case victim = <-dying:
			killVictim() // it closes its sockets: what it held and had queued is gone
			fmt.Fprintf(out, "%s died holding a task\n", victim)
		case <-ctx.Done():
			return summary{}, ctx.Err()
		}
	}
	if err := <-submitted; err != nil {
		return summary{}, err
	}
	s, err := collect(ctx, v, nTasks)
	if err != nil {
		return s, err
	}
	s.Victim = victim
	report(out, s, time.Since(start))
	return s, nil
}

// runVentilator submits nTasks to the workers that dial ep and waits for
// them all; ready, if not nil, learns the bound endpoints.
func runVentilator(ctx context.Context, out io.Writer, ep pipeline.Endpoints, minWorkers, nTasks int, timeout time.Duration, ready func(pipeline.Endpoints)) (summary, error) {
	v, err := newVentilator(timeout)
	if err != nil {
		return summary{}, err
	}
	defer v.Close()
	if ep, err = v.Listen(ep); err != nil {
		return summary{}, err
	}
	fmt.Fprintf(out, "tasks at %s, results at %s: waiting for %d workers\n", ep.Tasks, ep.Results, minWorkers)
	if ready != nil {
		ready(ep)
	}
	if err := v.WaitWorkers(ctx, minWorkers); err != nil {
		return summary{}, err
	}
	start := time.Now()
	for i := 1; i <= nTasks; i++ {
		if _, err := v.Submit(ctx, Job{Text: fmt.Sprintf("task %d", i)}); err != nil {
			return summary{}, err
		}
	}
	s, err := collect(ctx, v, nTasks)
	if err == nil {
		report(out, s, time.Since(start))
	}
	return s, err
}

// collect joins the batch and checks that every task was counted once.
func collect(ctx context.Context, v *pipeline.Ventilator[Job, Digest], nTasks int) (summary, error) {
	if err := v.Wait(ctx); err != nil { // Queue.join()
		return summary{}, err
	}
	s := summary{PerWorker: make(map[string]int)}
	seen := make(map[uint64]bool, nTasks)
	for _, r := range v.Drain() {
		if r.Err != nil {
			return s, fmt.Errorf("%s: %w", r.Task.Text, r.Err)
		}
		if seen[r.ID] {
			return s, fmt.Errorf("%s counted twice", r.Task.Text)
		}
		if r.Value.Sum != digest(r.Task.Text) {
			return s, fmt.Errorf("%s: wrong digest", r.Task.Text)
		}
		seen[r.ID] = true
		s.Tasks++
		s.PerWorker[r.Worker]++
		if r.Attempts > 1 {
			s.Reissued++
		}
	}
	if s.Tasks != nTasks {
		return s, fmt.Errorf("%d of %d tasks settled", s.Tasks, nTasks)
	}
	return s, nil
}

func report(out io.Writer, s summary, took time.Duration) {
	fmt.Fprintf(out, "%d tasks done in %v, each counted once; %d re-issued after a timeout\n",
		s.Tasks, took.Round(time.Millisecond), s.Reissued)
	names := make([]string, 0, len(s.PerWorker))
	for w := range s.PerWorker {
		names = append(names, w)
	}
	slices.Sort(names)
	for _, w := range names {
		fmt.Fprintf(out, "%s: %d tasks\n", w, s.PerWorker[w])
	}
}

// runWorker digests jobs from ep until ctx ends. hang, if not nil, is asked
// before each job whether to hang on it instead (to play a dying worker).
func runWorker(ctx context.Context, ep pipeline.Endpoints, name string, hang func() bool) error {
	var opts []pipeline.WorkerOption
	if name != "" {
		opts = append(opts, pipeline.WithName(name))
	}
	w, err := pipeline.NewWorker(codec.JSON[Job](), codec.JSON[Digest](), opts...)
	if err != nil {
		return err
	}
	defer w.Close()
	if err := w.Dial(ep); err != nil {
		return err
	}
	return w.Run(ctx, func(ctx context.Context, j Job) (Digest, error) {
		if hang != nil && hang() {
			<-ctx.Done()
			return Digest{}, ctx.Err()
		}
		// "Work": a millisecond or two.
		t := time.NewTimer(time.Duration(1+len(j.Text)%2) * time.Millisecond)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return Digest{}, ctx.Err()
		}
		return Digest{Sum: digest(j.Text)}, nil
	})
}

func digest(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	return h.Sum32()
}
