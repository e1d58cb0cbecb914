package pipeline_test

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/zmqkit/zmqkit/codec"
	"github.com/zmqkit/zmqkit/patterns/pipeline"
)

// A ventilator, two workers and a join. The workers would normally run in
// other processes, dialling the endpoints the ventilator listens on.
//
// Options are typed by role: WithTaskTimeout is a VentilatorOption,
// WithConcurrency a WorkerOption, and each constructor takes only its own.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	v, err := pipeline.NewVentilator(codec.JSON[int](), codec.JSON[int](),
		pipeline.WithTaskTimeout(5*time.Second)) // re-issue a task whose result is this late
	if err != nil {
		panic(err)
	}
	defer v.Close()
	ep, err := v.Listen(pipeline.Endpoints{Tasks: "inproc://example-tasks", Results: "inproc://example-results"})
	if err != nil {
		panic(err)
	}

	var wg sync.WaitGroup
	defer wg.Wait()
	for range 2 {
		w, err := pipeline.NewWorker(codec.JSON[int](), codec.JSON[int](), pipeline.WithConcurrency(2))
		if err != nil {
			panic(err)
		}
		defer w.Close()
		if err := w.Dial(ep); err != nil {
			panic(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.Run(ctx, func(_ context.Context, n int) (int, error) { return n * n, nil })
		}()
	}

	for n := 1; n <= 10; n++ {
		if _, err := v.Submit(ctx, n); err != nil {
			panic(err)
		}
	}
	if err := v.Wait(ctx); err != nil { // Queue.join()
		panic(err)
	}
	sum := 0
	for _, r := range v.Drain() {
		if r.Err != nil {
			panic(r.Err)
		}
		sum += r.Value
	}
	fmt.Println("sum of squares 1..10:", sum, "in flight:", v.Stats().InFlight)
	// Output: sum of squares 1..10: 385 in flight: 0
}
