package bench

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// WriteTable prints rows the way the seeds lay their comparison out: one
// line per system and variant, send and receive rates per message size
// (lossy rows show the share delivered); the same grid with the bandwidth
// received and the CPU time per message; then the round-trip latencies.
func WriteTable(w io.Writer, rows []Row) error {
	fmt.Fprintln(w, "Throughput, messages/s sent / received (delivered % where messages were lost)")
	if err := grid(w, rows, func(r Row) string {
		c := Human(r.SendRate) + " / " + Human(r.RecvRate)
		if r.Lost > 0 {
			c += fmt.Sprintf(" (%.0f%%)", r.Delivered())
		}
		return c
	}); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nBandwidth received, MB/s; process CPU time per message received")
	if err := grid(w, rows, func(r Row) string {
		return fmt.Sprintf("%.0f MB/s  %s", r.RecvMBps, cpuLabel(r.CPUPerMsg))
	}); err != nil {
		return err
	}
	var lat []Row
	for _, r := range rows {
		if r.Latency != nil {
			lat = append(lat, r)
		}
	}
	if len(lat) > 0 {
		fmt.Fprintln(w, "\nRound trip, microseconds")
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "system\tvariant\tsize\tp50\tp90\tp99\tp99.9\tmax\ttrips/s\t")
		for _, r := range lat {
			l := r.Latency
			fmt.Fprintf(tw, "%s\t%s\t%s\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%s\t\n", r.System, r.Variant(), sizeLabel(r.Size),
				l.P50, l.P90, l.P99, l.P999, l.Max, Human(1e6/max(l.Avg, 1e-3)))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	var errs []string
	for _, r := range rows {
		if r.Err != "" {
			errs = append(errs, fmt.Sprintf("%s %s %s: %s", r.System, r.Variant(), sizeLabel(r.Size), r.Err))
		}
	}
	if len(errs) > 0 {
		fmt.Fprintln(w, "\nErrors:\n  "+strings.Join(errs, "\n  "))
	}
	return nil
}

// WriteCSV writes one line per row with every measured field.
func WriteCSV(w io.Writer, rows []Row) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"system", "pattern", "transport", "size", "sent", "received", "lost", "reordered",
		"send_msgs_per_s", "recv_msgs_per_s", "send_mb_per_s", "recv_mb_per_s", "cpu_ns_per_msg",
		"rtt_p50_us", "rtt_p90_us", "rtt_p99_us", "rtt_p999_us", "rtt_max_us", "error"})
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }
	for _, r := range rows {
		rec := []string{r.System, r.Pattern, r.Transport, strconv.Itoa(r.Size),
			strconv.FormatUint(r.Sent, 10), strconv.FormatUint(r.Received, 10), strconv.FormatUint(r.Lost, 10),
			strconv.FormatUint(r.Reordered, 10), f(r.SendRate), f(r.RecvRate), f(r.SendMBps), f(r.RecvMBps), f(r.CPUPerMsg)}
		if l := r.Latency; l != nil {
			rec = append(rec, f(l.P50), f(l.P90), f(l.P99), f(l.P999), f(l.Max))
		} else {
			rec = append(rec, "", "", "", "", "")
		}
		rec = append(rec, r.Err)
		_ = cw.Write(rec)
	}
	cw.Flush()
	return cw.Error()
}

// WriteJSON writes the rows as a JSON array.
func WriteJSON(w io.Writer, rows []Row) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rows)
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

type key struct{ system, variant string }

func keysOf(rows []Row, keep func(Row) bool) []key {
	var ks []key
	for _, r := range rows {
		k := key{r.System, r.Variant()}
		if keep(r) && !slices.Contains(ks, k) {
			ks = append(ks, k)
		}
	}
	return ks
}

// grid prints one line per throughput system and variant, one cell per size.
func grid(w io.Writer, rows []Row, cell func(Row) string) error {
	sizes := sizesOf(rows)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	head := []string{"system", "variant"}
	for _, s := range sizes {
		head = append(head, sizeLabel(s))
	}
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	for _, k := range keysOf(rows, func(r Row) bool { return r.Pattern != "reqrep" }) {
		cells := []string{k.system, k.variant}
		for _, s := range sizes {
			r, ok := find(rows, k, s)
			switch {
			case !ok:
				cells = append(cells, "-")
			case r.Err != "" && r.Sent == 0:
				cells = append(cells, "error")
			default:
				cells = append(cells, cell(r))
			}
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
	return tw.Flush()
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

func sizesOf(rows []Row) []int {
	var s []int
	for _, r := range rows {
		if !slices.Contains(s, r.Size) {
			s = append(s, r.Size)
		}
	}
	slices.Sort(s)
	return s
}

func find(rows []Row, k key, size int) (Row, bool) {
	for _, r := range rows {
		if r.System == k.system && r.Variant() == k.variant && r.Size == size {
			return r, true
		}
	}
	return Row{}, false
}
