package bench

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// runner carries one bench run's settings and scratch state.
type runner struct {
	cfg    Config
	ipcDir string
	seq    int
	native *Native // nil: no libzmq C rows
}

// endpoint is a fresh listen endpoint for tr. A concrete one (a free
// port) when a C program must be told where to listen.
func (r *runner) endpoint(tr string, concrete bool) (string, error) {
	r.seq++
	switch tr {
	case "ipc":
		if r.ipcDir == "" {
			d, err := os.MkdirTemp("", "zmqkit-bench")
			if err != nil {
				return "", err
			}
			r.ipcDir = d
		}
		return "ipc://" + filepath.Join(r.ipcDir, strconv.Itoa(r.seq)), nil
	case "tcp", "ws":
		path := ""
		if tr == "ws" {
			path = "/bench"
		}
		if !concrete {
			return tr + "://127.0.0.1:0" + path, nil
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		defer ln.Close()
		return tr + "://" + ln.Addr().String() + path, nil
	}
	return "", fmt.Errorf("no two-process endpoint for transport %q", tr)
}

func (r *runner) cleanup() {
	if r.ipcDir != "" {
		os.RemoveAll(r.ipcDir)
	}
}

// stepTimeout bounds one sample, start to exit of every process.
const stepTimeout = 2 * time.Minute

// throughput measures one two-process (three with a device) sample of
// pattern for a system of ours ("zmqkit" or "raw"), or of libzmq C
// through the anchor's pub/sub mode ("native").
func (r *runner) throughput(ctx context.Context, system, pattern, tr string, size, count, subs int, rate float64) Row {
	row := Row{System: r.label(system), Pattern: pattern, Transport: tr, Size: size, Subs: subs, Processes: 2}
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	var procs []*proc
	defer func() {
		for _, p := range procs {
			p.kill()
		}
	}()
	fail := func(err error) Row {
		row.Err = err.Error()
		return row
	}
	start := func(s spec) (*proc, error) {
		var p *proc
		var err error
		if system == "native" {
			p, err = r.native.startBench(ctx, s)
		} else {
			s.System = system
			p, err = r.startSpec(ctx, s)
		}
		if err == nil {
			procs = append(procs, p)
		}
		return p, err
	}
	send := spec{Role: "send", Pattern: pattern, Size: size, Count: count, Rate: rate}
	if rate > 0 && r.cfg.SearchWarmup > 0 {
		send.Warm = int(rate * r.cfg.SearchWarmup.Seconds())
	}
	recv := spec{Role: "recv", Pattern: pattern, Size: size, Count: count, Subs: subs}
	ep, err := r.endpoint(tr, system == "native")
	if err != nil {
		return fail(err)
	}
	var dev, sender, receiver *proc
	switch {
	case isDevice(pattern):
		row.Processes = 3
		ep2, err := r.endpoint(tr, false)
		if err != nil {
			return fail(err)
		}
		if dev, err = start(spec{Role: "device", Pattern: pattern, Listen: ep, Listen2: ep2, Size: size, Count: count}); err != nil {
			return fail(err)
		}
		addrs, err := dev.expect(ctx, "listening ")
		if err != nil {
			return fail(err)
		}
		front, back, _ := strings.Cut(addrs, " ")
		send.Dial, recv.Dial = front, back
		if receiver, err = start(recv); err != nil {
			return fail(err)
		}
		if sender, err = start(send); err != nil {
			return fail(err)
		}
	case pattern == "pubsub":
		send.Listen = ep
		if sender, err = start(send); err != nil {
			return fail(err)
		}
		if recv.Dial, err = sender.expect(ctx, "listening "); err != nil {
			return fail(err)
		}
		if receiver, err = start(recv); err != nil {
			return fail(err)
		}
	default:
		recv.Listen = ep
		if receiver, err = start(recv); err != nil {
			return fail(err)
		}
		if send.Dial, err = receiver.expect(ctx, "listening "); err != nil {
			return fail(err)
		}
		if sender, err = start(send); err != nil {
			return fail(err)
		}
	}
	if _, err := receiver.expect(ctx, "ready"); err != nil {
		return fail(err)
	}
	sender.say("go")
	got, err := receiver.result(ctx)
	if err != nil {
		return fail(err)
	}
	sender.say("stop")
	sent, err := sender.result(ctx)
	if err != nil {
		return fail(err)
	}
	for _, p := range procs {
		if err := p.finish(ctx); err != nil {
			return fail(err)
		}
	}
	perSub := max(subs, 1)
	row.Sent = sent.Sent * uint64(perSub)
	row.Received, row.Reordered = got.Received, got.Reordered
	if row.Received < row.Sent {
		row.Lost = row.Sent - row.Received
	}
	if sent.ElapsedNs > 0 {
		row.SendRate = float64(sent.Sent) / (float64(sent.ElapsedNs) / 1e9)
	}
	if got.ElapsedNs > 0 {
		row.RecvRate = float64(got.Received) / float64(perSub) / (float64(got.ElapsedNs) / 1e9)
	}
	row.SendMBps, row.RecvMBps = mb(row.SendRate, size), mb(row.RecvRate, size)
	row.usage(sender, receiver, dev)
	return row
}

// usage fills CPU per message (all the sample's processes together) and
// the peak RSS of each.
func (row *Row) usage(sender, receiver, dev *proc) {
	if !UsageAvailable {
		return
	}
	var cpu time.Duration
	for _, p := range []*proc{sender, receiver, dev} {
		if p != nil {
			cpu += p.cpu
		}
	}
	if row.Received > 0 {
		row.CPUPerMsg = float64(cpu.Nanoseconds()) / float64(row.Received)
	}
	row.RSSSend, row.RSSRecv = sender.peakRSS(), receiver.peakRSS()
	if dev != nil {
		row.RSSDevice = dev.peakRSS()
	}
}

// roundTrips measures one latency sample: a server process echoing and a
// client process timing trips round trips.
func (r *runner) roundTrips(ctx context.Context, system, pattern, tr string, size, trips int) Row {
	row := Row{System: r.label(system), Pattern: pattern, Transport: tr, Size: size, Processes: 2}
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	fail := func(err error) Row {
		row.Err = err.Error()
		return row
	}
	ep, err := r.endpoint(tr, false)
	if err != nil {
		return fail(err)
	}
	server, err := r.startSpec(ctx, spec{Role: "echo", System: system, Pattern: pattern, Listen: ep, Size: size, Count: trips})
	if err != nil {
		return fail(err)
	}
	defer server.kill()
	addr, err := server.expect(ctx, "listening ")
	if err != nil {
		return fail(err)
	}
	client, err := r.startSpec(ctx, spec{Role: "call", System: system, Pattern: pattern, Dial: addr, Size: size, Count: trips})
	if err != nil {
		return fail(err)
	}
	defer client.kill()
	res, err := client.result(ctx)
	if err != nil {
		return fail(err)
	}
	if err := client.finish(ctx); err != nil {
		return fail(err)
	}
	if err := server.finish(ctx); err != nil {
		return fail(err)
	}
	row.latencyFrom(res, size)
	row.usage(client, server, nil)
	return row
}

// latencyFrom fills a latency row from a client's result: rates are round trips.
func (row *Row) latencyFrom(res childResult, size int) {
	row.Sent, row.Received, row.Latency = res.Received, res.Received, res.Latency
	if res.ElapsedNs > 0 {
		row.SendRate = float64(res.Received) / (float64(res.ElapsedNs) / 1e9)
		row.RecvRate = row.SendRate
		row.SendMBps, row.RecvMBps = mb(row.SendRate, size), mb(row.RecvRate, size)
	}
}

func isDevice(pattern string) bool {
	return pattern == "streamer" || pattern == "forwarder" || pattern == "queue"
}

// label is the name a system has in the table.
func (r *runner) label(system string) string {
	switch system {
	case "raw":
		return SystemRaw
	case "rawalloc":
		return SystemRawAlloc
	case "native":
		return r.native.Label()
	}
	return system
}

// PatternDealerRouterTrips names the DEALER→ROUTER round-trip rows that a
// two-process run of pattern "dealerrouter" adds to its throughput rows.
const PatternDealerRouterTrips = "dealerrouter-rt"

// System names in rows.
const (
	SystemZmqkit    = "zmqkit"
	SystemRaw       = "raw Go stream"
	SystemRawAlloc  = "raw Go stream, new buffer per send"
	SystemInProcess = "zmqkit, 1 process"
)
