// Package zmqk8s resolves a Kubernetes Service to the addresses of its ready
// pods, for zmqkit sockets that dial a set of endpoints: a socket given this
// resolver under the scheme "k8s" dials k8s://NAMESPACE/SERVICE:PORT and
// keeps one connection to every ready pod behind the Service, adding and
// removing them as the Service's EndpointSlices change.
//
// The resolver watches the EndpointSlices (discovery.k8s.io/v1) labelled
// kubernetes.io/service-name=SERVICE in NAMESPACE through a client-go
// informer: the API server tells it of every change, nothing is polled. The
// pod needs RBAC to list and watch endpointslices in that namespace (a Role
// and a RoleBinding; deploy/ in the zmqkit repository has one).
//
// It lives in a module of its own so that client-go never enters the build
// of a program that imports only zmqkit's core.
package zmqk8s

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/go-logr/logr"
	"github.com/zmqkit/zmqkit/sockets"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
)

// DefaultMaxEndpoints is how many endpoints one Watch reports at most unless
// WithMaxEndpoints says otherwise.
const DefaultMaxEndpoints = 1000

// Resolver follows Kubernetes Services for zmqkit sockets. It implements
// sockets.Resolver; one Resolver serves any number of sockets and targets,
// each Watch with an informer of its own.
type Resolver struct {
	client    kubernetes.Interface
	namespace string
	max       int
	log       *slog.Logger

	updates, errs, truncated atomic.Uint64
}

var _ sockets.Resolver = (*Resolver)(nil)

// An Option configures a Resolver.
type Option func(*Resolver)

// WithNamespace sets the namespace of a target that names none
// (k8s://SERVICE:PORT); without it such a target is refused. In a pod, the
// file /var/run/secrets/kubernetes.io/serviceaccount/namespace holds the
// pod's own.
func WithNamespace(ns string) Option { return func(r *Resolver) { r.namespace = ns } }

// WithMaxEndpoints caps the set one Watch reports (default
// DefaultMaxEndpoints; n <= 0 keeps the default). Past the cap the set is
// cut to the first n endpoints in address order, so that the members kept
// stay the same from one update to the next; each cut is logged and
// counted (Stats.Truncated).
func WithMaxEndpoints(n int) Option {
	return func(r *Resolver) {
		if n > 0 {
			r.max = n
		}
	}
}

// WithLogger sets where the resolver, and client-go's informer under it,
// log (default: nowhere). client-go's verbose levels arrive below
// slog.LevelDebug.
func WithLogger(l *slog.Logger) Option {
	return func(r *Resolver) {
		if l != nil {
			r.log = l
		}
	}
}

