// Command taskqueue is the seeds' Python Queue-and-threads example redone
// over sockets: a producer pushes URLs to a pool of workers (PUSH → PULL,
// round-robin), each worker reports completion to a sink (PUSH → PULL), and
// the producer waits until the sink has seen every task — Queue.join(),
// across processes if the pieces ran apart.
//
//	go run ./examples/taskqueue [-workers 5] [-tasks 30]
package main

import (
	"context"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"log"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/zmqkit/zmqkit/codec"
	"github.com/zmqkit/zmqkit/sockets"
)

// Task is one URL to fetch.
type Task struct {
	ID  int    `json:"id"`
	URL string `json:"url"`
}

// Done reports a finished task.
type Done struct {
	Task   Task   `json:"task"`
	Worker int    `json:"worker"`
	Digest uint32 `json:"digest"`
}

func main() {
	workers := flag.Int("workers", 5, "worker count")
	tasks := flag.Int("tasks", 30, "task count")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := run(ctx, os.Stdout, *workers, *tasks); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, out io.Writer, nWorkers, nTasks int) error {
	start := time.Now()
	producer, err := sockets.NewPushOf(codec.JSON[Task]())
	if err != nil {
		return err
	}
	defer producer.Close()
	taskAddr, err := producer.Listen("tcp://127.0.0.1:0")
	if err != nil {
		return err
	}
	sink, err := sockets.NewPullOf(codec.JSON[Done]())
	if err != nil {
		return err
	}
	defer sink.Close()
	doneAddr, err := sink.Listen("tcp://127.0.0.1:0")
	if err != nil {
		return err
	}

	wctx, stopWorkers := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { stopWorkers(); wg.Wait() }()
	for w := 1; w <= nWorkers; w++ {
		in, err := sockets.NewPullOf(codec.JSON[Task]())
		if err != nil {
			return err
		}
		defer in.Close()
		report, err := sockets.NewPushOf(codec.JSON[Done]())
		if err != nil {
			return err
		}
		defer report.Close()
		if err := in.Dial(taskAddr); err != nil {
			return err
		}
		if err := report.Dial(doneAddr); err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			worker(wctx, w, in, report)
		}()
	}

	// Round-robin spreads work only over connected workers: wait for all.
	for producer.Stats().Peers < int64(nWorkers) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
	for i := 1; i <= nTasks; i++ {
		if err := producer.Send(ctx, Task{ID: i, URL: fmt.Sprintf("http://%d", i)}); err != nil {
			return err
		}
	}

	// join(): wait until every task has been reported, each exactly once.
	seen := make(map[int]bool, nTasks)
	perWorker := make(map[int]int)
	for len(seen) < nTasks {
		d, err := sink.Recv(ctx)
		if err != nil {
			return err
		}
		if seen[d.Task.ID] {
			return fmt.Errorf("task %d reported twice", d.Task.ID)
		}
		seen[d.Task.ID] = true
		perWorker[d.Worker]++
	}
	ids := make([]int, 0, len(perWorker))
	for w := range perWorker {
		ids = append(ids, w)
	}
	sort.Ints(ids)
	fmt.Fprintf(out, "%d tasks done by %d workers in %v\n", nTasks, len(ids), time.Since(start).Round(time.Millisecond))
	for _, w := range ids {
		fmt.Fprintf(out, "worker %d: %d tasks\n", w, perWorker[w])
	}
	return nil
}

// worker fetches tasks until its context ends. There is no network here,
// so "fetching" is a short pause and a digest of the URL.
func worker(ctx context.Context, id int, in *sockets.PullOf[Task], report *sockets.PushOf[Done]) {
	for t, err := range in.All(ctx) {
		if err != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Duration(1+t.ID%3) * time.Millisecond):
		}
		h := fnv.New32a()
		h.Write([]byte(t.URL))
		if err := report.Send(ctx, Done{Task: t, Worker: id, Digest: h.Sum32()}); err != nil {
			return
		}
	}
}
