// Package e2e drives primetime against a real control plane on loopback:
// etcd, kube-apiserver with its aggregation layer, the controller manager
// with the real HPA controller, and Prometheus, all started by the tests
// (see e2e/testbed). make e2e runs it.
package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/primetime-dev/primetime/e2e/testbed"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// primetimeBinary builds cmd/primetime once per test run.
func primetimeBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..")
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
}

// servingCert is primetime's serving certificate and the CA the
// APIService trusts.
type servingCert struct {
	caPEM             []byte
	certFile, keyFile string
}

func newServingCert(t testing.TB) servingCert {
	t.Helper()
	ca := testbed.NewCA(t, "primetime-ca")
	cert, key := ca.Issue(t, "primetime", "primetime.primetime.svc", "localhost", "127.0.0.1")
	dir := t.TempDir()
	return servingCert{caPEM: ca.CertPEM, certFile: testbed.WriteFile(t, dir, "tls.crt", cert), keyFile: testbed.WriteFile(t, dir, "tls.key", key)}
}

// StartPrimetime starts primetime serve against the cluster and registers
// it as the external metrics API. extra flags are appended.
func StartPrimetime(t testing.TB, c *testbed.Cluster, extra ...string) *Primetime {
	t.Helper()
	cert := newServingCert(t)
	port := testbed.FreePort(t)
	c.ExternalMetricsServer(t, "primetime", "primetime", port, cert.caPEM)
	return startPrimetime(t, c, port, cert, extra...)
}

// StartPrimetimeReplicas starts n replicas of primetime serve electing a
// leader, behind one Service (a proxy, as kube-proxy would be) that the
// APIService points to. Replica i has the identity primetime-i.
func StartPrimetimeReplicas(t testing.TB, c *testbed.Cluster, n int, extra ...string) []*Primetime {
	t.Helper()
	cert := newServingCert(t)
	ports := make([]int, n)
	backends := make([]string, n)
	for i := range ports {
		ports[i] = testbed.FreePort(t)
		backends[i] = fmt.Sprintf("127.0.0.1:%d", ports[i])
	}
	proxy := testbed.StartServiceProxy(t, backends...)
	c.ExternalMetricsServer(t, "primetime", "primetime", proxy.Port, cert.caPEM)
	out := make([]*Primetime, n)
	for i := range out {
		out[i] = startPrimetime(t, c, ports[i], cert, append([]string{"--leader-elect", fmt.Sprintf("--identity=primetime-%d", i)}, extra...)...)
	}
	return out
}

func startPrimetime(t testing.TB, c *testbed.Cluster, port int, cert servingCert, extra ...string) *Primetime {
	t.Helper()
	bin := primetimeBinary(t)
	metrics := fmt.Sprintf("127.0.0.1:%d", testbed.FreePort(t))
	args := append([]string{"serve",
		"--kubeconfig=" + c.Kubeconfig,
		fmt.Sprintf("--secure-port=%d", port), "--bind-address=127.0.0.1",
		"--tls-cert-file=" + cert.certFile, "--tls-private-key-file=" + cert.keyFile,
		"--metrics-addr=" + metrics, "--namespace=primetime", "--log-level=info",
	}, extra...)
	p := testbed.Start(t, bin, args...)
	testbed.WaitHTTP(t, "http://"+metrics+"/healthz", 60*time.Second, p)
	return &Primetime{Process: p, SecurePort: port, MetricsAddr: metrics}
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

// exporter serves a counter growing at a rate the test can change, like a
// web app's http_requests_total.
type exporter struct {
	*httptest.Server
	mu    sync.Mutex
	total float64
	rate  float64
	last  time.Time
}

func newExporter(t testing.TB, rate float64) *exporter {
	e := &exporter{rate: rate, last: time.Now()}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		now := time.Now()
		e.total += e.rate * now.Sub(e.last).Seconds()
		e.last = now
		v := e.total
		e.mu.Unlock()
		fmt.Fprintf(w, "# TYPE http_requests_total counter\nhttp_requests_total %f\n", v)
	}))
	t.Cleanup(e.Close)
	return e
}

func (e *exporter) hostPort() string { return strings.TrimPrefix(e.URL, "http://") }

func configMap(namespace, name, label, key, text string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: map[string]string{label: "true"}},
		Data:       map[string]string{key: text},
	}
}

// externalValue reads one external metric through the aggregator.
func externalValue(ctx context.Context, c *testbed.Cluster, namespace, metric, target string) (string, error) {
	body, err := c.Raw(ctx, fmt.Sprintf("/apis/external.metrics.k8s.io/v1beta1/namespaces/%s/%s?labelSelector=target%%3D%s", namespace, metric, target))
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
