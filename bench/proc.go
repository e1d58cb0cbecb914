package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// proc is a child process as the parent sees it: its stdout lines, its
// stdin for words, and its resource use once it has exited.
type proc struct {
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string // closed when stdout ends
	stderr *lockedBuffer
	waited chan struct{}
	err    error // from Wait, valid once waited is closed
	cpu    time.Duration
	rss    int64 // peak RSS from wait4 (see childUsage)
	// ownRSS is the peak RSS of the last result line the child wrote,
	// noted as its output is read (set before waited is closed), so a
	// child whose lines nobody reads (a device, an echo) reports its own.
	ownRSS int64
}

// peakRSS is the child's peak RSS once it has exited: its own report (a
// result line, or the anchor's stderr line) when it made one.
func (p *proc) peakRSS() int64 {
	<-p.waited
	if p.ownRSS > 0 {
		return p.ownRSS
	}
	if own := anchorRSS(p.stderr.String()); own > 0 {
		return own
	}
	return p.rss
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 8<<10 {
		return len(p), nil // enough to say what went wrong
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.TrimSpace(l.b.String())
}

// startChild starts argv (with env added to ours) and reads its lines.
func startChild(ctx context.Context, name string, argv []string, env ...string) (*proc, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = 5 * time.Second
	p := &proc{name: name, cmd: cmd, lines: make(chan string, 16), stderr: &lockedBuffer{}, waited: make(chan struct{})}
	cmd.Stderr = p.stderr
	var err error
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			l := sc.Text()
			if res, found := strings.CutPrefix(l, "result "); found {
				var cr childResult
				if json.Unmarshal([]byte(res), &cr) == nil && cr.RSS > 0 {
					p.ownRSS = cr.RSS
				}
			}
			p.lines <- l
		}
		close(p.lines)
		p.err = cmd.Wait()
		p.cpu, p.rss = childUsage(cmd.ProcessState)
		close(p.waited)
	}()
	return p, nil
}

// startSpec starts a bench child of ours for s.
func (r *runner) startSpec(ctx context.Context, s spec) (*proc, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	return startChild(ctx, s.System+" "+s.Role, r.cfg.Command, ChildEnv+"="+string(b))
}

// expect waits for a line starting with prefix and returns the rest.
func (p *proc) expect(ctx context.Context, prefix string) (string, error) {
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				return "", p.failure("ended before saying " + strings.TrimSpace(prefix))
			}
			if rest, found := strings.CutPrefix(l, prefix); found {
				return strings.TrimSpace(rest), nil
			}
			if res, found := strings.CutPrefix(l, "result "); found {
				var cr childResult
				if json.Unmarshal([]byte(res), &cr) == nil && cr.Err != "" {
					return "", fmt.Errorf("%s: %s", p.name, cr.Err)
				}
			}
		case <-ctx.Done():
			return "", fmt.Errorf("%s: waiting for %q: %w", p.name, strings.TrimSpace(prefix), ctx.Err())
		}
	}
}

// result waits for a child of ours to report.
func (p *proc) result(ctx context.Context) (childResult, error) {
	l, err := p.expect(ctx, "result ")
	if err != nil {
		return childResult{}, err
	}
	var cr childResult
	if err := json.Unmarshal([]byte(l), &cr); err != nil {
		return cr, fmt.Errorf("%s: bad result line: %w", p.name, err)
	}
	if cr.Err != "" {
		return cr, fmt.Errorf("%s: %s", p.name, cr.Err)
	}
	return cr, nil
}

func (p *proc) say(word string) { io.WriteString(p.stdin, word+"\n") }

// finish closes stdin (a child's cue to stop) and waits for the exit.
func (p *proc) finish(ctx context.Context) error {
	p.stdin.Close()
	go p.drain()
	select {
	case <-p.waited:
	case <-ctx.Done():
		p.cmd.Process.Kill()
		<-p.waited
		return fmt.Errorf("%s: %w", p.name, ctx.Err())
	}
	if p.err != nil {
		return p.failure(p.err.Error())
	}
	return nil
}

// kill ends a child that is no longer wanted (after an error elsewhere).
func (p *proc) kill() {
	p.stdin.Close()
	go p.drain()
	select {
	case <-p.waited:
	case <-time.After(2 * time.Second):
		p.cmd.Process.Kill()
		<-p.waited
	}
}

// drain discards the lines nobody waits for, so the reader can finish.
func (p *proc) drain() {
	for range p.lines {
	}
}

func (p *proc) failure(what string) error {
	if s := p.stderr.String(); s != "" {
		return fmt.Errorf("%s: %s: %s", p.name, what, lastLine(s))
	}
	return errors.New(p.name + ": " + what)
}

// anchorRSS is the peak RSS the C anchor reports on stderr when asked
// (ZMQKIT_ANCHOR_RSS=1), in bytes; 0 if it did not.
func anchorRSS(stderr string) int64 {
	for _, l := range strings.Split(stderr, "\n") {
		if v, ok := strings.CutPrefix(l, "anchor: peak RSS "); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(v, " kB"), 10, 64)
			if err == nil {
				return kb * 1024
			}
		}
	}
	return 0
}

func lastLine(s string) string {
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
