package stage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/primetime-dev/primetime/e2e/loadgen"
	"github.com/primetime-dev/primetime/e2e/testbed"
	"github.com/primetime-dev/primetime/policies/config"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// Binary builds cmd/primetime once per process.
func Binary(t testbed.T) string {
	t.Helper()
	buildOnce.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		dir, err := os.MkdirTemp("", "primetime-e2e-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "primetime")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/primetime")
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// Primetime is a running `primetime serve`.
type Primetime struct {
	*testbed.Process
	SecurePort  int
	MetricsAddr string
	// CertFile and KeyFile hold its serving certificate, issued by CA.
	CertFile, KeyFile string
	CA                *testbed.CA
}

// servingCert is primetime's serving certificate and the CA the
// APIService trusts.
type servingCert struct {
	ca                *testbed.CA
	certFile, keyFile string
}

func newServingCert(t testbed.T) servingCert {
	t.Helper()
	ca := testbed.NewCA(t, "primetime-ca")
	cert, key := IssueServingCert(t, ca)
	dir := t.TempDir()
	return servingCert{ca: ca, certFile: testbed.WriteFile(t, dir, "tls.crt", cert), keyFile: testbed.WriteFile(t, dir, "tls.key", key)}
}

// IssueServingCert issues a serving certificate for primetime's Service
// (and loopback) from ca.
func IssueServingCert(t testbed.T, ca *testbed.CA) (certPEM, keyPEM []byte) {
	t.Helper()
	return ca.Issue(t, "primetime", "primetime.primetime.svc", "localhost", "127.0.0.1")
}

// StartPrimetime starts primetime serve against a cluster of its own and
// registers it as the external metrics API. extra flags are appended.
func StartPrimetime(t testbed.T, c *testbed.Cluster, extra ...string) *Primetime {
	t.Helper()
	return StartPrimetimeIn(t, c, "", extra...)
}

// StartPrimetimeIn starts primetime serve for one namespace of a cluster.
// On a shared control plane (c.Router set) it reads only that namespace's
// ConfigMaps and HPAs, keeps its Lease and state there, and the router
// sends it that namespace's external metrics requests; with namespace ""
// it is the cluster's external metrics API.
func StartPrimetimeIn(t testbed.T, c *testbed.Cluster, namespace string, extra ...string) *Primetime {
	t.Helper()
	return StartPrimetimeEnv(t, c, namespace, nil, extra...)
}

// StartPrimetimeEnv is StartPrimetimeIn with variables (KEY=value) added
// to primetime's environment, such as DD_API_KEY.
func StartPrimetimeEnv(t testbed.T, c *testbed.Cluster, namespace string, env []string, extra ...string) *Primetime {
	t.Helper()
	cert := newServingCert(t)
	port := testbed.FreePort(t)
	extra = register(t, c, namespace, port, cert, extra)
	return startOne(t, c, env, port, cert, extra...)
}

// register makes the server on port (or the Service in front of replicas)
// the external metrics API of namespace, and returns the flags that scope
// primetime to it.
func register(t testbed.T, c *testbed.Cluster, namespace string, port int, cert servingCert, extra []string) []string {
	t.Helper()
	if c.Router == nil || namespace == "" {
		if c.Router != nil {
			t.Fatal("a shared control plane needs the scenario's namespace")
		}
		c.ExternalMetricsServer(t, "primetime", "primetime", port, cert.ca.CertPEM)
		return extra
	}
	c.Router.Route(t, namespace, fmt.Sprintf("127.0.0.1:%d", port), cert.ca.CertPEM)
	return append([]string{"--watch-namespaces=" + namespace, "--namespace=" + namespace}, extra...)
}

// StartPrimetimeReplicas starts n replicas of primetime serve electing a
// leader, behind one Service (a proxy, as kube-proxy would be) that the
// APIService points to. Replica i has the identity primetime-i.
func StartPrimetimeReplicas(t testbed.T, c *testbed.Cluster, n int, extra ...string) []*Primetime {
	t.Helper()
	return StartPrimetimeReplicasIn(t, c, "", n, extra...)
}

// StartPrimetimeReplicasIn is StartPrimetimeReplicas for one namespace of
// a cluster, as StartPrimetimeIn.
func StartPrimetimeReplicasIn(t testbed.T, c *testbed.Cluster, namespace string, n int, extra ...string) []*Primetime {
	t.Helper()
	cert := newServingCert(t)
	ports := make([]int, n)
	backends := make([]string, n)
	for i := range ports {
		ports[i] = testbed.FreePort(t)
		backends[i] = fmt.Sprintf("127.0.0.1:%d", ports[i])
	}
	proxy := testbed.StartServiceProxy(t, backends...)
	extra = register(t, c, namespace, proxy.Port, cert, extra)
	out := make([]*Primetime, n)
	for i := range out {
		out[i] = startOne(t, c, nil, ports[i], cert, append([]string{"--leader-elect", fmt.Sprintf("--identity=primetime-%d", i)}, extra...)...)
	}
	return out
}

func startOne(t testbed.T, c *testbed.Cluster, env []string, port int, cert servingCert, extra ...string) *Primetime {
	t.Helper()
	bin := Binary(t)
	return launch(t, c.Kubeconfig, port, cert, extra, func(args []string) *testbed.Process {
		return testbed.StartEnv(t, env, bin, args...)
	})
}

// launch starts `primetime serve` with the flags every scenario shares
// (kubeconfig and certificate files as start sees them) and waits until it
// is healthy.
func launch(t testbed.T, kubeconfig string, port int, cert servingCert, extra []string, start func(args []string) *testbed.Process) *Primetime {
	t.Helper()
	metrics := fmt.Sprintf("127.0.0.1:%d", testbed.FreePort(t))
	args := append([]string{"serve",
		"--kubeconfig=" + kubeconfig,
		fmt.Sprintf("--secure-port=%d", port), "--bind-address=127.0.0.1",
		"--tls-cert-file=" + cert.certFile, "--tls-private-key-file=" + cert.keyFile,
		"--metrics-addr=" + metrics, "--namespace=primetime", "--log-level=info",
	}, extra...)
	p := start(args)
	testbed.WaitHTTP(t, "http://"+metrics+"/healthz", 60*time.Second, p)
	return &Primetime{Process: p, SecurePort: port, MetricsAddr: metrics, CertFile: cert.certFile, KeyFile: cert.keyFile, CA: cert.ca}
}

// Metric returns the value of a primetime metric series on /metrics
// whose line contains all of the label pairs.
func (p *Primetime) Metric(name string, labels ...string) (float64, bool) {
	resp, err := http.Get("http://" + p.MetricsAddr + "/metrics")
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(body), "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		ok := true
		for _, l := range labels {
			ok = ok && strings.Contains(line, l)
		}
		if ok {
			var v float64
			fields := strings.Fields(line)
			if _, err := fmt.Sscan(fields[len(fields)-1], &v); err == nil {
				return v, true
			}
		}
	}
	return 0, false
}

