package zmqk8s

// The repository's deploy/ manifests and Dockerfile, checked without a
// cluster or a container runtime: every manifest decodes strictly into the
// k8s.io/api types, what refers to something else finds it, and (in
// probes_linux_test.go) the devices run with the manifests' own arguments
// and answer their probes.

import (
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

const repoRoot = "../.."

// manifests is every object under deploy/, by kind.
type manifests struct {
	namespaces      []*corev1.Namespace
	services        []*corev1.Service
	serviceAccounts []*corev1.ServiceAccount
	deployments     []*appsv1.Deployment
	pdbs            []*policyv1.PodDisruptionBudget
	roles           []*rbacv1.Role
	roleBindings    []*rbacv1.RoleBinding
	n               int
}

var docSep = regexp.MustCompile(`(?m)^---[ \t]*$`)

// decodeStrict decodes one YAML document into the k8s.io/api type its
// apiVersion and kind name; a field that type does not have, a duplicate
// field or a kind it does not know is an error.
func (m *manifests) decodeStrict(doc []byte) error {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return err
	}
	var obj any
	switch tm.APIVersion + " " + tm.Kind {
	case "v1 Namespace":
		o := &corev1.Namespace{}
		m.namespaces, obj = append(m.namespaces, o), o
	case "v1 Service":
		o := &corev1.Service{}
		m.services, obj = append(m.services, o), o
	case "v1 ServiceAccount":
		o := &corev1.ServiceAccount{}
		m.serviceAccounts, obj = append(m.serviceAccounts, o), o
	case "apps/v1 Deployment":
		o := &appsv1.Deployment{}
		m.deployments, obj = append(m.deployments, o), o
	case "policy/v1 PodDisruptionBudget":
		o := &policyv1.PodDisruptionBudget{}
		m.pdbs, obj = append(m.pdbs, o), o
	case "rbac.authorization.k8s.io/v1 Role":
		o := &rbacv1.Role{}
		m.roles, obj = append(m.roles, o), o
	case "rbac.authorization.k8s.io/v1 RoleBinding":
		o := &rbacv1.RoleBinding{}
		m.roleBindings, obj = append(m.roleBindings, o), o
	default:
		return fmt.Errorf("apiVersion %q kind %q: not a kind this test knows (add it)", tm.APIVersion, tm.Kind)
	}
	m.n++
	return yaml.UnmarshalStrict(doc, obj)
}

// loadManifests reads every *.yaml under deploy/.
func loadManifests(t *testing.T) *manifests {
	t.Helper()
	m := &manifests{}
	var files []string
	require.NoError(t, filepath.WalkDir(filepath.Join(repoRoot, "deploy"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			files = append(files, p)
		}
		return err
	}))
	require.NotEmpty(t, files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		for i, doc := range docSep.Split(string(b), -1) {
			if onlyComments(doc) {
				continue
			}
			require.NoError(t, m.decodeStrict([]byte(doc)), "%s, document %d", f, i+1)
		}
	}
	return m
}

func onlyComments(doc string) bool {
	for _, l := range strings.Split(doc, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			return false
		}
	}
	return true
}

func TestManifestsDecodeStrictly(t *testing.T) {
	m := loadManifests(t)
	assert.Len(t, m.namespaces, 1)
	assert.Len(t, m.deployments, 4, "forwarder, queue, worker, subscriber")
	assert.Len(t, m.pdbs, 2)
	t.Logf("%d documents", m.n)

	// The decoder is strict: the same Deployment with a misspelt field,
	// or a field twice, is refused.
	b, err := os.ReadFile(filepath.Join(repoRoot, "deploy", "forwarder.yaml"))
	require.NoError(t, err)
	for _, bad := range []string{
		strings.Replace(string(b), "terminationGracePeriodSeconds:", "terminationGracePeriod:", 1),
		strings.Replace(string(b), "      containers:\n", "      containers:\n      containers:\n", 1),
	} {
		var got error
		for _, doc := range docSep.Split(bad, -1) {
			if !onlyComments(doc) {
				if err := (&manifests{}).decodeStrict([]byte(doc)); err != nil {
					got = err
				}
			}
		}
		assert.Error(t, got, "a manifest with an unknown or duplicate field decoded")
	}
}