// NewResolver returns a resolver that asks the API server behind client
// (rest.InClusterConfig and kubernetes.NewForConfig in a pod).
func NewResolver(client kubernetes.Interface, opts ...Option) *Resolver {
	r := &Resolver{client: client, max: DefaultMaxEndpoints, log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Stats counts what a Resolver reported, over all its watches.
type Stats struct {
	Updates   uint64 // endpoint sets reported
	Errors    uint64 // failures reported (update(nil, err))
	Truncated uint64 // sets cut to the cap (WithMaxEndpoints)
}

// Stats returns a snapshot of the resolver's counters.
func (r *Resolver) Stats() Stats {
	return Stats{Updates: r.updates.Load(), Errors: r.errs.Load(), Truncated: r.truncated.Load()}
}

// target is a parsed NAMESPACE/SERVICE:PORT.
type target struct {
	namespace, service string
	port               int32  // a number given in the target, or 0
	portName           string // a port name given in the target, or ""
}

func (t target) String() string {
	p := t.portName
	if p == "" {
		p = strconv.Itoa(int(t.port))
	}
	return t.namespace + "/" + t.service + ":" + p
}

func (r *Resolver) parse(s string) (target, error) {
	bad := func(why string, args ...any) (target, error) {
		return target{}, fmt.Errorf("%w: k8s://%s: %s (want k8s://NAMESPACE/SERVICE:PORT)", sockets.ErrBadEndpoint, s, fmt.Sprintf(why, args...))
	}
	var t target
	rest := s
	if ns, after, ok := strings.Cut(s, "/"); ok {
		t.namespace, rest = ns, after
	} else {
		t.namespace = r.namespace
	}
	if t.namespace == "" {
		return bad("no namespace, and the resolver has none (WithNamespace)")
	}
	if errs := validation.IsDNS1123Label(t.namespace); len(errs) > 0 {
		return bad("namespace %q: %s", t.namespace, errs[0])
	}
	svc, port, ok := strings.Cut(rest, ":")
	if !ok || port == "" {
		return bad("no port")
	}
	if errs := validation.IsDNS1035Label(svc); len(errs) > 0 {
		return bad("service %q: %s", svc, errs[0])
	}
	t.service = svc
	if port[0] >= '0' && port[0] <= '9' {
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil || n == 0 {
			return bad("port %q: want 1 to 65535 or a port name", port)
		}
		t.port = int32(n)
	} else {
		if errs := validation.IsValidPortName(port); len(errs) > 0 {
			return bad("port name %q: %s", port, errs[0])
		}
		t.portName = port
	}
	return t, nil
}

// Watch reports the ready endpoints of the Service that target names
// (NAMESPACE/SERVICE:PORT, or SERVICE:PORT with WithNamespace) as
// tcp://IP:PORT, until ctx ends; it then stops its informer, waits for it,
// and returns nil. A target it cannot parse is reported to update and
// returned at once, wrapping sockets.ErrBadEndpoint.
//
// PORT is a number, dialed on every ready address, or the name of one of
// the Service's ports, looked up in each EndpointSlice (it carries the
// pods' port for that name, which may differ from slice to slice); a slice
// without that TCP port contributes nothing. An endpoint counts when its
// Ready condition is true or unknown and it is not terminating; its first
// address is used (Kubernetes calls the others fungible). IPv4 and IPv6
// slices both count; FQDN slices do not. An address in several slices is
// reported once, and the set is in address order, IPv4 first.
//
// The first report comes once the informer has listed the slices, even
// when there are none (an empty set). A failed list or watch (RBAC refusing
// it, the API server away) is reported as update(nil, err), and the
// informer retries with back-off; the set it reports next is its view
// after the retry. refresh is ignored: the API server tells of changes.
func (r *Resolver) Watch(ctx context.Context, tgt string, refresh <-chan struct{}, update func([]string, error)) error {
	t, err := r.parse(tgt)
	if err != nil {
		r.errs.Add(1)
		update(nil, err)
		return err
	}
	log := r.log.With("target", "k8s://"+t.String())
	ctx, cancel := context.WithCancel(klog.NewContext(ctx, logr.FromSlogHandler(log.Handler())))
	defer cancel()

	selector := discoveryv1.LabelServiceName + "=" + t.service
	api := r.client.DiscoveryV1().EndpointSlices(t.namespace)
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.LabelSelector = selector
			return api.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.LabelSelector = selector
			return api.Watch(ctx, o)
		},
	}
	// The client tells the reflector whether it can stream the initial
	// list (WatchList); client-go's fake cannot.
	inf := cache.NewSharedIndexInformer(cache.ToListWatcherWithWatchListSemantics(lw, r.client),
		&discoveryv1.EndpointSlice{}, 0, cache.Indexers{})
	// What the informer caches is what the set needs: no managed fields
	// or annotations (which can be large) are kept.
	_ = inf.SetTransform(func(obj any) (any, error) {
		if s, ok := obj.(*discoveryv1.EndpointSlice); ok {
			s.ManagedFields, s.Annotations = nil, nil
		}
		return obj, nil
	})
	changed := make(chan struct{}, 1)
	poke := func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	failed := make(chan error, 1)
	_ = inf.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *cache.Reflector, err error) {
		// A watch the server ends (EOF, expired resource version) is
		// routine: the reflector lists again. Anything else is a failure
		// worth reporting; the newest one wins.
		if err == io.EOF || err == io.ErrUnexpectedEOF || apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
			return
		}
		select {
		case <-failed:
		default:
		}
		failed <- err
	})
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { poke() },
		UpdateFunc: func(any, any) { poke() },
		DeleteFunc: func(any) { poke() },
	}); err != nil {
		return fmt.Errorf("zmqk8s: k8s://%s: %w", t, err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { inf.RunWithContext(ctx) })
	defer wg.Wait()

	var (
		synced = inf.HasSyncedChecker().Done()
		ready  bool     // the informer has listed once
		last   []string // the set reported last
		sent   bool     // a set has been reported, and no error since
	)
	for {
		select {
		case <-ctx.Done():
			cancel()
			return nil
		case <-refresh:
		case err := <-failed:
			r.errs.Add(1)
			log.Warn("zmqk8s: endpointslices list/watch failed; the informer retries", "err", err)
			update(nil, fmt.Errorf("zmqk8s: k8s://%s: %w", t, err))
			sent = false
		case <-synced:
			synced, ready = nil, true
			poke()
		case <-changed:
			if !ready {
				continue
			}
			set, dropped := r.endpoints(t, inf.GetStore().List())
			if sent && slices.Equal(set, last) {
				continue
			}
			// Counted once per set reported, however many events led to it.
			if dropped > 0 {
				r.truncated.Add(1)
				log.Warn("zmqk8s: endpoint set over the cap; cut", "cap", r.max, "dropped", dropped)
			}
			last, sent = set, true
			r.updates.Add(1)
			log.Debug("zmqk8s: endpoints", "n", len(set))
			update(slices.Clone(set), nil)
		}
	}
}

