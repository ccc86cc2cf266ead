package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/primetime-dev/primetime/e2e/stage"
	"github.com/primetime-dev/primetime/e2e/testbed"
	"github.com/primetime-dev/primetime/policies/config"
)

// TestExternalMetricsThroughTheAggregator: primetime decides from a real
// Prometheus, and kubectl get --raw through the real kube-apiserver's
// aggregation layer returns exactly that decision.
func TestExternalMetricsThroughTheAggregator(t *testing.T) {
	scenario(t)
	const ns = "serve"
	c := sharedCluster(t)
	exp := newExporter(t, 125) // 125 requests/s
	prom := testbed.StartPrometheus(t, testbed.PrometheusOptions{Targets: []string{exp.hostPort()}})
	ctx := context.Background()
	c.Namespace(t, ns, nil)
	targets := `targets:
  - name: web
    scaleTargetRef: {kind: Deployment, name: web}
    load: {prometheus: 'sum(rate(http_requests_total[10s]))'}
    capacityPerReplica: 10
    minReplicas: 1
    maxReplicas: 50
    leadTime: 1m
`
	if _, err := c.Client.CoreV1().ConfigMaps(ns).Create(ctx, stage.ConfigMap(ns, "primetime-targets", config.LabelTargets, "targets.yaml", targets), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	p := stage.StartPrimetimeIn(t, c, ns, "--prometheus-url="+prom.URL, "--interval=2s")

	// 125 requests/s at 10 per replica: 13 replicas (12.5, rounded up; far
	// enough from a whole number that rate() noise cannot flip it).
	var got string
	testbed.Eventually(t, 90*time.Second, time.Second, func() (bool, string) {
		v, err := stage.ExternalValue(ctx, c, ns, "primetime_replicas", "web")
		got = v
		return err == nil && v == "13", fmt.Sprintf("primetime_replicas through the aggregator: %q, %v; APIService: %s", v, err,
			c.APIServiceStatus(ctx, "v1beta1.external.metrics.k8s.io"))
	})
	desired, ok := p.Metric("primetime_target_replicas", `kind="desired"`, `target="web"`)
	if !ok || fmt.Sprint(desired) != got {
		t.Errorf("the API serves %s, primetime decided %v (%v)", got, desired, ok)
	}
	if load, err := stage.ExternalValue(ctx, c, ns, "primetime_load", "web"); err != nil || !strings.HasPrefix(load, "1") {
		t.Errorf("primetime_load: %q %v", load, err)
	}

	t.Run("unknown target and unknown metric are NotFound", func(t *testing.T) {
		_, err := c.Raw(ctx, "/apis/external.metrics.k8s.io/v1beta1/namespaces/"+ns+"/primetime_replicas?labelSelector=target%3Dnope")
		if !apierrors.IsNotFound(err) {
			t.Errorf("unknown target: %v", err)
		}
		_, err = c.Raw(ctx, "/apis/external.metrics.k8s.io/v1beta1/namespaces/"+ns+"/cpu_load?labelSelector=target%3Dweb")
		if !apierrors.IsNotFound(err) {
			t.Errorf("unknown metric: %v", err)
		}
	})

	t.Run("a direct anonymous request is refused", func(t *testing.T) {
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, Timeout: 5 * time.Second}
		resp, err := client.Get(fmt.Sprintf("https://127.0.0.1:%d/apis/external.metrics.k8s.io/v1beta1/namespaces/"+ns+"/primetime_replicas", p.SecurePort))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden {
			t.Errorf("anonymous: HTTP %d, want 401 or 403", resp.StatusCode)
		}
	})

	t.Run("a ServiceAccount needs get on external metrics", func(t *testing.T) {
		const uri = "/apis/external.metrics.k8s.io/v1beta1/namespaces/" + ns + "/primetime_replicas?labelSelector=target%3Dweb"
		sas := c.Client.CoreV1().ServiceAccounts(ns)
		if _, err := sas.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "reader"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		expiry := int64(600)
		tok, err := sas.CreateToken(ctx, "reader", &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &expiry}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cfg := rest.AnonymousClientConfig(c.Config)
		cfg.BearerToken = tok.Status.Token
		reader, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		_, err = reader.Discovery().RESTClient().Get().RequestURI(uri).DoRaw(ctx)
		if !apierrors.IsForbidden(err) {
			t.Fatalf("a ServiceAccount without RBAC: %v, want 403 Forbidden", err)
		}
		// Granted get on external metrics, the same token reads the value:
		// the 403 was authorization, end to end.
		rules := []rbacv1.PolicyRule{{APIGroups: []string{"external.metrics.k8s.io"}, Resources: []string{"*"}, Verbs: []string{"get", "list"}}}
		if _, err := c.Client.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "metrics-reader"}, Rules: rules}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "metrics-reader"},
			RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "metrics-reader"},
			Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "reader", Namespace: ns}}}
		if _, err := c.Client.RbacV1().RoleBindings(ns).Create(ctx, binding, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		testbed.Eventually(t, 30*time.Second, time.Second, func() (bool, string) {
			body, err := reader.Discovery().RESTClient().Get().RequestURI(uri).DoRaw(ctx)
			return err == nil && strings.Contains(string(body), "primetime_replicas"), fmt.Sprintf("granted: %v", err)
		})
	})

	t.Run("the serving certificate is reloaded when its files change", func(t *testing.T) {
		before := servedSerial(t, p.SecurePort)
		cert, key := stage.IssueServingCert(t, p.CA)
		changed := time.Now()
		for _, f := range []struct {
			path string
			data []byte
		}{{p.KeyFile, key}, {p.CertFile, cert}} {
			if err := os.WriteFile(f.path, f.data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		block, _ := pem.Decode(cert)
		issued, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		if issued.SerialNumber.Cmp(before) == 0 {
			t.Fatal("the new certificate has the old one's serial")
		}
		testbed.Eventually(t, 90*time.Second, 200*time.Millisecond, func() (bool, string) {
			served := servedSerial(t, p.SecurePort)
			return served.Cmp(issued.SerialNumber) == 0, fmt.Sprintf("serving serial %s, the new certificate is %s", served, issued.SerialNumber)
		})
		t.Logf("new certificate served %s after its files changed", time.Since(changed).Round(time.Millisecond))
		if p.Exited() {
			t.Fatal("primetime restarted to reload its certificate")
		}
		if v, err := stage.ExternalValue(ctx, c, ns, "primetime_replicas", "web"); err != nil {
			t.Errorf("through the aggregator with the new certificate: %q %v", v, err)
		}
	})

	t.Run("Prometheus down: an error after the staleness limit, never 0", func(t *testing.T) {
		prom.Kill()
		killed := time.Now()
		testbed.Eventually(t, 2*time.Minute, 2*time.Second, func() (bool, string) {
			v, err := stage.ExternalValue(ctx, c, ns, "primetime_replicas", "web")
			if err == nil && v != "13" {
				t.Fatalf("a value other than the last good one was served during the outage: %s", v)
			}
			return err != nil, fmt.Sprintf("value %q err %v", v, err)
		})
		// Prometheus' limit is 1 minute: the last good value serves until then.
		if d := time.Since(killed); d < 50*time.Second {
			t.Errorf("the API failed %s after the outage began, before the 1m staleness limit", d)
		}
		if _, ok := p.Metric("primetime_target_load", `kind="observed"`, `target="web"`); ok {
			t.Errorf("the observed load is still exported while stale")
		}
	})
}

// servedSerial returns the serial number of the certificate served on
// port.
func servedSerial(t *testing.T, port int) *big.Int {
	t.Helper()
	conn, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber
}