// containerFlag is the value of --name in c's args, else of the
// environment variable the CLI reads it from (ZMQKIT_NAME), else "".
func containerFlag(c corev1.Container, name string) string {
	for i, a := range c.Args {
		if a == "--"+name && i+1 < len(c.Args) {
			return c.Args[i+1]
		}
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v
		}
	}
	env := "ZMQKIT_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
	for _, e := range c.Env {
		if e.Name == env {
			return e.Value
		}
	}
	return ""
}

func selects(sel map[string]string, pod map[string]string) bool {
	return len(sel) > 0 && labels.SelectorFromSet(sel).Matches(labels.Set(pod))
}

// podsOf is the deployments whose pods sel selects.
func (m *manifests) podsOf(ns string, sel map[string]string) []*appsv1.Deployment {
	var out []*appsv1.Deployment
	for _, d := range m.deployments {
		if d.Namespace == ns && selects(sel, d.Spec.Template.Labels) {
			out = append(out, d)
		}
	}
	return out
}

// containerPort finds port (a name or a number) among c's ports.
func containerPort(c corev1.Container, port intstr.IntOrString) (int32, bool) {
	for _, p := range c.Ports {
		if port.Type == intstr.String && p.Name == port.StrVal || port.Type == intstr.Int && p.ContainerPort == port.IntVal {
			return p.ContainerPort, true
		}
	}
	return 0, false
}

// isZmqkit tells whether c runs the zmqkit image (whose ENTRYPOINT is the
// zmqkit command, so that args are its arguments).
func isZmqkit(c corev1.Container) bool {
	return strings.Contains(c.Image, "/zmqkit:") && len(c.Command) == 0
}

// deviceCommands are the zmqkit commands that run a device.
var deviceCommands = []string{"forwarder", "queue", "streamer"}

func TestManifestsReferences(t *testing.T) {
	m := loadManifests(t)
	ns := m.namespaces[0].Name
	for _, d := range m.deployments {
		assert.Equal(t, ns, d.Namespace, "%s", d.Name)
		assert.True(t, selects(d.Spec.Selector.MatchLabels, d.Spec.Template.Labels), "%s: selector does not match its pods", d.Name)
		for _, c := range d.Spec.Template.Spec.Containers {
			assert.NotNil(t, c.Resources.Requests.Cpu(), "%s: cpu request", d.Name)
			assert.False(t, c.Resources.Requests.Memory().IsZero(), "%s: memory request", d.Name)
			assert.False(t, c.Resources.Limits.Memory().IsZero(), "%s: memory limit", d.Name)
			if sa := d.Spec.Template.Spec.ServiceAccountName; sa != "" {
				assert.True(t, slices.ContainsFunc(m.serviceAccounts, func(s *corev1.ServiceAccount) bool { return s.Name == sa }), "%s: no ServiceAccount %s", d.Name, sa)
			}
			if isZmqkit(c) && len(c.Args) > 0 && slices.Contains(deviceCommands, c.Args[0]) {
				checkDevice(t, m, d, c)
			}
			for _, v := range append(slices.Clone(c.Args), envValues(c)...) {
				switch {
				case strings.HasPrefix(v, "dns://"):
					checkDNSTarget(t, m, d.Name, strings.TrimPrefix(v, "dns://"))
				case strings.HasPrefix(v, "k8s://"):
					checkK8sTarget(t, m, d, strings.TrimPrefix(v, "k8s://"))
				}
			}
		}
	}
	for _, s := range m.services {
		pods := m.podsOf(s.Namespace, s.Spec.Selector)
		require.Len(t, pods, 1, "Service %s selects one Deployment's pods", s.Name)
		assert.Equal(t, corev1.ClusterIPNone, s.Spec.ClusterIP, "Service %s is headless: DNS and EndpointSlices name each pod", s.Name)
		for _, p := range s.Spec.Ports {
			_, ok := containerPort(pods[0].Spec.Template.Spec.Containers[0], p.TargetPort)
			assert.True(t, ok, "Service %s port %s: targetPort %s is not a port of %s", s.Name, p.Name, p.TargetPort.String(), pods[0].Name)
		}
	}
	for _, p := range m.pdbs {
		pods := m.podsOf(p.Namespace, p.Spec.Selector.MatchLabels)
		require.Len(t, pods, 1, "PodDisruptionBudget %s selects one Deployment's pods", p.Name)
		assert.True(t, p.Spec.MinAvailable != nil || p.Spec.MaxUnavailable != nil, "PodDisruptionBudget %s sets a bound", p.Name)
	}
	for _, b := range m.roleBindings {
		assert.True(t, slices.ContainsFunc(m.roles, func(r *rbacv1.Role) bool { return r.Name == b.RoleRef.Name && r.Namespace == b.Namespace }),
			"RoleBinding %s: no Role %s", b.Name, b.RoleRef.Name)
		for _, s := range b.Subjects {
			assert.True(t, slices.ContainsFunc(m.serviceAccounts, func(a *corev1.ServiceAccount) bool { return a.Name == s.Name && a.Namespace == s.Namespace }),
				"RoleBinding %s: no ServiceAccount %s/%s", b.Name, s.Namespace, s.Name)
		}
	}
}

