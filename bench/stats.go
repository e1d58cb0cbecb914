package bench

import (
	"slices"
	"strings"
)

// Report is a whole run: where, with what settings, every sample, the
// PUB/SUB searches, and the cells summarising the samples.
type Report struct {
	Machine  Machine  `json:"machine"`
	Settings Settings `json:"settings"`
	Samples  []Row    `json:"samples"`
	Searches []Search `json:"pubsub_searches,omitempty"`
	Cells    []Cell   `json:"cells"`
	Notes    []string `json:"notes,omitempty"`
}

// Cell summarises the samples of one system in one pattern, transport and size.
type Cell struct {
	System    string  `json:"system"`
	Pattern   string  `json:"pattern"`
	Transport string  `json:"transport"`
	Size      int     `json:"size"`
	Processes int     `json:"processes"`
	Runs      int     `json:"runs"`   // samples without error
	Median    float64 `json:"median"` // msgs/s received (round trips/s for reqrep)
	Min       float64 `json:"min"`
	Max       float64 `json:"max"`
	// Noisy is set when (max−min)/median exceeds NoisySpread.
	Noisy     bool     `json:"noisy"`
	MBps      float64  `json:"mb_per_s"`       // median
	CPUPerMsg float64  `json:"cpu_ns_per_msg"` // median
	RSSSend   int64    `json:"rss_send_bytes"` // highest of the runs
	RSSRecv   int64    `json:"rss_recv_bytes"`
	RSSDevice int64    `json:"rss_device_bytes,omitempty"`
	Lost      uint64   `json:"lost"`                     // over all runs
	Latency   *Latency `json:"latency,omitempty"`        // medians of the runs' figures
	VsLibzmq  float64  `json:"vs_libzmq_c,omitempty"`    // median / libzmq C's median, same cell
	OfCeiling float64  `json:"of_raw_ceiling,omitempty"` // median / the raw stream's median
	// BrokenBaseline: this zmqkit cell beat the raw ceiling, so the
	// ceiling is not one; no ratio is given against it.
	BrokenBaseline bool     `json:"broken_baseline,omitempty"`
	Errors         []string `json:"errors,omitempty"`
}

// NoisySpread is the (max−min)/median above which a cell gets a notice.
const NoisySpread = 0.25

// spread is the median, least and greatest of vals (zeros for none).
func spread(vals []float64) (med, lo, hi float64) {
	if len(vals) == 0 {
		return 0, 0, 0
	}
	s := slices.Clone(vals)
	slices.Sort(s)
	n := len(s)
	med = s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return med, s[0], s[n-1]
}

func noisy(med, lo, hi float64) bool { return med > 0 && (hi-lo)/med > NoisySpread }

// Summarize groups the samples into cells and sets their ratios.
func (r *Report) Summarize() { r.Cells = cellsOf(r.Samples) }

type cellKey struct {
	system, pattern, transport string
	size                       int
}

func cellsOf(samples []Row) []Cell {
	var order []cellKey
	groups := map[cellKey][]Row{}
	for _, s := range samples {
		k := cellKey{s.System, s.Pattern, s.Transport, s.Size}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], s)
	}
	cells := make([]Cell, 0, len(order))
	for _, k := range order {
		c := Cell{System: k.system, Pattern: k.pattern, Transport: k.transport, Size: k.size}
		var rates, mbps, cpu, p50, p99, avg []float64
		for _, s := range groups[k] {
			c.Processes = s.Processes
			c.Lost += s.Lost
			c.RSSSend, c.RSSRecv, c.RSSDevice = max(c.RSSSend, s.RSSSend), max(c.RSSRecv, s.RSSRecv), max(c.RSSDevice, s.RSSDevice)
			if s.Err != "" {
				c.Errors = append(c.Errors, s.Err)
				continue
			}
			c.Runs++
			rates, mbps = append(rates, s.RecvRate), append(mbps, s.RecvMBps)
			if s.CPUPerMsg > 0 {
				cpu = append(cpu, s.CPUPerMsg)
			}
			if l := s.Latency; l != nil {
				p50, p99, avg = append(p50, l.P50), append(p99, l.P99), append(avg, l.Avg)
			}
		}
		c.Median, c.Min, c.Max = spread(rates)
		c.Noisy = noisy(c.Median, c.Min, c.Max)
		c.MBps, _, _ = spread(mbps)
		c.CPUPerMsg, _, _ = spread(cpu)
		if len(avg) > 0 {
			l := &Latency{Count: int64(len(avg))}
			l.P50, _, _ = spread(p50)
			l.P99, _, _ = spread(p99)
			l.Avg, _, _ = spread(avg)
			c.Latency = l
		}
		cells = append(cells, c)
	}
	for i := range cells {
		compare(&cells[i], cells)
	}
	return cells
}

// IsLibzmqC reports whether a system name is the native libzmq anchor's.
func IsLibzmqC(system string) bool {
	return strings.HasPrefix(system, "libzmq ") && strings.HasSuffix(system, "(C)")
}

// compare sets a zmqkit cell's ratio against libzmq C in the same cell,
// and against the raw ceiling of the same transport and size (pushpull for
// one-way patterns, reqrep for round trips) — unless the cell beats the
// ceiling, which then is marked broken for it.
func compare(c *Cell, cells []Cell) {
	if !strings.HasPrefix(c.System, SystemZmqkit) || c.Median <= 0 {
		return
	}
	ceilingPattern := "pushpull"
	if c.Pattern == "reqrep" || c.Pattern == PatternDealerRouterTrips {
		ceilingPattern = "reqrep" // raw ping-pong
	}
	for _, o := range cells {
		if o.Transport != c.Transport || o.Size != c.Size || o.Processes != c.Processes || o.Median <= 0 {
			continue
		}
		if IsLibzmqC(o.System) && o.Pattern == c.Pattern {
			c.VsLibzmq = c.Median / o.Median
		}
		if o.System == SystemRaw && o.Pattern == ceilingPattern {
			if c.Median > o.Median {
				c.BrokenBaseline = true
			} else {
				c.OfCeiling = c.Median / o.Median
			}
		}
	}
}