// endpoints is the de-duplicated, capped set of ready endpoints in objs,
// in address order (IPv4 first), and how many the cap left out.
func (r *Resolver) endpoints(t target, objs []any) ([]string, int) {
	seen := map[netip.AddrPort]struct{}{}
	for _, o := range objs {
		s, ok := o.(*discoveryv1.EndpointSlice)
		if !ok || s.Labels[discoveryv1.LabelServiceName] != t.service || s.Namespace != t.namespace && s.Namespace != "" {
			continue
		}
		if s.AddressType != discoveryv1.AddressTypeIPv4 && s.AddressType != discoveryv1.AddressTypeIPv6 {
			continue
		}
		port, ok := slicePort(s, t)
		if !ok {
			continue
		}
		for _, ep := range s.Endpoints {
			if !ready(ep) || len(ep.Addresses) == 0 {
				continue
			}
			a, err := netip.ParseAddr(ep.Addresses[0])
			if err != nil || a.Zone() != "" || a.Is4() != (s.AddressType == discoveryv1.AddressTypeIPv4) && !a.Is4In6() {
				continue
			}
			seen[netip.AddrPortFrom(a.Unmap(), port)] = struct{}{}
		}
	}
	addrs := make([]netip.AddrPort, 0, len(seen))
	for a := range seen {
		addrs = append(addrs, a)
	}
	slices.SortFunc(addrs, netip.AddrPort.Compare)
	dropped := 0
	if len(addrs) > r.max {
		addrs, dropped = addrs[:r.max], len(addrs)-r.max
	}
	set := make([]string, len(addrs))
	for i, a := range addrs {
		set[i] = "tcp://" + a.String()
	}
	return set, dropped
}

// slicePort is the port to dial in slice s: the target's number, or the
// number s gives the target's port name (TCP only).
func slicePort(s *discoveryv1.EndpointSlice, t target) (uint16, bool) {
	if t.portName == "" {
		return uint16(t.port), true
	}
	for _, p := range s.Ports {
		if p.Name == nil || *p.Name != t.portName || p.Port == nil {
			continue
		}
		if p.Protocol != nil && *p.Protocol != corev1.ProtocolTCP {
			continue
		}
		if *p.Port < 1 || *p.Port > 65535 {
			return 0, false
		}
		return uint16(*p.Port), true
	}
	return 0, false
}

// ready tells whether an endpoint takes traffic: Ready true or unknown
// (the API's reading of a nil condition), and not terminating.
func ready(ep discoveryv1.Endpoint) bool {
	c := ep.Conditions
	if c.Ready != nil && !*c.Ready {
		return false
	}
	return c.Terminating == nil || !*c.Terminating
}