func envValues(c corev1.Container) []string {
	var out []string
	for _, e := range c.Env {
		out = append(out, e.Value)
	}
	return out
}

// checkDevice checks what a device's pod spec promises about the process:
// probes on the metrics port's paths, the scrape annotations, and a grace
// period longer than the longest stop the CLI's flags allow.
func checkDevice(t *testing.T, m *manifests, d *appsv1.Deployment, c corev1.Container) {
	t.Helper()
	metrics := containerFlag(c, "metrics")
	require.NotEmpty(t, metrics, "%s: a device needs --metrics for its probes", d.Name)
	_, mport, _ := strings.Cut(metrics, ":")
	for name, p := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
		require.NotNil(t, p, "%s: no %s probe", d.Name, name)
		require.NotNil(t, p.HTTPGet, "%s: %s probe is not an HTTP GET", d.Name, name)
		n, ok := containerPort(c, p.HTTPGet.Port)
		require.True(t, ok, "%s: %s probe port %s is not a container port", d.Name, name, p.HTTPGet.Port.String())
		assert.Equal(t, mport, strconv.Itoa(int(n)), "%s: %s probe is not on --metrics %s", d.Name, name, metrics)
	}
	assert.Equal(t, "/healthz", c.LivenessProbe.HTTPGet.Path, "%s: liveness", d.Name)
	assert.Equal(t, "/readyz", c.ReadinessProbe.HTTPGet.Path, "%s: readiness", d.Name)
	a := d.Spec.Template.Annotations
	assert.Equal(t, "true", a["prometheus.io/scrape"], d.Name)
	assert.Equal(t, mport, a["prometheus.io/port"], "%s: scraped on the --metrics port", d.Name)
	assert.Equal(t, "/metrics", a["prometheus.io/path"], d.Name)

	// The longest stop: a preStop sleep, the drain (up to --linger), each
	// socket's close (up to --linger each, one after the other) and 1 s
	// for the metrics server's shutdown (cmd/zmqkit/device.go).
	linger := 5 * time.Second // the CLI's default
	if v := containerFlag(c, "linger"); v != "" {
		var err error
		linger, err = time.ParseDuration(v)
		require.NoError(t, err, "%s: --linger", d.Name)
	}
	sockets := 2
	for _, f := range []string{"capture", "control"} {
		if containerFlag(c, f) != "" {
			sockets++
		}
	}
	var preStop time.Duration
	if l := c.Lifecycle; l != nil && l.PreStop != nil && l.PreStop.Sleep != nil {
		preStop = time.Duration(l.PreStop.Sleep.Seconds) * time.Second
	}
	stop := preStop + linger + time.Duration(sockets)*linger + time.Second
	require.NotNil(t, d.Spec.Template.Spec.TerminationGracePeriodSeconds, "%s: terminationGracePeriodSeconds", d.Name)
	grace := time.Duration(*d.Spec.Template.Spec.TerminationGracePeriodSeconds) * time.Second
	assert.Greater(t, grace, stop, "%s: the grace period must outlast the longest stop", d.Name)
}

