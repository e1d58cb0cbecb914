package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
)

// anchorSource is the native libzmq measuring program: our own C, built
// at bench time with the system's C compiler against its libzmq.
//
//go:embed native/anchor.c
var anchorSource []byte

// Native is a built anchor program.
type Native struct {
	Path    string // the executable
	Version string // libzmq's, from zmq_version: "4.3.4"
}

// Label is the system name of the anchor's rows.
func (n *Native) Label() string { return "libzmq " + n.Version + " (C)" }

// BuildNative compiles the anchor (cc -O2 anchor.c -lzmq) into cacheDir
// (default os.UserCacheDir()/zmqkit/bench), or finds it there: the file
// name holds the hash of the source and the libzmq version of the headers.
// The error says in one line why there is no anchor (no cc, no zmq.h, …).
func BuildNative(ctx context.Context, cacheDir string) (*Native, error) {
	cc, err := exec.LookPath("cc")
	if err != nil {
		return nil, errors.New("no C compiler (cc) on PATH")
	}
	hdr, err := headerVersion(ctx, cc)
	if err != nil {
		return nil, err
	}
	if cacheDir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return nil, fmt.Errorf("no cache directory for the compiled anchor: %w", err)
		}
		cacheDir = filepath.Join(base, "zmqkit", "bench")
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(append(append([]byte{}, anchorSource...), hdr...))
	name := "anchor-" + hdr + "-" + hex.EncodeToString(sum[:8])
	if runtime.GOOS == "windows" {
		name += ".exe"
	}
	bin := filepath.Join(cacheDir, name)
	if _, err := os.Stat(bin); err != nil {
		if err := compileAnchor(ctx, cc, cacheDir, bin); err != nil {
			return nil, err
		}
	}
	out, err := exec.CommandContext(ctx, bin, "version").Output()
	if err != nil {
		return nil, fmt.Errorf("anchor %s does not run: %v", bin, err)
	}
	return &Native{Path: bin, Version: strings.TrimSpace(string(out))}, nil
}

var versionLine = regexp.MustCompile(`ZMQKIT_V\s+(\d+)\s+(\d+)\s+(\d+)`)

// headerVersion asks the compiler for libzmq's version in zmq.h, which
// also tells whether the headers are there at all.
func headerVersion(ctx context.Context, cc string) (string, error) {
	cmd := exec.CommandContext(ctx, cc, "-E", "-P", "-x", "c", "-")
	cmd.Stdin = strings.NewReader("#include <zmq.h>\nZMQKIT_V ZMQ_VERSION_MAJOR ZMQ_VERSION_MINOR ZMQ_VERSION_PATCH\n")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("no libzmq headers (zmq.h) for %s: install libzmq's development files (Debian: libzmq3-dev)", cc)
	}
	m := versionLine.FindSubmatch(out)
	if m == nil {
		return "", errors.New("zmq.h gives no ZMQ_VERSION")
	}
	return string(m[1]) + "." + string(m[2]) + "." + string(m[3]), nil
}

func compileAnchor(ctx context.Context, cc, dir, bin string) error {
	src, err := os.CreateTemp(dir, "anchor-*.c")
	if err != nil {
		return err
	}
	defer os.Remove(src.Name())
	if _, err := src.Write(anchorSource); err != nil {
		src.Close()
		return err
	}
	src.Close()
	tmp := bin + ".tmp" + strconv.Itoa(os.Getpid())
	defer os.Remove(tmp)
	cmd := exec.CommandContext(ctx, cc, "-O2", "-o", tmp, src.Name(), "-lzmq")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("compiling the anchor failed: %s", lastLine(strings.TrimSpace(string(out))))
	}
	return os.Rename(tmp, bin) // atomic: a concurrent run finds a whole file or none
}

// anchorRSSEnv asks the anchor for its own peak RSS (see anchor.c).
const anchorRSSEnv = "ZMQKIT_ANCHOR_RSS=1"

// startBench starts the anchor in its pub/sub mode for s.
func (n *Native) startBench(ctx context.Context, s spec) (*proc, error) {
	switch s.Role {
	case "send":
		return startChild(ctx, "libzmq C pub", []string{n.Path, "pub", s.Listen, strconv.Itoa(s.Size), strconv.Itoa(s.Count),
			strconv.FormatFloat(s.Rate, 'f', 0, 64), strconv.Itoa(s.Warm)}, anchorRSSEnv)
	case "recv":
		return startChild(ctx, "libzmq C sub", []string{n.Path, "sub", s.Dial, strconv.Itoa(s.Size), strconv.Itoa(s.Count),
			strconv.Itoa(max(s.Subs, 1))}, anchorRSSEnv)
	}
	return nil, fmt.Errorf("libzmq C: no %s role for %s", s.Role, s.Pattern)
}

