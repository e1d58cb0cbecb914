//go:build linux

package multihost

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// lab is a set of network namespaces, one per "host", each with one
// interface (eth0, 10.77.0.N/24) on a bridge that lives in a namespace of
// its own: nothing is added to the namespace the test runs in, and every
// address exists only inside the lab. Names carry a random id, so labs of
// concurrent runs do not meet; Cleanup deletes every namespace, whatever
// happened.
type lab struct {
	t     *testing.T
	id    string
	br    string // the bridge's namespace
	hosts map[string]*hostNS
	n     int
}

type hostNS struct {
	name string // the role's name in the test ("w1")
	ns   string // the namespace
	ip   string
	veth string // its bridge-side interface, in the bridge's namespace
}

// newLab creates the bridge namespace, or fails (with -tags interop) or
// skips the test when namespaces cannot be created here.
func newLab(t *testing.T) *lab {
	t.Helper()
	var b [3]byte
	_, _ = rand.Read(b[:])
	l := &lab{t: t, id: "zk" + hex.EncodeToString(b[:]), hosts: map[string]*hostNS{}}
	l.br = l.id + "-br"
	if out, err := exec.Command("ip", "netns", "add", l.br).CombinedOutput(); err != nil {
		msg := fmt.Sprintf("cannot create a network namespace (needs root and iproute2): %v: %s", err, out)
		if requireNamespaces {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	t.Cleanup(l.destroy)
	l.ip(l.br, "link", "add", "br0", "type", "bridge")
	l.ip(l.br, "link", "set", "br0", "up")
	return l
}

// ip runs "ip -n ns args...", failing the test if it fails.
func (l *lab) ip(ns string, args ...string) {
	l.t.Helper()
	l.run("ip", append([]string{"-n", ns}, args...)...)
}

func (l *lab) run(name string, args ...string) {
	l.t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		l.t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
}

// host adds a namespace with address 10.77.0.octet on the bridge.
func (l *lab) host(name string, octet int) *hostNS {
	l.t.Helper()
	l.n++
	h := &hostNS{name: name, ns: l.id + "-" + name, ip: fmt.Sprintf("10.77.0.%d", octet), veth: fmt.Sprintf("v%d", l.n)}
	l.run("ip", "netns", "add", h.ns)
	l.hosts[name] = h // registered first: destroy removes it even if what follows fails
	l.ip(l.br, "link", "add", h.veth, "type", "veth", "peer", "name", "eth0", "netns", h.ns)
	l.ip(l.br, "link", "set", h.veth, "master", "br0")
	l.ip(l.br, "link", "set", h.veth, "up")
	l.ip(h.ns, "link", "set", "lo", "up")
	l.ip(h.ns, "addr", "add", h.ip+"/24", "dev", "eth0")
	l.ip(h.ns, "link", "set", "eth0", "up")
	return h
}

func (l *lab) destroy() {
	for _, h := range l.hosts {
		_ = exec.Command("ip", "netns", "del", h.ns).Run()
	}
	_ = exec.Command("ip", "netns", "del", l.br).Run()
}

// inNS runs f on a thread that has entered h's network namespace: sockets
// f opens belong to that namespace for good. The thread returns to the
// test's namespace afterwards, or is discarded if it cannot.
func inNS(h *hostNS, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		self, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer self.Close()
		target, err := os.Open("/run/netns/" + h.ns)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer target.Close()
		if err := setns(target); err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		ferr := f()
		if err := setns(self); err != nil {
			// Still locked: the thread ends with this goroutine.
			errc <- fmt.Errorf("back from %s: %w", h.ns, err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

func setns(f *os.File) error { return unix.Setns(int(f.Fd()), unix.CLONE_NEWNET) }

// listenIn opens listeners inside h (for an in-process server).
func listenIn(h *hostNS) (func(string, string) (net.PacketConn, error), func(string, string) (net.Listener, error)) {
	return func(network, addr string) (c net.PacketConn, err error) {
			err = inNS(h, func() error { c, err = net.ListenPacket(network, addr); return err })
			return c, err
		}, func(network, addr string) (ln net.Listener, err error) {
			err = inNS(h, func() error { ln, err = net.Listen(network, addr); return err })
			return ln, err
		}
}

// proc is a process running in a namespace: the test binary in a role.
type proc struct {
	name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string // stdout, line by line; closed at EOF
	done  chan struct{}
	err   error
}

// start runs the test binary as role inside h, with env; Cleanup kills it.
func (l *lab) start(h *hostNS, role string, env ...string) *proc {
	l.t.Helper()
	exe, err := os.Executable()
	if err != nil {
		l.t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", h.ns, exe)
	cmd.Env = append(os.Environ(), append([]string{roleEnv + "=" + role}, env...)...)
	cmd.Stderr = &prefixWriter{t: l.t, prefix: h.name + ": "}
	p := &proc{name: h.name, cmd: cmd, lines: make(chan string, 1<<16), done: make(chan struct{})}
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		l.t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		l.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		l.t.Fatalf("starting %s in %s: %v", role, h.ns, err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(p.lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
	}()
	go func() {
		wg.Wait()
		p.err = cmd.Wait()
		close(p.done)
	}()
	l.t.Cleanup(func() { p.kill(syscall.SIGKILL) })
	return p
}

// kill signals the process and waits (bounded) for it to end.
func (p *proc) kill(sig syscall.Signal) {
	if p.cmd.Process != nil {
		_ = p.cmd.Process.Signal(sig)
	}
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
	}
}

// prefixWriter logs a process's stderr through t, line by line.
type prefixWriter struct {
	mu     sync.Mutex
	t      *testing.T
	prefix string
	buf    []byte
}

func (w *prefixWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, b...)
	for {
		i := strings.IndexByte(string(w.buf), '\n')
		if i < 0 {
			return len(b), nil
		}
		w.t.Log(w.prefix + string(w.buf[:i]))
		w.buf = w.buf[i+1:]
	}
}