// checkDNSTarget checks a dns://NAME:PORT endpoint: NAME is a headless
// Service of deploy/ (SERVICE.NAMESPACE.svc.cluster.local) with that port.
func checkDNSTarget(t *testing.T, m *manifests, who, target string) {
	t.Helper()
	host, port, ok := strings.Cut(target, ":")
	require.True(t, ok, "%s: dns://%s has no port", who, target)
	svc, rest, _ := strings.Cut(host, ".")
	ns, suffix, _ := strings.Cut(rest, ".")
	assert.Equal(t, "svc.cluster.local", suffix, "%s: dns://%s", who, target)
	n, err := strconv.Atoi(port)
	require.NoError(t, err, "%s: dns://%s: port", who, target)
	s := m.service(ns, svc)
	require.NotNil(t, s, "%s: dns://%s: no Service %s/%s in deploy/", who, target, ns, svc)
	assert.Equal(t, corev1.ClusterIPNone, s.Spec.ClusterIP, "%s: dns://%s: a Service with a cluster IP answers DNS with that one address", who, target)
	assert.True(t, slices.ContainsFunc(s.Spec.Ports, func(p corev1.ServicePort) bool { return p.Port == int32(n) }), "%s: dns://%s: the Service has no port %d", who, target, n)
}

// checkK8sTarget checks a k8s://NAMESPACE/SERVICE:PORT endpoint: the
// Service exists with that port, and the pod's ServiceAccount may list and
// watch EndpointSlices in NAMESPACE.
func checkK8sTarget(t *testing.T, m *manifests, d *appsv1.Deployment, target string) {
	t.Helper()
	tg, err := NewResolver(nil).parse(target)
	require.NoError(t, err, "%s: k8s://%s", d.Name, target)
	s := m.service(tg.namespace, tg.service)
	require.NotNil(t, s, "%s: k8s://%s: no Service in deploy/", d.Name, target)
	assert.True(t, slices.ContainsFunc(s.Spec.Ports, func(p corev1.ServicePort) bool {
		return tg.portName != "" && p.Name == tg.portName || tg.port != 0 && p.TargetPort.IntVal == tg.port
	}), "%s: k8s://%s: the Service has no such port", d.Name, target)
	sa := d.Spec.Template.Spec.ServiceAccountName
	require.NotEmpty(t, sa, "%s: k8s:// needs a ServiceAccount allowed to watch EndpointSlices", d.Name)
	allowed := map[string]bool{}
	for _, b := range m.roleBindings {
		if b.Namespace != tg.namespace || !slices.ContainsFunc(b.Subjects, func(s rbacv1.Subject) bool {
			return s.Kind == "ServiceAccount" && s.Name == sa && s.Namespace == d.Namespace
		}) {
			continue
		}
		for _, r := range m.roles {
			if r.Name != b.RoleRef.Name || r.Namespace != b.Namespace {
				continue
			}
			for _, rule := range r.Rules {
				if slices.Contains(rule.APIGroups, "discovery.k8s.io") && slices.Contains(rule.Resources, "endpointslices") {
					for _, v := range rule.Verbs {
						allowed[v] = true
					}
				}
			}
		}
	}
	assert.True(t, allowed["list"] && allowed["watch"], "%s: ServiceAccount %s may not list and watch endpointslices in %s", d.Name, sa, tg.namespace)
}

func (m *manifests) service(ns, name string) *corev1.Service {
	for _, s := range m.services {
		if s.Namespace == ns && s.Name == name {
			return s
		}
	}
	return nil
}

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
	buildDir  string
)

