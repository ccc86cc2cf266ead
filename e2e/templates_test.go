package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/primetime-dev/primetime/e2e/stage"
	"github.com/primetime-dev/primetime/e2e/testbed"
	"github.com/primetime-dev/primetime/policies/config"
)

// recordingDatadog answers Datadog's v1 query API (GET /api/v1/query, the
// queries of a call comma-joined) with one series of 30 s buckets per
// query, each at load[query] (1 for a query it does not know), and
// records every query it receives.
type recordingDatadog struct {
	load map[string]float64

	mu       sync.Mutex
	received map[string]int
}

func (d *recordingDatadog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	from, _ := strconv.ParseInt(q.Get("from"), 10, 64)
	to, _ := strconv.ParseInt(q.Get("to"), 10, 64)
	queries := splitTopLevel(q.Get("query"))
	d.mu.Lock()
	for _, query := range queries {
		d.received[query]++
	}
	d.mu.Unlock()
	var series []map[string]any
	for i, query := range queries {
		v, ok := d.load[query]
		if !ok {
			v = 1
		}
		var points [][]any
		start := from - from%30
		for ts := start; ts+30 <= to; ts += 30 {
			points = append(points, []any{float64(ts * 1000), v})
		}
		series = append(series, map[string]any{
			"metric": "trace.http.request.hits", "display_name": query, "expression": query, "scope": "*", "aggr": "sum",
			"interval": 30, "length": len(points), "start": start * 1000, "end": to * 1000, "pointlist": points,
			"query_index": i, "tag_set": []string{}, "attributes": map[string]any{},
		})
	}
	body, _ := json.Marshal(map[string]any{
		"status": "ok", "res_type": "time_series", "resp_version": 1, "series": series,
		"from_date": from * 1000, "to_date": to * 1000, "query": q.Get("query"),
		"values": []any{}, "times": []any{}, "message": "", "group_by": []any{},
	})
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

// queries returns the distinct queries received so far, sorted.
func (d *recordingDatadog) queries() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for q := range d.received {
		out = append(out, q)
	}
	slices.Sort(out)
	return out
}

// splitTopLevel splits comma-joined Datadog queries (commas inside {} or
// () belong to a query).
func splitTopLevel(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, c := range s {
		switch c {
		case '{', '(':
			depth++
		case '}', ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// TestOneTargetsFileForEveryCluster: the same targets ConfigMap, its
// queries holding %%cluster%% and %%env_PT_REGION%%, read by two daemons
// started with --cluster eu and --cluster us (each in a namespace of its
// own, as each in its own cluster) and different environments: each sends
// Datadog its own expanded queries and nothing else, and publishes the
// replicas of its own load; a target with a misspelt variable is rejected
// in both with an InvalidEntry Event naming it, the others stay in force.
func TestOneTargetsFileForEveryCluster(t *testing.T) {
	scenario(t)
	const targets = `targets:
  - name: web
    scaleTargetRef: {kind: Deployment, name: web}
    load: {datadog: 'sum:trace.http.request.hits{kube_cluster_name:%%cluster%%}.as_rate().rollup(avg, 30)'}
    capacityPerReplica: 10
    maxReplicas: 50
  - name: api
    scaleTargetRef: {kind: Deployment, name: api}
    load: {datadog: 'sum:trace.http.request.hits{service:api,region:%%env_PT_REGION%%}.as_rate().rollup(avg, 30)'}
    capacityPerReplica: 10
    maxReplicas: 50
  - name: typo
    scaleTargetRef: {kind: Deployment, name: typo}
    load: {datadog: 'sum:trace.http.request.hits{kube_cluster_name:%%clustr%%}.as_rate().rollup(avg, 30)'}
    capacityPerReplica: 10
    maxReplicas: 50
`
	c := sharedCluster(t)
	ctx := context.Background()
	type daemon struct {
		cluster, region string
		web, api        string  // the expanded queries
		webLoad         float64 // what the fake answers for web
		wantWeb         string  // primetime_replicas of web: webLoad / 10
		fake            *recordingDatadog
		p               *stage.Primetime
	}
	daemons := []*daemon{
		{cluster: "eu", region: "eu-west-1",
			web:     "sum:trace.http.request.hits{kube_cluster_name:eu}.as_rate().rollup(avg, 30)",
			api:     "sum:trace.http.request.hits{service:api,region:eu-west-1}.as_rate().rollup(avg, 30)",
			webLoad: 200, wantWeb: "20"},
		{cluster: "us", region: "us-east-1",
			web:     "sum:trace.http.request.hits{kube_cluster_name:us}.as_rate().rollup(avg, 30)",
			api:     "sum:trace.http.request.hits{service:api,region:us-east-1}.as_rate().rollup(avg, 30)",
			webLoad: 400, wantWeb: "40"},
	}
	for _, d := range daemons {
		ns := "templates-" + d.cluster
		c.Namespace(t, ns, nil)
		if _, err := c.Client.CoreV1().ConfigMaps(ns).Create(ctx, stage.ConfigMap(ns, "primetime-targets", config.LabelTargets, "targets.yaml", targets), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		d.fake = &recordingDatadog{load: map[string]float64{d.web: d.webLoad, d.api: 50}, received: map[string]int{}}
		srv := httptest.NewServer(d.fake)
		t.Cleanup(srv.Close)
		d.p = stage.StartPrimetimeEnv(t, c, ns, []string{"DD_API_KEY=e2e-api-key", "DD_APP_KEY=e2e-app-key", "PT_REGION=" + d.region},
			"--cluster="+d.cluster, "--datadog-url="+srv.URL, "--interval=2s")
	}
	for _, d := range daemons {
		ns := "templates-" + d.cluster
		testbed.Eventually(t, 90*time.Second, time.Second, func() (bool, string) {
			v, err := stage.ExternalValue(ctx, c, ns, "primetime_replicas", "web")
			return err == nil && v == d.wantWeb, fmt.Sprintf("%s: primetime_replicas of web %q, %v; Datadog received %q", ns, v, err, d.fake.queries())
		})
		if got, want := d.fake.queries(), []string{d.web, d.api}; !slices.Equal(got, want) { // sorted
			t.Errorf("--cluster %s: Datadog received\n%s\nwant exactly\n%s", d.cluster, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		want := `target "typo": load.datadog: %%clustr%% is not a template variable; did you mean %%cluster%%? ([targets.yaml] line 14)`
		testbed.Eventually(t, 30*time.Second, time.Second, func() (bool, string) {
			events, err := c.Client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=primetime-targets,reason=InvalidEntry"})
			if err != nil {
				return false, err.Error()
			}
			var msgs []string
			for _, e := range events.Items {
				msgs = append(msgs, e.Message)
			}
			if len(msgs) > 1 || len(msgs) == 1 && msgs[0] != want {
				t.Fatalf("%s: InvalidEntry Events %q, want [%q]", ns, msgs, want)
			}
			return len(msgs) == 1, fmt.Sprintf("%s: no InvalidEntry Event yet", ns)
		})
		if v, ok := d.p.Metric("primetime_config_entries", `kind="targets"`, `state="valid"`); !ok || v != 2 {
			t.Errorf("%s: valid targets %v %v, want 2", ns, v, ok)
		}
	}
	t.Logf("eu sent %q; us sent %q", daemons[0].fake.queries(), daemons[1].fake.queries())
}
