package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ipcSocketName is the file ipc://* binds inside the directory it makes.
const ipcSocketName = "socket"

// listenUniqueIPC binds ipc://* as libzmq does: a socket file in a fresh
// private directory under the system's temporary directory ($TMPDIR), so no
// two binds share a path. The directory goes with the listener
// (Listener.removeTmpDir); the socket file itself is unlinked by the
// listener's Close.
func listenUniqueIPC() (net.Listener, string, error) {
	dir, err := os.MkdirTemp("", "zmqkit-ipc-")
	if err != nil {
		return nil, "", err
	}
	ln, err := net.Listen("unix", filepath.Join(dir, ipcSocketName))
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, "", err
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(true)
	return ln, dir, nil
}

// removeTmpDir removes the directory ipc://* made, once its socket file
// is gone.
func (l *Listener) removeTmpDir() {
	if l.tmpDir != "" {
		_ = os.Remove(filepath.Join(l.tmpDir, ipcSocketName))
		_ = os.Remove(l.tmpDir)
	}
}

// nameLookupTimeout bounds the host name lookup of a tcp bind.
const nameLookupTimeout = 10 * time.Second

// bindAddress turns the host:port of a tcp bind into one net.Listen takes.
// The host may be empty (every interface), an IP address, the name of a
// network interface (as libzmq's tcp://eth0:5555), or a host name. A name
// that is an interface's is bound to that interface's first IPv4 address,
// in the order the system lists them, or if it has none its first IPv6
// address; libzmq likewise takes the first address of the interface that
// fits (IPv4 unless ZMQ_IPV6). An interface name wins over a host name
// that is the same, as in libzmq.
func bindAddress(hostport string) (string, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return "", err
	}
	if host == "" || isIP(host) {
		return hostport, nil
	}
	if ifi, err := net.InterfaceByName(host); err == nil {
		ip, err := interfaceIP(ifi)
		if err != nil {
			return "", err
		}
		return net.JoinHostPort(ip, port), nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), nameLookupTimeout)
	defer cancel()
	if _, err := net.DefaultResolver.LookupHost(ctx, host); err != nil {
		return "", fmt.Errorf("%q is neither a network interface (have %s) nor a host name that resolves: %w",
			host, interfaceNames(), err)
	}
	return hostport, nil
}

func isIP(host string) bool {
	h, _, _ := strings.Cut(host, "%") // an IPv6 zone
	return net.ParseIP(h) != nil
}

// interfaceIP picks the address a bind to the interface takes.
func interfaceIP(ifi *net.Interface) (string, error) {
	addrs, err := ifi.Addrs()
	if err != nil {
		return "", fmt.Errorf("interface %q: %w", ifi.Name, err)
	}
	var v6 string
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		if ip4 := ipn.IP.To4(); ip4 != nil {
			return ip4.String(), nil
		}
		if v6 == "" {
			v6 = ipn.IP.String()
			if ipn.IP.IsLinkLocalUnicast() {
				v6 += "%" + ifi.Name
			}
		}
	}
	if v6 != "" {
		return v6, nil
	}
	return "", fmt.Errorf("interface %q: %w", ifi.Name, errNoInterfaceAddress)
}

var errNoInterfaceAddress = errors.New("has no IP address")

// interfaceNames lists the system's interfaces, for an error message.
func interfaceNames() string {
	ifs, err := net.Interfaces()
	if err != nil || len(ifs) == 0 {
		return "none"
	}
	names := make([]string, len(ifs))
	for i, ifi := range ifs {
		names[i] = ifi.Name
	}
	return strings.Join(names, ", ")
}