// dockerBuild runs the Dockerfile's go build line as written (TARGETOS and
// TARGETARCH the host's), once per test binary, and returns the binary.
func dockerBuild(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		var dir string
		dir, buildErr = os.MkdirTemp("", "zmqkit-image-")
		if buildErr != nil {
			return
		}
		buildDir = dir
		var cmd string
		cmd, buildErr = dockerfileBuildCommand()
		if buildErr != nil {
			return
		}
		builtBin = filepath.Join(dir, "zmqkit")
		c := exec.Command("sh", "-c", strings.Replace(cmd, "/out/zmqkit", builtBin, 1))
		c.Dir = repoRoot
		c.Env = append(os.Environ(), "TARGETOS="+runtime.GOOS, "TARGETARCH="+runtime.GOARCH)
		if out, err := c.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("%s: %v\n%s", cmd, err, out)
		}
	})
	require.NoError(t, buildErr)
	return builtBin
}

// dockerfileBuildCommand is the shell command of the Dockerfile's RUN line
// that runs go build, without RUN's own --mount options.
func dockerfileBuildCommand() (string, error) {
	b, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		return "", err
	}
	var found []string
	for _, l := range strings.Split(string(b), "\n") {
		rest, ok := strings.CutPrefix(l, "RUN ")
		if !ok || !strings.Contains(rest, " go build ") {
			continue
		}
		f := strings.Fields(rest)
		for len(f) > 0 && strings.HasPrefix(f[0], "--") {
			f = f[1:]
		}
		found = append(found, strings.Join(f, " "))
	}
	if len(found) != 1 || strings.Count(found[0], "/out/zmqkit") != 1 {
		return "", fmt.Errorf("Dockerfile: want one RUN line with go build and -o /out/zmqkit, found %q", found)
	}
	return found[0], nil
}

// The image's build makes a static binary: no interpreter, no dynamic
// section, no shared library, cgo off, paths trimmed; and it runs.
func TestDockerfileBuild(t *testing.T) {
	bin := dockerBuild(t)
	f, err := elf.Open(bin)
	require.NoError(t, err)
	defer f.Close()
	for _, p := range f.Progs {
		assert.NotEqual(t, elf.PT_INTERP, p.Type, "an ELF interpreter: dynamically linked")
		assert.NotEqual(t, elf.PT_DYNAMIC, p.Type, "a dynamic segment")
	}
	assert.Nil(t, f.Section(".dynamic"), "a .dynamic section")
	libs, err := f.ImportedLibraries()
	require.NoError(t, err)
	assert.Empty(t, libs, "shared libraries")
	assert.Nil(t, f.Section(".symtab"), "-s: no symbol table")

	info, err := buildinfo.ReadFile(bin)
	require.NoError(t, err)
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	assert.Equal(t, "0", settings["CGO_ENABLED"])
	assert.Equal(t, "true", settings["-trimpath"])
	assert.Equal(t, "github.com/zmqkit/zmqkit/cmd/zmqkit", info.Path)

	out, err := exec.Command(bin, "version").CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "zmqkit")

	// What the image stage promises.
	b, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	require.NoError(t, err)
	stages := regexp.MustCompile(`(?m)^FROM `).Split(string(b), -1)
	final := stages[len(stages)-1]
	assert.Regexp(t, `^(gcr.io/distroless/static|scratch)`, final, "a static base")
	assert.Regexp(t, `(?m)^USER [1-9][0-9]*(:[1-9][0-9]*)?$`, final, "a numeric non-root user")
	assert.Regexp(t, `(?m)^ENTRYPOINT \["/usr/local/bin/zmqkit"\]$`, final)
	ignore, err := os.ReadFile(filepath.Join(repoRoot, ".dockerignore"))
	require.NoError(t, err)
	assert.True(t, bytes.Contains(ignore, []byte("\n.git\n")) || bytes.HasPrefix(ignore, []byte(".git\n")), ".dockerignore leaves .git out")
}