// ConfigMap is a ConfigMap with one key, labelled for primetime.
func ConfigMap(namespace, name, label, key, text string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: map[string]string{label: "true"}},
		Data:       map[string]string{key: text},
	}
}

// ExternalValue reads one external metric of a target through the
// aggregator.
func ExternalValue(ctx context.Context, c *testbed.Cluster, namespace, metric, target string) (string, error) {
	return ExternalValueSelected(ctx, c, namespace, metric, "target="+target)
}

// ExternalValueSelected reads the one value of an external metric that
// selector (a label selector) picks, through the aggregator.
func ExternalValueSelected(ctx context.Context, c *testbed.Cluster, namespace, metric, selector string) (string, error) {
	body, err := c.Raw(ctx, fmt.Sprintf("/apis/external.metrics.k8s.io/v1beta1/namespaces/%s/%s?labelSelector=%s", namespace, metric, url.QueryEscape(selector)))
	if err != nil {
		var status apierrors.APIStatus
		if errors.As(err, &status) && status.Status().Message != "" {
			return "", fmt.Errorf("%w: %s", err, status.Status().Message)
		}
		return "", fmt.Errorf("%w: %s", err, body)
	}
	var list struct {
		Items []struct {
			Value string `json:"value"`
		} `json:"items"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		return "", err
	}
	if len(list.Items) != 1 {
		return "", fmt.Errorf("%d items: %s", len(list.Items), body)
	}
	return list.Items[0].Value, nil
}

// Stage is a storefront on a real control plane: a Deployment whose pods
// the fake kubelet starts on loopback addresses, a load generator serving
// their traffic, Prometheus scraping it, and an HPA on primetime_replicas.
type Stage struct {
	C *testbed.Cluster
	// NS is the storefront's namespace.
	NS   string
	Gen  *loadgen.Generator
	Prom *testbed.Prometheus
	o    Options
}

// Options sets up a Stage.
type Options struct {
	// Rate is the initial total request rate.
	Rate float64
	// Startup is the pods' start-up delay (created to ready).
	Startup time.Duration
	// HPASync is the HPA controller's sync period; 5 s unless set (the
	// Kubernetes default is 15 s). Only for a control plane of the stage's
	// own.
	HPASync time.Duration
	// Cluster is a control plane shared with other scenarios (with its
	// metrics router); nil starts one for the stage alone.
	Cluster *testbed.Cluster
	// Namespace is the storefront's namespace; storefront by default.
	Namespace string
	// PodSpec, when set, changes the web Deployment's pod spec before it
	// is created (requests, scheduling constraints).
	PodSpec func(*corev1.PodSpec)
}

// New starts the control plane (with the HPA controller) unless one is
// shared, the load generator, the kubelet playing the storefront's
// namespace and Prometheus.
func New(t testbed.T, ctx context.Context, o Options) *Stage {
	t.Helper()
	if o.HPASync == 0 {
		o.HPASync = 5 * time.Second
	}
	if o.Namespace == "" {
		o.Namespace = "storefront"
	}
	c := o.Cluster
	if c == nil {
		c = testbed.StartCluster(t, testbed.ClusterOptions{ControllerManager: true, HPASyncPeriod: o.HPASync})
	}
	c.Namespace(t, o.Namespace, nil)
	gen := loadgen.New(testbed.FreePort(t), o.Rate)
	t.Cleanup(gen.Close)
	c.StartKubelet(ctx, o.Namespace, o.Startup, func(ip string) {
		if err := gen.AddPod(ip); err != nil {
			t.Logf("load generator: %v", err)
		}
	}, gen.RemovePod)
	agg, err := gen.ServeAggregate(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	prom := testbed.StartPrometheus(t, testbed.PrometheusOptions{Targets: []string{agg}})
	return &Stage{C: c, NS: o.Namespace, Gen: gen, Prom: prom, o: o}
}

// Bare is a stage with no traffic on a shared control plane: its
// namespace only, for scenarios about what primetime writes (windows
// given in replicas need no load). Its pods stay Pending.
func Bare(t testbed.T, c *testbed.Cluster, namespace string) *Stage {
	t.Helper()
	c.Namespace(t, namespace, nil)
	return &Stage{C: c, NS: namespace}
}

// StartPrimetime starts primetime serve for the stage's namespace.
func (s *Stage) StartPrimetime(t testbed.T, extra ...string) *Primetime {
	t.Helper()
	return StartPrimetimeIn(t, s.C, s.namespaceIfShared(), extra...)
}

// StartPrimetimeReplicas starts n replicas for the stage's namespace.
func (s *Stage) StartPrimetimeReplicas(t testbed.T, n int, extra ...string) []*Primetime {
	t.Helper()
	return StartPrimetimeReplicasIn(t, s.C, s.namespaceIfShared(), n, extra...)
}

func (s *Stage) namespaceIfShared() string {
	if s.C.Router == nil {
		return ""
	}
	return s.NS
}

// Value reads one external metric of the web target through the
// aggregator.
func (s *Stage) Value(ctx context.Context, metric string) (string, error) {
	return ExternalValue(ctx, s.C, s.NS, metric, "web")
}

// Deploy creates the web Deployment and its HPA on primetime_replicas, with
// a behaviour that lets the HPA follow primetime at once; with maxReplicas
// 0, no HPA.
func (s *Stage) Deploy(t testbed.T, ctx context.Context, replicas, minReplicas, maxReplicas int32) {
	t.Helper()
	labels := map[string]string{"app": "web"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: s.NS},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "registry.invalid/web:1"}}},
			},
		},
	}
	if s.o.PodSpec != nil {
		s.o.PodSpec(&dep.Spec.Template.Spec)
	}
	if _, err := s.C.Client.AppsV1().Deployments(s.NS).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if maxReplicas == 0 {
		return // no HPA: scale mode writes the Deployment's /scale itself
	}
	zero, period := int32(0), int32(5)
	one, noTolerance := resource.MustParse("1"), resource.MustParse("0")
	hpa := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: s.NS},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
			MinReplicas:    &minReplicas, MaxReplicas: maxReplicas,
			Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ExternalMetricSourceType, External: &autoscalingv2.ExternalMetricSource{
				Metric: autoscalingv2.MetricIdentifier{Name: "primetime_replicas", Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"target": "web"}}},
				Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: &one},
			}}},
			Behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{
				// Tolerance 0, as README recommends: primetime publishes
				// whole replicas, and a last step of a ramp (17 → 18) is
				// within the default 10%.
				ScaleUp: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: &zero, Tolerance: &noTolerance,
					Policies: []autoscalingv2.HPAScalingPolicy{{Type: autoscalingv2.PodsScalingPolicy, Value: 100, PeriodSeconds: period}}},
				ScaleDown: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: &zero,
					Policies: []autoscalingv2.HPAScalingPolicy{{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: period}}},
			},
		},
	}
	if _, err := s.C.Client.AutoscalingV2().HorizontalPodAutoscalers(s.NS).Create(ctx, hpa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// Configure creates the targets ConfigMap and, unless windows is empty,
// a windows ConfigMap tv-spots.
func (s *Stage) Configure(t testbed.T, ctx context.Context, targets, windows string) {
	t.Helper()
	cms := s.C.Client.CoreV1().ConfigMaps(s.NS)
	if _, err := cms.Create(ctx, ConfigMap(s.NS, "primetime-targets", config.LabelTargets, "targets.yaml", targets), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if windows != "" {
		if _, err := cms.Create(ctx, ConfigMap(s.NS, "tv-spots", config.LabelWindows, "spots.yaml", windows), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// WebTarget is the stage's target: the aggregate request rate from
// Prometheus, 10 requests/s per replica, 2 to 50 replicas.
func WebTarget(leadTime, mode string) string {
	return fmt.Sprintf(`targets:
  - name: web
    scaleTargetRef: {kind: Deployment, name: web}
    load: {prometheus: 'sum(rate(http_requests_total[15s]))'}
    capacityPerReplica: 10
    minReplicas: 2
    maxReplicas: 50
    leadTime: %s
    mode: %s
`, leadTime, mode)
}

// Replicas returns the web Deployment's desired and ready replicas. A
// failed read (an API server slow on a loaded machine) is tried again for
// up to 10 s rather than read as 0 replicas; 0, 0 only if it never answers.
func (s *Stage) Replicas(ctx context.Context) (spec, ready int32) {
	for deadline := time.Now().Add(10 * time.Second); ; {
		d, err := s.C.Client.AppsV1().Deployments(s.NS).Get(ctx, "web", metav1.GetOptions{})
		if err == nil {
			return *d.Spec.Replicas, d.Status.ReadyReplicas
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return 0, 0
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Settle waits until primetime publishes want for the web target and the
// Deployment has had want ready replicas for 10 s.
func (s *Stage) Settle(t testbed.T, ctx context.Context, want int32) {
	t.Helper()
	var since time.Time
	testbed.Eventually(t, 3*time.Minute, time.Second, func() (bool, string) {
		v, err := s.Value(ctx, "primetime_replicas")
		spec, ready := s.Replicas(ctx)
		if err != nil || v != fmt.Sprint(want) || spec != want || ready != want {
			since = time.Time{}
			return false, fmt.Sprintf("primetime_replicas %q (%v), %d replicas, %d ready; want %d", v, err, spec, ready, want)
		}
		if since.IsZero() {
			since = time.Now()
		}
		return time.Since(since) >= 10*time.Second, "settling"
	})
}

// PaceScaleUp gives the HPA the scale-up pace of the Kubernetes default
// behaviour without its doubling: pods more replicas per period, so that
// reaching a floor is a ramp.
func (s *Stage) PaceScaleUp(t testbed.T, ctx context.Context, pods, periodSeconds int32) {
	t.Helper()
	hpas := s.C.Client.AutoscalingV2().HorizontalPodAutoscalers(s.NS)
	h, err := hpas.Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h.Spec.Behavior.ScaleUp.Policies = []autoscalingv2.HPAScalingPolicy{{Type: autoscalingv2.PodsScalingPolicy, Value: pods, PeriodSeconds: periodSeconds}}
	if _, err := hpas.Update(ctx, h, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// ScrapeTarget is the stage's target read straight from the pods'
// counters: 10 requests/s per replica, 2 to 50 replicas.
func ScrapeTarget(port int) string {
	return fmt.Sprintf(`targets:
  - name: web
    scaleTargetRef: {kind: Deployment, name: web}
    load: {scrape: {selector: app=web, port: %d, counter: http_requests_total}}
    capacityPerReplica: 10
    minReplicas: 2
    maxReplicas: 50
`, port)
}
