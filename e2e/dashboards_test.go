package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// chartQueries returns every PromQL expression of the chart's dashboards
// and alert rules, by where it stands, with the dashboards' variables
// set for target namespace/web.
func chartQueries(t *testing.T, namespace string) map[string]string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	chart := filepath.Join(filepath.Dir(file), "..", "charts", "primetime")
	vars := strings.NewReplacer("$namespace", namespace, "$target", "web", "$__rate_interval", "1m")
	out := map[string]string{}
	dashboards, _ := filepath.Glob(filepath.Join(chart, "dashboards", "*.json"))
	if len(dashboards) == 0 {
		t.Fatal("no dashboards in the chart")
	}
	for _, f := range dashboards {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d any
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		walk(d, filepath.Base(f), func(where, expr string) { out[where] = vars.Replace(expr) })
	}
	b, err := os.ReadFile(filepath.Join(chart, "alerts", "primetime-rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Rules []struct{ Alert, Expr string }
		}
	}
	if err := yaml.Unmarshal(b, &rules); err != nil {
		t.Fatal(err)
	}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			out["alert "+r.Alert] = r.Expr
		}
	}
	return out
}

// labelValues is Grafana's label_values(selector, label) in a variable.
var labelValues = regexp.MustCompile(`^label_values\((.*),\s*(\w+)\)$`)

// walk calls f with each "expr" of a dashboard, and with the selector of
// each label_values variable query.
func walk(v any, where string, f func(where, expr string)) {
	switch x := v.(type) {
	case map[string]any:
		if title, ok := x["title"].(string); ok {
			where += " / " + title
		} else if name, ok := x["name"].(string); ok {
			where += " / " + name
		}
		if e, ok := x["expr"].(string); ok {
			f(where, e)
		}
		if q, ok := x["query"].(string); ok {
			if m := labelValues.FindStringSubmatch(q); m != nil {
				f(where+" (variable)", m[1])
			}
		}
		for k, c := range x {
			walk(c, where+"."+k, f)
		}
	case []any:
		for i, c := range x {
			walk(c, fmt.Sprintf("%s[%d]", where, i), f)
		}
	}
}

// alertCondition strips an alert's final comparison, so that what it
// measures can be checked for data on a healthy system.
var alertCondition = regexp.MustCompile(`(?s)\s*(>|<|==)\s*[0-9.]+\s*$`)

// checkChartQueries runs every dashboard and alert expression on the
// Prometheus that scraped primetime over [from, to], for target
// namespace/web: each must parse and
// execute, dashboards' and alerts' measures must return data (the window
// reports' panels too: [from, to] must hold a report). An alert's
// own condition is not expected to hold on a healthy run (promtool tests
// each one firing: charts/alert_tests.yaml).
func checkChartQueries(t *testing.T, promURL, namespace string, from, to time.Time) {
	t.Helper()
	for where, expr := range chartQueries(t, namespace) {
		expectData := true
		if strings.HasPrefix(where, "alert ") {
			if _, err := queryRange(promURL, expr, from, to); err != nil {
				t.Errorf("%s: %v\n%s", where, err, expr)
			}
			expr = alertCondition.ReplaceAllString(expr, "")
			if strings.Contains(where, "PrimetimeDataStale") || strings.Contains(where, "PrimetimeFloorNotReached") {
				// Their measure is a comparison between series; run it, its
				// parts are on the dashboards.
				expectData = false
			}
		}
		if strings.Contains(expr, "primetime_datadog_") {
			// The Datadog source's own series exist once Datadog answered
			// (never a made-up budget): the scenarios read Prometheus and
			// the pods. Run the query; expect no data.
			expectData = false
		}
		if strings.Contains(expr, "primetime_prescale_late_total") {
			// Counted once a window started with its floor not ready,
			// which TestTVSpot's does not (TestPlaceholders' does). Run the
			// query; expect no data.
			expectData = false
		}
		if strings.Contains(expr, "primetime_window_co2e_grams") {
			// Grams of CO2e are counted with serve's --carbon-intensity
			// only, which the scenarios do not set (its arithmetic is
			// scaler's unit tests'). Run the query; expect no data.
			expectData = false
		}
		n, err := queryRange(promURL, expr, from, to)
		switch {
		case err != nil:
			t.Errorf("%s: %v\n%s", where, err, expr)
		case n == 0 && expectData:
			t.Errorf("%s: no data over the run\n%s", where, expr)
		}
	}
}

// queryRange runs a range query and returns how many series it gave.
func queryRange(promURL, expr string, from, to time.Time) (int, error) {
	q := url.Values{"query": {expr}, "start": {fmt.Sprint(from.Unix())}, "end": {fmt.Sprint(to.Unix())}, "step": {"5"}}
	resp, err := http.Get(promURL + "/api/v1/query_range?" + q.Encode())
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var body struct {
		Status, Error string
		Data          struct{ Result []json.RawMessage }
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return 0, err
	}
	if body.Status != "success" {
		return 0, fmt.Errorf("Prometheus: %s", body.Error)
	}
	return len(body.Data.Result), nil
}
