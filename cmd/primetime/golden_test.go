//go:build !simulateonly

package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/primetime-dev/primetime/scaler"
)

var updateGolden = flag.Bool("update-golden", false, "rewrite testdata/golden from the commands' outputs")

// The outputs of simulate, report, plan and lint on the committed traces
// and configurations, byte for byte: exit code, stdout and stderr. A
// change of what a user reads shows here as a diff of testdata/golden;
// one that is meant is written with go test -run TestGoldenOutputs
// -update-golden.
func TestGoldenOutputs(t *testing.T) {
	const (
		tv   = "../../docs/traces/tv-spot"
		demo = "../../docs/traces/demo-spot"
	)
	withReportNow(t, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	prom := httptest.NewServer(&fakePrometheus{load: spotLoad})
	defer prom.Close()
	dd := httptest.NewServer(&fakeDatadog{load: spotLoad})
	defer dd.Close()
	t.Setenv("DD_API_KEY", "api-key")
	t.Setenv("DD_APP_KEY", "app-key")
	reports := reportsFile(t)

	cases := []struct {
		name string
		args []string
	}{
		{"simulate-table", []string{"simulate", "--trace", tv + ".csv", "--targets", tv + ".targets.yaml", "--windows", tv + ".windows.yaml"}},
		{"simulate-json", []string{"simulate", "--trace", tv + ".csv", "--targets", tv + ".targets.yaml", "--windows", tv + ".windows.yaml",
			"--strategy", "primetime", "--strategy", "reactive", "-o", "json"}},
		{"simulate-timeline", []string{"simulate", "--trace", demo + ".csv", "--targets", demo + ".targets.yaml", "--windows", demo + ".windows.yaml",
			"--startup", "20s", "--metric-delay", "15s", "--hpa-sync", "15s", "--interval", "5s",
			"--strategy", "primetime", "--strategy", "reactive", "--timeline", "10s"}},
		{"simulate-bad-trace", []string{"simulate", "--trace", "testdata/bad-trace.csv", "--targets", tv + ".targets.yaml"}},
		{"report-prometheus", reportArgs(prom.URL)},
		{"report-prometheus-json", reportArgs(prom.URL, "-o", "json")},
		{"report-datadog", []string{"report", "--targets", "testdata/report-datadog-targets.yaml", "--windows", reportWindows,
			"--from", "2026-11-25 00:00", "--to", "2026-11-27 00:00", "--datadog-url", dd.URL}},
		{"report-learned", []string{"report", "--targets", reportTargets, "--windows", "testdata/report-learned-windows.yaml",
			"--from", "2026-11-25 00:00", "--to", "2026-11-27 00:00", "--prometheus-url", prom.URL}},
		{"plan-table", planArgs},
		{"plan-json", append(append([]string{}, planArgs...), "--output", "json")},
		{"plan-csv-baseline", []string{"plan", "--targets", "testdata/spec-targets.yaml", "--windows", "testdata/spec-windows.yaml",
			"--from", "2026-11-25T12:00:00Z", "--to", "2026-11-26T00:00:00Z", "--baseline", "testdata/baseline.csv"}},
		{"plan-far-windows", []string{"plan", "--targets", "testdata/spec-targets.yaml", "--windows", "testdata/far-windows.yaml",
			"--baseline", "1000", "--from", "2026-11-23T00:00:00+01:00"}},
		{"plan-reports", append(append([]string{}, planArgs...), "--reports", reports)},
		{"plan-learned", []string{"plan", "--targets", tv + ".targets.yaml", "--windows", tv + ".windows.yaml", "--baseline", "1000",
			"--from", "2026-11-16 00:00", "--to", "2026-11-17 00:00", "--reports", "testdata/learned-reports.json"}},
		{"plan-learned-json", []string{"plan", "--targets", tv + ".targets.yaml", "--windows", tv + ".windows.yaml", "--baseline", "1000",
			"--from", "2026-11-16 00:00", "--to", "2026-11-17 00:00", "--reports", "testdata/learned-reports.json", "-o", "json"}},
		{"plan-cluster", []string{"plan", "--targets", "testdata/cluster-targets.yaml", "--windows", "testdata/spec-windows.yaml",
			"--baseline", "1000", "--from", "2026-11-23T00:00:00+01:00", "--to", "2026-11-30T00:00:00+01:00", "--cluster", "us"}},
		{"lint-three-bad", []string{"lint", "--now", lintNow, "testdata/three-bad.yaml"}},
		{"lint-spec", []string{"lint", "--now", lintNow, "testdata/spec-targets.yaml", "testdata/spec-windows.yaml"}},
		{"lint-overlap", []string{"lint", "--now", "2026-12-02 15:00", "testdata/spec-targets.yaml", "testdata/overlap-windows.yaml"}},
		{"lint-keda", []string{"lint", "testdata/spec-targets.yaml", "testdata/keda-scaledobject.yaml", "testdata/keda-traps.yaml"}},
		{"lint-cluster", []string{"lint", "--now", lintNow, "--cluster", "eu", "testdata/cluster-targets.yaml"}},
		{"lint-cluster-unset", []string{"lint", "--now", lintNow, "--cluster", "eu", "testdata/cluster-targets.yaml"}},
	}
	// PT_TEST_ENV, which testdata/cluster-targets.yaml names, by case;
	// unset in the others.
	env := map[string]*string{"plan-cluster": ptr("prod"), "lint-cluster": ptr("prod")}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			setTestEnv(t, env[tc.name])
			code, out, errOut := runCLI(t, tc.args...)
			var b bytes.Buffer
			fmt.Fprintf(&b, "$ primetime %s\nexit %d\n--- stdout\n%s--- stderr\n%s", strings.Join(tc.args, " "), code, out, errOut)
			got := strings.NewReplacer(prom.URL, "http://prometheus.test", dd.URL, "http://datadog.test", reports, "reports.json").Replace(b.String())
			path := filepath.Join("testdata", "golden", tc.name+".txt")
			if *updateGolden {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (write it with -update-golden)", err)
			}
			if got != string(want) {
				t.Errorf("%s changed:\n%s", path, lineDiff(string(want), got))
			}
		})
	}
}

// reportsFile writes what serve's /reports says of two windows, one ready
// 41 s late, as a file for plan --reports.
func reportsFile(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(lateBook())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc scaler.ReportsJSON
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(doc)
	path := filepath.Join(t.TempDir(), "reports.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// lineDiff shows the first lines that differ, with their numbers.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < max(len(w), len(g)) && shown < 10; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d\n  want: %s\n  got:  %s\n", i+1, wl, gl)
			shown++
		}
	}
	return b.String()
}