// perfPair runs the anchor's local and remote halves of a perf tool over a
// fresh endpoint and returns the local's and the remote's output.
func (n *Native) perfPair(ctx context.Context, r *runner, local, remote, tr string, size, count int) (lp, rp *proc, lout, rout string, err error) {
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	ep, err := r.endpoint(tr, true)
	if err != nil {
		return nil, nil, "", "", err
	}
	args := []string{ep, strconv.Itoa(size), strconv.Itoa(count)}
	if lp, err = startChild(ctx, "libzmq C "+local, append([]string{n.Path, local}, args...), anchorRSSEnv); err != nil {
		return nil, nil, "", "", err
	}
	if rp, err = startChild(ctx, "libzmq C "+remote, append([]string{n.Path, remote}, args...), anchorRSSEnv); err != nil {
		lp.kill()
		return nil, nil, "", "", err
	}
	collect := func(p *proc) string {
		var b strings.Builder
		for l := range p.lines {
			b.WriteString(l + "\n")
		}
		return b.String()
	}
	rout = collect(rp)
	if err = rp.finish(ctx); err != nil {
		lp.kill() // it would wait for ever for what the remote never sent
		return lp, rp, "", rout, err
	}
	lout = collect(lp)
	return lp, rp, lout, rout, lp.finish(ctx)
}

var (
	thrLine = regexp.MustCompile(`mean throughput: (\d+) \[msg/s\]`)
	latLine = regexp.MustCompile(`average latency: ([\d.]+) \[us\]`)
	p50Line = regexp.MustCompile(`p50 roundtrip: ([\d.]+) \[us\]`)
	p99Line = regexp.MustCompile(`p99 roundtrip: ([\d.]+) \[us\]`)
)

// throughput is one PUSH→PULL sample through the anchor's local_thr and remote_thr.
func (n *Native) throughput(ctx context.Context, r *runner, tr string, size, count int) Row {
	row := Row{System: n.Label(), Pattern: "pushpull", Transport: tr, Size: size, Processes: 2}
	lp, rp, lout, _, err := n.perfPair(ctx, r, "local_thr", "remote_thr", tr, size, count)
	m := thrLine.FindStringSubmatch(lout)
	if err == nil && m == nil {
		err = fmt.Errorf("local_thr printed no throughput: %q", lout)
	}
	if err != nil {
		row.Err = err.Error()
		return row
	}
	rate, _ := strconv.ParseFloat(m[1], 64)
	row.Sent, row.Received, row.RecvRate = uint64(count), uint64(count), rate
	row.RecvMBps = mb(rate, size)
	row.usage(rp, lp, nil)
	return row
}

// latency is one round-trip sample through local_lat and remote_lat
// (REQ→REP), or their ROUTER and DEALER forms for pattern
// "dealerrouter-rt": the mean as libzmq's tools print it, and the p50 and
// p99 of the trips as the anchor adds them.
func (n *Native) latency(ctx context.Context, r *runner, pattern, tr string, size, trips int) Row {
	row := Row{System: n.Label(), Pattern: pattern, Transport: tr, Size: size, Processes: 2}
	local, remote := "local_lat", "remote_lat"
	if pattern == PatternDealerRouterTrips {
		local, remote = "local_lat_router", "remote_lat_dealer"
	}
	lp, rp, _, rout, err := n.perfPair(ctx, r, local, remote, tr, size, trips)
	m := latLine.FindStringSubmatch(rout)
	p50, p99 := p50Line.FindStringSubmatch(rout), p99Line.FindStringSubmatch(rout)
	if err == nil && (m == nil || p50 == nil || p99 == nil) {
		err = fmt.Errorf("%s printed no latency: %q", remote, rout)
	}
	if err != nil {
		row.Err = err.Error()
		return row
	}
	oneWay, _ := strconv.ParseFloat(m[1], 64)
	rtt := 2 * oneWay
	l := &Latency{Count: int64(trips), Avg: rtt}
	l.P50, _ = strconv.ParseFloat(p50[1], 64)
	l.P99, _ = strconv.ParseFloat(p99[1], 64)
	row.latencyFrom(childResult{Received: uint64(trips), ElapsedNs: int64(rtt * 1e3 * float64(trips)), Latency: l}, size)
	row.usage(rp, lp, nil)
	return row
}
