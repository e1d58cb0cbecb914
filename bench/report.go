package bench

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// GCLine says how Go's collector runs in this process and its children:
// Go's defaults, unless GOGC or GOMEMLIMIT is set in the environment.
func GCLine(m Machine) string {
	if m.GOGC == "" && m.GOMEMLIMIT == "" {
		return "Go GC: GOGC=100 GOMEMLIMIT=none (Go's defaults, as a service runs)"
	}
	return fmt.Sprintf("Go GC: GOGC=%s GOMEMLIMIT=%s, from the environment", orDefault(m.GOGC, "100"), orDefault(m.GOMEMLIMIT, "none"))
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

// Header is the lines that say where and how a run was made.
func (r *Report) Header() string {
	m := r.Machine
	lib := m.Libzmq
	if lib == "" {
		lib = "not measured"
	}
	return fmt.Sprintf("%s\nmachine: %d cores, GOMAXPROCS %d, %s %s/%s, load %s at start, %s at end; libzmq (C): %s\n"+
		"each cell: median of %s [min–max]; tcp/ipc samples run sender and receiver in separate processes (a device in a third);\n"+
		"CPU/msg: user+system time of all of a sample's processes (start-up included) per message; RSS: each process's peak",
		GCLine(m), m.Cores, m.GOMAXPROCS, m.GoVersion, m.OS, m.Arch, m.LoadStart, m.LoadEnd, lib, plural(r.Settings.Runs, "run"))
}

// floodNote labels flood PUB/SUB figures.
const floodNote = "pubsub is a flood: the PUB drops at its HWM by design; see the search below for what subscribers get in full"

// WriteTable prints the report for a reader: throughput cells, the PUB/SUB
// searches, round trips, then notices and errors.
func WriteTable(w io.Writer, r *Report) error {
	fmt.Fprintln(w, r.Header())
	var notices, errs []string
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	hasFlood := false
	fmt.Fprintln(w, "\nThroughput, messages/s received")
	fmt.Fprintln(tw, "system\tprocs\tpattern/transport\tsize\tmsgs/s [min–max]\tMB/s\tCPU/msg\tRSS send/recv[/dev]\tvs libzmq C\tof raw ceiling\t")
	for _, c := range r.Cells {
		name := c.System + " " + c.Pattern + "/" + c.Transport + " " + sizeLabel(c.Size)
		for _, e := range c.Errors {
			errs = append(errs, name+": "+e)
		}
		if c.Noisy {
			notices = append(notices, fmt.Sprintf("%s: runs spread over %.0f%% of the median (more than %.0f%%): a busy machine?", name, 100*(c.Max-c.Min)/c.Median, 100*NoisySpread))
		}
		if c.BrokenBaseline {
			notices = append(notices, fmt.Sprintf("%s: above the raw stream's figure: the raw baseline is broken for this cell", name))
		}
		if c.Latency != nil || ((c.Pattern == "reqrep" || c.Pattern == PatternDealerRouterTrips) && c.Transport != "inproc") {
			continue
		}
		if c.Pattern == "pubsub" {
			hasFlood = true
		}
		rate := "error"
		if c.Runs > 0 {
			rate = fmt.Sprintf("%s [%s–%s]", Human(c.Median), Human(c.Min), Human(c.Max))
			if c.Lost > 0 {
				rate += " lossy"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%.0f\t%s\t%s\t%s\t%s\t\n", c.System, procsLabel(c.Processes), c.Pattern+"/"+c.Transport, sizeLabel(c.Size),
			rate, c.MBps, cpuLabel(c.CPUPerMsg), rssLabel(c), ratio(c.VsLibzmq), ceiling(c))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if hasFlood {
		fmt.Fprintln(w, "  "+floodNote)
	}
	if len(r.Searches) > 0 {
		fmt.Fprintln(w, "\nPUB→SUB: highest publish rate at which every subscriber receives 100 %")
		tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "system\ttransport\tsize\tsubscribers\tmsgs/s\tsteps (rate: ok, or delivered %)\t")
		for _, s := range r.Searches {
			var steps []string
			for i, st := range s.Steps {
				if i > 0 && st.Run != s.Steps[i-1].Run {
					steps = append(steps, "|")
				}
				if st.Pass {
					steps = append(steps, Human(st.Rate)+":ok")
				} else {
					steps = append(steps, fmt.Sprintf("%s:%.2f%%", Human(st.Rate), st.Delivered))
				}
				if st.Err != "" {
					errs = append(errs, fmt.Sprintf("%s pubsub/%s %s search at %s/s: %s", s.System, s.Transport, sizeLabel(s.Size), Human(st.Rate), st.Err))
				}
			}
			best := Human(s.Best)
			if s.Best == 0 {
				best = "none passed"
			}
			if med, lo, hi := spread(s.Bests); len(s.Bests) > 1 {
				best += fmt.Sprintf(" [%s–%s]", Human(lo), Human(hi))
				if noisy(med, lo, hi) {
					notices = append(notices, fmt.Sprintf("%s pubsub/%s %s, %d subscribers: searches spread over %.0f%% of the median (more than %.0f%%): a busy machine?",
						s.System, s.Transport, sizeLabel(s.Size), s.Subs, 100*(hi-lo)/med, 100*NoisySpread))
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t\n", s.System, s.Transport, sizeLabel(s.Size), s.Layout, best, strings.Join(steps, " "))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	var lat []Cell
	for _, c := range r.Cells {
		if c.Latency != nil || ((c.Pattern == "reqrep" || c.Pattern == PatternDealerRouterTrips) && c.Transport != "inproc") {
			lat = append(lat, c)
		}
	}
	if len(lat) > 0 {
		fmt.Fprintln(w, "\nRound trips (REQ→REP, and DEALER→ROUTER as dealerrouter-rt; raw: ping-pong), microseconds")
		tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "system\tprocs\tvariant\tsize\tp50\tp99\tavg\ttrips/s [min–max]\tCPU/trip\tRSS\tvs libzmq C\tof raw ceiling\t")
		for _, c := range lat {
			p50, p99, avg := "-", "-", "-"
			if l := c.Latency; l != nil {
				p50, p99, avg = usLabel(l.P50), usLabel(l.P99), usLabel(l.Avg)
			}
			trips := "error"
			if c.Runs > 0 {
				trips = fmt.Sprintf("%s [%s–%s]", Human(c.Median), Human(c.Min), Human(c.Max))
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", c.System, procsLabel(c.Processes), c.Pattern+"/"+c.Transport, sizeLabel(c.Size),
				p50, p99, avg, trips, cpuLabel(c.CPUPerMsg), rssLabel(c), ratio(c.VsLibzmq), ceiling(c))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	notices = append(notices, r.Notes...)
	if !UsageAvailable {
		notices = append(notices, "CPU time and RSS are unavailable on this platform")
	}
	if len(notices) > 0 {
		fmt.Fprintln(w, "\nNotices:\n  "+strings.Join(notices, "\n  "))
	}
	if len(errs) > 0 {
		fmt.Fprintln(w, "\nErrors:\n  "+strings.Join(errs, "\n  "))
	}
	return nil
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

func procsLabel(n int) string {
	if n == 0 {
		return "1"
	}
	return strconv.Itoa(n)
}

func ratio(v float64) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f×", v)
}

func ceiling(c Cell) string {
	if c.BrokenBaseline {
		return "baseline broken"
	}
	if c.OfCeiling == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", 100*c.OfCeiling)
}

func usLabel(v float64) string {
	if v <= 0 {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

func rssLabel(c Cell) string {
	if c.RSSSend == 0 && c.RSSRecv == 0 {
		return "-"
	}
	s := mib(c.RSSSend) + "/" + mib(c.RSSRecv)
	if c.RSSDevice > 0 {
		s += "/" + mib(c.RSSDevice)
	}
	return s
}

func mib(b int64) string { return strconv.FormatFloat(float64(b)/(1<<20), 'f', 0, 64) + "M" }

// csvHeader is the columns of WriteCSV: a sample each line, with the
// machine and settings repeated so that every line stands alone.
var csvHeader = []string{"system", "pattern", "transport", "size", "subscribers", "processes", "run",
	"sent", "received", "lost", "reordered", "send_msgs_per_s", "recv_msgs_per_s", "send_mb_per_s", "recv_mb_per_s",
	"cpu_ns_per_msg", "rss_send_bytes", "rss_recv_bytes", "rss_device_bytes",
	"rtt_p50_us", "rtt_p90_us", "rtt_p99_us", "rtt_p999_us", "rtt_max_us", "error", "step_delivered_pct", "step_pass",
	"cores", "gomaxprocs", "go_version", "gogc", "gomemlimit", "load_start", "load_end", "libzmq_version",
	"runs", "trips", "search_steps", "search_warmup_ms", "in_process_variant", "baselines"}

// WriteCSV writes one line per sample (throughput and round trips), then
// one line per PUB/SUB search step (pattern "pubsub-search", run = step,
// the rate tried in send_msgs_per_s, its outcome in step_delivered_pct and
// step_pass).
func WriteCSV(w io.Writer, r *Report) error {
	cw := csv.NewWriter(w)
	_ = cw.Write(csvHeader)
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }
	m := r.Machine
	st := r.Settings
	tail := []string{strconv.Itoa(m.Cores), strconv.Itoa(m.GOMAXPROCS), m.GoVersion, m.GOGC, m.GOMEMLIMIT, m.LoadStart, m.LoadEnd, m.Libzmq,
		strconv.Itoa(st.Runs), strconv.Itoa(st.Trips), strconv.Itoa(st.SearchSteps), strconv.FormatInt(st.SearchWarmupMs, 10), strconv.FormatBool(st.InProcess), strconv.FormatBool(st.Baselines)}
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	i := func(v int64) string { return strconv.FormatInt(v, 10) }
	for _, s := range r.Samples {
		rec := []string{s.System, s.Pattern, s.Transport, strconv.Itoa(s.Size), strconv.Itoa(s.Subs), strconv.Itoa(s.Processes), strconv.Itoa(s.Run),
			u(s.Sent), u(s.Received), u(s.Lost), u(s.Reordered), f(s.SendRate), f(s.RecvRate), f(s.SendMBps), f(s.RecvMBps),
			f(s.CPUPerMsg), i(s.RSSSend), i(s.RSSRecv), i(s.RSSDevice)}
		if l := s.Latency; l != nil {
			rec = append(rec, f(l.P50), f(l.P90), f(l.P99), f(l.P999), f(l.Max))
		} else {
			rec = append(rec, "", "", "", "", "")
		}
		rec = append(rec, s.Err, "", "")
		_ = cw.Write(append(rec, tail...))
	}
	for _, se := range r.Searches {
		for n, st := range se.Steps {
			rec := []string{se.System, "pubsub-search", se.Transport, strconv.Itoa(se.Size), strconv.Itoa(se.Subs), "2", strconv.Itoa(n + 1),
				"", "", "", "", f(st.Rate), "", "", "", "", "", "", "", "", "", "", "", "", st.Err, f(st.Delivered), strconv.FormatBool(st.Pass)}
			_ = cw.Write(append(rec, tail...))
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteJSON writes the whole report.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// Human formats a rate: 1234567 → "1.23M".
func Human(v float64) string {
	switch {
	case v >= 1e9:
		return strconv.FormatFloat(v/1e9, 'f', 2, 64) + "G"
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', 2, 64) + "M"
	case v >= 1e3:
		return strconv.FormatFloat(v/1e3, 'f', 1, 64) + "k"
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

func sizeLabel(s int) string {
	if s >= 1024 && s%1024 == 0 {
		return strconv.Itoa(s/1024) + " KiB"
	}
	return strconv.Itoa(s) + " B"
}

func cpuLabel(ns float64) string {
	switch {
	case ns <= 0:
		return "-"
	case ns >= 1e4:
		return fmt.Sprintf("%.1f µs", ns/1e3)
	default:
		return fmt.Sprintf("%.0f ns", ns)
	}
}
