// Command zmqkit speaks to ZeroMQ sockets from the shell, for debugging a
// topology: send messages into it, print what comes out.
//
//	zmqkit recv --type pull --bind tcp://127.0.0.1:5555
//	zmqkit send --type push --connect tcp://127.0.0.1:5555 --count 10 --size 16
//	printf 'hello\tworld\n' | zmqkit send --type push --connect tcp://127.0.0.1:5555
//
// Run "zmqkit help" for the commands and "zmqkit help <command>" for the
// flags of one.
//
// Conventions every command keeps: messages on stdout and stdin are one per
// line, frames separated by a tab, bytes escaped as format.go describes;
// each endpoint a command binds is announced on stderr by a line
// "listening <endpoint>" (with the real port for tcp port 0 or *), which is
// how a script or test learns the port of "--bind tcp://127.0.0.1:0"; an
// error is one line "zmqkit <command>: <reason>" on stderr.
//
// # Adding a command
//
// A command lives in a file of its own: a function with the runFunc
// signature, plus one line in the commands table below. The function parses
// its flags with newFlagSet and parseFlags (one FlagSet per command), and
// ends with report, which prints at most one line on stderr and turns the
// error into the exit status: 0 success or interrupted, 1 failure at run
// time, 2 bad usage (see usageError). A command that owns a socket takes
// the shared --bind/--connect/--verbose flags from endpointFlags and opens
// its socket with openSocket (endpoints.go). main cancels ctx on SIGINT or
// SIGTERM; a command then closes its sockets and returns 0.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
)

// runFunc runs one command with the arguments after its name.
type runFunc func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int

type command struct {
	name    string
	summary string
	run     runFunc
}

// commands is the dispatch table, in the order "zmqkit help" lists it.
var commands = []command{
	{"send", "send messages: generated (--count) or one per stdin line", runSend},
	{"recv", "receive messages and print one per line", runRecv},
	{"forwarder", forwarderKind.summary, runForwarder},
	{"queue", queueKind.summary, runQueue},
	{"streamer", streamerKind.summary, runStreamer},
	{"broker", "run a Majordomo (MDP/0.1) service broker", runBroker},
	{"web", "serve a browser page showing a publisher's messages live (zmqkit.js)", runWeb},
	{"keygen", "print a new CURVE key pair (public and secret, Z85)", runKeygen},
	{"bench", "measure throughput and latency (and libzmq's perf tools)", runBench},
	{"version", "print the version and the commit this binary was built from", runVersion},
}

func lookup(name string) (command, bool) {
	for _, c := range commands {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second signal kills at once, should closing hang
	}()
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches to a command and returns the exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		printUsage(stderr)
		return 2
	}
	switch name := args[0]; name {
	case "--version", "-version":
		return runVersion(ctx, args[1:], stdin, stdout, stderr)
	case "help", "-h", "-help", "--help":
		if name == "help" && len(args) > 1 {
			c, ok := lookup(args[1])
			if !ok {
				fmt.Fprintf(stderr, "zmqkit: unknown command %q (run 'zmqkit help')\n", args[1])
				return 2
			}
			return c.run(ctx, []string{"-h"}, stdin, stdout, stderr)
		}
		printUsage(stdout)
		return 0
	default:
		c, ok := lookup(name)
		if !ok {
			fmt.Fprintf(stderr, "zmqkit: unknown command %q (run 'zmqkit help')\n", name)
			return 2
		}
		return c.run(ctx, args[1:], stdin, stdout, stderr)
	}
}

func printUsage(w io.Writer) {
	var b strings.Builder
	b.WriteString("zmqkit speaks to ZeroMQ sockets from the shell.\n\nUsage:\n  zmqkit <command> [flags]\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(&b, "  %-9s %s\n", "help", "this help; 'zmqkit help <command>' for a command's flags")
	b.WriteString("\n'zmqkit --version' is 'zmqkit version'.\n")
	b.WriteString("\nExit status: 0 done (or interrupted by SIGINT/SIGTERM), 1 failure, 2 bad usage.\n")
	io.WriteString(w, b.String())
}

// usageError marks an error as bad usage: exit status 2.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error {
	return &usageError{fmt.Errorf(format, a...)}
}

// errHelpShown: -h was given and the help printed; exit 0.
var errHelpShown = errors.New("help shown")

// report prints err, if any, as one line "zmqkit <cmd>: <err>" on stderr
// and returns the exit status for it.
func report(stderr io.Writer, cmd string, err error) int {
	if err == nil || errors.Is(err, errHelpShown) {
		return 0
	}
	msg := strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(err.Error())
	fmt.Fprintf(stderr, "zmqkit %s: %s\n", cmd, msg)
	var u *usageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}

// newFlagSet returns a FlagSet that prints nothing by itself: parseFlags
// reports errors in one line and help on stdout.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("zmqkit "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parseFlags parses a command's flags. On -h it prints synopsis and the
// flags on stdout and returns errHelpShown; it refuses positional arguments.
func parseFlags(fs *flag.FlagSet, synopsis string, args []string, stdout io.Writer) error {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		var b strings.Builder
		b.WriteString(synopsis)
		if hasFlags(fs) {
			b.WriteString("\nFlags:\n")
			fs.SetOutput(&b)
			fs.PrintDefaults()
			fs.SetOutput(io.Discard)
		}
		io.WriteString(stdout, b.String())
		return errHelpShown
	}
	if err != nil {
		return usagef("%v (see '%s -h')", err, fs.Name())
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q (see '%s -h')", fs.Arg(0), fs.Name())
	}
	return nil
}

// hasFlags reports whether fs defines any flag: a command without flags
// gets no empty "Flags:" heading in its help.
func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// flagSet reports whether the flag was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	found := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			found = true
		}
	})
	return found
}

// lockedWriter serializes writes from a command and its socket watchers.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func locked(w io.Writer) io.Writer {
	if _, ok := w.(*lockedWriter); ok {
		return w
	}
	return &lockedWriter{w: w}
}
