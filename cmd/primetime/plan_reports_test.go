//go:build !simulateonly

package main

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/render"
	"github.com/primetime-dev/primetime/scaler"
)

// planArgs plan the spec example's week (lead time 8m).
var planArgs = []string{"plan", "--targets", "testdata/spec-targets.yaml", "--windows", "testdata/spec-windows.yaml",
	"--baseline", "1000", "--from", "2026-11-23T00:00:00+01:00", "--to", "2026-11-30T00:00:00+01:00"}

// lateBook is what serve's /reports says of the spec's spot on Thursday
// 10 December: storefront/web's floor ready 41 s late, storefront/api's 5 s.
func lateBook() *scaler.ReportBook {
	var book scaler.ReportBook
	spot := time.Date(2026, 12, 10, 19, 45, 0, 0, time.UTC)
	book.Advise(ground.TargetKey{Namespace: "storefront", Name: "web"}, "tf1-prime-spot", spot, 41*time.Second, 9*time.Minute+30*time.Second)
	book.Advise(ground.TargetKey{Namespace: "storefront", Name: "api"}, "tf1-prime-spot", spot, 5*time.Second, 3*time.Minute)
	return &book
}

// TestPlanSuggestsTheLeadTimeOfTheLastLateWindow: what serve's /reports
// says of a floor ready 41 s after its window's start reaches plan, as an
// address or as a file, in the table and in the JSON; a target whose lead
// time already covers it, and one never late, get nothing.
func TestPlanSuggestsTheLeadTimeOfTheLastLateWindow(t *testing.T) {
	spot := time.Date(2026, 12, 10, 19, 45, 0, 0, time.UTC)
	srv := httptest.NewServer(lateBook())
	defer srv.Close()
	const want = "  lead time: tf1-prime-spot on Thu 10 Dec 19:45 UTC was ready 41s late: a leadTime of 9m30s (now 8m) would have had it ready in time\n"

	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	saved := filepath.Join(t.TempDir(), "reports.json")
	var doc scaler.ReportsJSON
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatalf("/reports is not a ReportsJSON document: %v", err)
	}
	resp.Body.Close()
	data, _ := json.Marshal(doc)
	if err := os.WriteFile(saved, data, 0o600); err != nil {
		t.Fatal(err)
	}

	for name, from := range map[string]string{"address": srv.URL, "file": saved} {
		t.Run(name, func(t *testing.T) {
			code, out, errOut := runCLI(t, append(planArgs, "--reports", from)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if strings.Count(out, "lead time:") != 1 || !strings.Contains(out, "lead 8m)\n"+servedLine+"\n"+want) {
				t.Errorf("want under the target's heading:\n%s\ngot:\n%s", want, out)
			}
			code, js, errOut := runCLI(t, append(planArgs, "--reports", from, "--output", "json")...)
			if code != 0 {
				t.Fatalf("json: exit %d: %s", code, errOut)
			}
			var plan render.PlanJSON
			if err := json.Unmarshal([]byte(js), &plan); err != nil {
				t.Fatal(err)
			}
			lt := plan.Targets[0].LeadTime
			if lt == nil || lt.LeadTimeSeconds != 570 || lt.LateBySeconds != 41 || lt.Window != "tf1-prime-spot" || !lt.Start.Equal(spot) ||
				lt.Advice+"\n" != strings.TrimPrefix(want, "  lead time: ") {
				t.Errorf("leadTime in the JSON: %+v", lt)
			}
		})
	}

	t.Run("lead time already long enough", func(t *testing.T) {
		var enough scaler.ReportBook
		enough.Advise(ground.TargetKey{Namespace: "storefront", Name: "web"}, "tf1-prime-spot", spot, 10*time.Second, 8*time.Minute)
		srv := httptest.NewServer(&enough)
		defer srv.Close()
		code, out, errOut := runCLI(t, append(planArgs, "--reports", srv.URL)...)
		if code != 0 || strings.Contains(out, "lead time:") {
			t.Errorf("exit %d (%s), output:\n%s", code, errOut, out)
		}
	})
}

// servedLine is the spec target's "served as" line in the plan table.
const servedLine = "  served as primetime_replicas (selector target=web) through external.metrics.k8s.io, or to KEDA as an `external` trigger with metadata target: storefront/web"

// TestPlanRefusesABadReportsDocument: a bad --reports names the document,
// the entry and the field, and plan prints nothing.
func TestPlanRefusesABadReportsDocument(t *testing.T) {
	cases := []struct{ name, doc, want string }{
		{"not JSON", `<html>`, `reports.json: not a primetime /reports document: invalid character '<' looking for beginning of value`},
		{"target without namespace", `{"leadTime":{"web":{"window":"w","start":"2026-12-10T19:45:00Z","lateBySeconds":41,"leadTimeSeconds":570}}}`,
			`reports.json: leadTime "web": the target must be namespace/name`},
		{"no window", `{"leadTime":{"storefront/web":{"start":"2026-12-10T19:45:00Z","lateBySeconds":41,"leadTimeSeconds":570}}}`,
			`reports.json: leadTime "storefront/web": window: missing`},
		{"negative delay", `{"leadTime":{"storefront/web":{"window":"w","start":"2026-12-10T19:45:00Z","lateBySeconds":-1,"leadTimeSeconds":570}}}`,
			`reports.json: leadTime "storefront/web": lateBySeconds: must not be negative, got -1`},
		{"no lead time", `{"leadTime":{"storefront/web":{"window":"w","start":"2026-12-10T19:45:00Z","lateBySeconds":41}}}`,
			`reports.json: leadTime "storefront/web": leadTimeSeconds: must be a positive number of seconds, got 0`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "reports.json"), []byte(tc.doc), 0o600); err != nil {
				t.Fatal(err)
			}
			wd, _ := os.Getwd()
			args := append([]string{}, planArgs...)
			for i, a := range args {
				if strings.HasPrefix(a, "testdata/") {
					args[i] = filepath.Join(wd, a)
				}
			}
			t.Chdir(dir)
			code, out, errOut := runCLI(t, append(args, "--reports", "reports.json")...)
			if code != 2 || out != "" || strings.TrimSpace(errOut) != "primetime: --reports: "+tc.want {
				t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant: primetime: --reports: %s", code, out, errOut, tc.want)
			}
		})
	}
}
