package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/primetime-dev/primetime/e2e/stage"
	"github.com/primetime-dev/primetime/e2e/testbed"
	"github.com/primetime-dev/primetime/policies/config"
)

// TestSecretsNeverLeak (scenario 13 of docs/reliability.md): planted
// Datadog keys, sent to an endpoint that echoes them back in its errors,
// appear 0 times in primetime's logs, its /metrics, the cluster's Events,
// the external metrics API's error, and its goroutine dump on SIGQUIT.
func TestSecretsNeverLeak(t *testing.T) {
	scenario(t)
	const ns = "secrets"
	const apiKey, appKey = "pt-planted-api-key-4f9c2b7e91", "pt-planted-app-key-8d1e6a30c4"
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, `{"errors":["Forbidden: keys %s / %s are not valid"]}`, r.Header.Get("DD-API-KEY"), r.Header.Get("DD-APPLICATION-KEY"))
	}))
	defer echo.Close()

	c := sharedCluster(t)
	ctx := context.Background()
	c.Namespace(t, ns, nil)
	targets := `targets:
  - name: web
    scaleTargetRef: {kind: Deployment, name: web}
    load: {datadog: 'sum:trace.http.request.hits{service:web}.as_rate()'}
    capacityPerReplica: 10
    maxReplicas: 50
`
	windows := `windows:
  - {name: spot, start: "2026-11-25 20:45", duration: 15 minutes, expect: 5x, targets: [` + ns + `/web]}
`
	for _, cm := range []struct{ name, label, key, text string }{
		{"primetime-targets", config.LabelTargets, "targets.yaml", targets},
		{"spots", config.LabelWindows, "spots.yaml", windows}, // a bad entry: an InvalidEntry Event
	} {
		if _, err := c.Client.CoreV1().ConfigMaps(ns).Create(ctx, stage.ConfigMap(ns, cm.name, cm.label, cm.key, cm.text), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	p := stage.StartPrimetimeEnv(t, c, ns, []string{"DD_API_KEY=" + apiKey, "DD_APP_KEY=" + appKey}, "--datadog-url="+echo.URL, "--interval=2s", "--log-level=debug")

	seen := map[string]string{}
	// Directly, with the admin token (delegated authentication), the API's
	// error carries Datadog's own answer until the source backs off.
	direct := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, Timeout: 5 * time.Second}
	testbed.Eventually(t, 60*time.Second, time.Second, func() (bool, string) {
		req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("https://127.0.0.1:%d/apis/external.metrics.k8s.io/v1beta1/namespaces/"+ns+"/primetime_replicas?labelSelector=target%%3Dweb", p.SecurePort), nil)
		req.Header.Set("Authorization", "Bearer "+c.Token)
		resp, err := direct.Do(req)
		if err != nil {
			return false, err.Error()
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		seen["API error"] = string(b)
		return strings.Contains(seen["API error"], "HTTP 403"), "API: " + seen["API error"]
	})
	testbed.Eventually(t, 90*time.Second, time.Second, func() (bool, string) {
		n, _ := p.Metric("primetime_source_requests_total", `source="datadog"`, `outcome="error"`)
		return n >= 2, fmt.Sprintf("%v failed Datadog calls so far", n)
	})
	resp, err := http.Get("http://" + p.MetricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	seen["/metrics"] = string(body)
	events, err := c.Client.CoreV1().Events("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var ev strings.Builder
	for _, e := range events.Items {
		fmt.Fprintf(&ev, "%s %s %s\n", e.Reason, e.InvolvedObject.Name, e.Message)
	}
	seen["Events"] = ev.String()
	if _, err := stage.ExternalValue(ctx, c, ns, "primetime_replicas", "web"); err != nil {
		seen["API error through the aggregator"] = err.Error()
	}

	if err := syscall.Kill(p.Pid(), syscall.SIGQUIT); err != nil {
		t.Fatal(err)
	}
	testbed.Eventually(t, 20*time.Second, 200*time.Millisecond, func() (bool, string) { return p.Exited(), "still running after SIGQUIT" })
	seen["logs and goroutine dump"] = p.Output()

	// Each surface shows the failure it is about, so the check proves something.
	for surface, wants := range map[string][]string{
		"/metrics": {`primetime_source_requests_total{outcome="error",source="datadog"}`}, "Events": {"InvalidEntry"},
		"API error": {"HTTP 403", "[redacted]"}, "logs and goroutine dump": {"HTTP 403", "[redacted]", "SIGQUIT", "goroutine "},
	} {
		for _, want := range wants {
			if !strings.Contains(seen[surface], want) {
				t.Errorf("%s does not show %q: the check would prove nothing\n%s", surface, want, tail(seen[surface], 2000))
			}
		}
	}
	for surface, text := range seen {
		for _, key := range []string{apiKey, appKey} {
			if n := strings.Count(text, key); n != 0 {
				t.Errorf("a planted key appears %d times in %s", n, surface)
			}
		}
	}
	t.Logf("0 occurrences of either key in %d bytes of logs and goroutine dump, %d of /metrics, %d Events, the API's errors (direct: %q)",
		len(seen["logs and goroutine dump"]), len(seen["/metrics"]), len(events.Items), tail(seen["API error"], 300))
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
