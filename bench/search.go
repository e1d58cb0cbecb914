package bench

import (
	"context"
	"fmt"
	"time"
)

// The headline PUB/SUB figure is the highest publish rate at which every
// subscriber receives every message. A publisher at its HWM drops, by
// design, so a flood measures how much it drops, not what users can
// publish. The search paces the publisher: from a starting rate it doubles
// while steps pass, then bisects between the highest pass and the lowest
// failure, a bounded number of short steps.

// Step is one paced run of a search.
type Step struct {
	Run       int     `json:"run"`       // which of the cell's searches (from 1)
	Rate      float64 `json:"rate"`      // msgs/s the publisher was paced to
	Delivered float64 `json:"delivered"` // percent of messages every subscriber got, together
	Pass      bool    `json:"pass"`      // every subscriber got every message
	Err       string  `json:"error,omitempty"`
}

// Search is the outcome of one rate search.
type Search struct {
	System    string `json:"system"`
	Transport string `json:"transport"`
	Size      int    `json:"size"`
	Subs      int    `json:"subscribers"`
	Layout    string `json:"layout"` // how the subscribers are spread over processes
	// Best is the median of the searches' results (Bests, one a run, with
	// the systems alternated as in the throughput cells).
	Best  float64   `json:"best_rate"`
	Bests []float64 `json:"best_rates"`
	Steps []Step    `json:"steps"`
}

// add records the outcome of one more search of the cell.
func (s *Search) add(best float64, steps []Step) {
	run := len(s.Bests) + 1
	for i := range steps {
		steps[i].Run = run
	}
	s.Bests = append(s.Bests, best)
	s.Steps = append(s.Steps, steps...)
	s.Best, _, _ = spread(s.Bests)
}

// searchStart and searchCeiling bound the rates tried.
const (
	searchStart   = 100e3
	searchCeiling = 50e6
	stepTime      = 150 * time.Millisecond // one step's length at its rate
)

// searchRate returns the highest rate that passed (0 if none did) and the
// steps taken, at most maxSteps.
func searchRate(ctx context.Context, start, ceiling float64, maxSteps int, measure func(context.Context, float64) Step) (float64, []Step) {
	var steps []Step
	var lo, hi float64 // highest pass, lowest failure; 0: none yet
	rate := start
	for len(steps) < maxSteps && ctx.Err() == nil {
		st := measure(ctx, rate)
		st.Rate = rate
		steps = append(steps, st)
		if st.Pass {
			lo = max(lo, rate)
		} else if hi == 0 || rate < hi {
			hi = rate
		}
		switch {
		case hi == 0 && rate >= ceiling:
			return lo, steps // everything passes up to the ceiling
		case hi == 0:
			rate = min(rate*2, ceiling)
		case lo == 0:
			rate /= 2
		default:
			if (hi-lo)/lo < 0.05 {
				return lo, steps
			}
			rate = (lo + hi) / 2
		}
	}
	return lo, steps
}

// newSearch is an empty search cell.
func (r *runner) newSearch(system, tr string, size, subs int) *Search {
	return &Search{System: r.label(system), Transport: tr, Size: size, Subs: subs,
		Layout: fmt.Sprintf("%d SUB socket(s) in 1 process", subs)}
}

// search finds the highest loss-free publish rate for subs subscribers
// once, and adds it to s.
func (r *runner) search(ctx context.Context, system, tr string, size, subs int, s *Search) {
	// Start near what a loopback might carry at this size: 100 MB/s, at
	// most searchStart msgs/s, so large messages do not spend steps
	// coming down.
	start := min(max(100e6/float64(size), 5e3), searchStart)
	best, steps := searchRate(ctx, start, searchCeiling, r.cfg.SearchSteps, func(ctx context.Context, rate float64) Step {
		count := max(int(rate*stepTime.Seconds()), 1000)
		row := r.throughput(ctx, system, "pubsub", tr, size, count, subs, rate)
		return Step{Delivered: row.Delivered(), Pass: row.Err == "" && row.Lost == 0 && row.Sent > 0, Err: row.Err}
	})
	s.add(best, steps)
}
