package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/primetime-dev/primetime/ground/buildinfo"
	"github.com/primetime-dev/primetime/render"
)

// runCLI runs primetime in-process and returns its exit code and output.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// lintNow pins lint's clock before the testdata's windows (November 2026),
// so that no test depends on the wall clock.
const lintNow = "2026-11-20 00:00"

func TestLintReportsEachBadEntryOnce(t *testing.T) {
	code, out, errOut := runCLI(t, "lint", "--now", lintNow, "testdata/three-bad.yaml")
	if code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	want := []string{
		`testdata/three-bad.yaml:11: window "tf1-spot": duration: "15 minutes" is not a duration; write it like 90s, 15m, 1h30m or 7d`,
		`testdata/three-bad.yaml:20: window "newsletter": cron: "0 10 * * SUNDAY" is not a valid cron expression: "SUNDAY" is not understood; write minute hour day-of-month month day-of-week, with days as SUN-SAT or 0-6 and months as JAN-DEC or 1-12`,
		`testdata/three-bad.yaml:27: window "staging-nights": replicas: must be between 0 and 100000, got -1`,
	}
	got := strings.Split(strings.TrimSpace(out), "\n")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("lint output:\n%s\nwant:\n%s", out, strings.Join(want, "\n"))
	}
	if strings.TrimSpace(errOut) != "3 problems in 1 file" {
		t.Errorf("summary on stderr: %q", errOut)
	}
}

func TestLintGoodFiles(t *testing.T) {
	code, out, _ := runCLI(t, "lint", "testdata/spec-targets.yaml")
	if code != 0 || out != "ok: 1 file, 1 target, 0 windows\n" {
		t.Errorf("exit %d, output %q", code, out)
	}
}

func TestLintCrossChecksTargetsAndWindows(t *testing.T) {
	cases := []struct {
		name, now string
		want      []string
	}{
		{"before the spot", lintNow, []string{
			`testdata/spec-windows.yaml:3: warning: window "tf1-prime-spot": targets: storefront/api selects no target; the only target in storefront is web`,
			`testdata/spec-windows.yaml:13: warning: window "staging-nights": targets: staging/* selects no target; no target is in namespace staging`,
			`ok: 2 files, 1 target, 3 windows (2 warnings)`,
		}},
		{"after the spot", "2026-12-02T09:00:00Z", []string{
			`testdata/spec-windows.yaml:3: warning: window "tf1-prime-spot": targets: storefront/api selects no target; the only target in storefront is web`,
			`testdata/spec-windows.yaml:3: warning: window "tf1-prime-spot": start: the window ended at 2026-11-25 21:00 CET, before now: it will never apply; remove it or fix its date`,
			`testdata/spec-windows.yaml:13: warning: window "staging-nights": targets: staging/* selects no target; no target is in namespace staging`,
			`ok: 2 files, 1 target, 3 windows (3 warnings)`,
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, _ := runCLI(t, "lint", "--now", tc.now, "testdata/spec-targets.yaml", "testdata/spec-windows.yaml")
			if code != 0 {
				t.Errorf("warnings must not fail lint; exit %d", code)
			}
			if got := strings.TrimSpace(out); got != strings.Join(tc.want, "\n") {
				t.Errorf("output:\n%s\nwant:\n%s", got, strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestLintUsageErrors(t *testing.T) {
	if code, _, _ := runCLI(t, "lint"); code != 2 {
		t.Errorf("lint with no file: exit %d, want 2", code)
	}
	if code, _, errOut := runCLI(t, "lint", "testdata/missing.yaml"); code != 2 || !strings.Contains(errOut, "missing.yaml") {
		t.Errorf("missing file: exit %d, %q", code, errOut)
	}
	if code, _, errOut := runCLI(t, "lint", "--now", "yesterday", "testdata/spec-targets.yaml"); code != 2 || !strings.Contains(errOut, `--now: "yesterday" is not a date and time`) {
		t.Errorf("bad --now: exit %d, %q", code, errOut)
	}
}

func TestPlanSpecExample(t *testing.T) {
	args := []string{"plan", "--targets", "testdata/spec-targets.yaml", "--windows", "testdata/spec-windows.yaml",
		"--baseline", "1000", "--from", "2026-11-23T00:00:00+01:00", "--to", "2026-11-30T00:00:00+01:00"}
	code, out, errOut := runCLI(t, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var spot string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "tf1-prime-spot") && !strings.HasPrefix(l, "note:") {
			spot = strings.Join(strings.Fields(l), " ")
		}
	}
	want := "tf1-prime-spot pre-scale 2026-11-25 20:37 CET 2026-11-25 20:45 CET - 21:00 100 2026-11-25 21:19 CET"
	if spot != want {
		t.Errorf("spot row:\n got %q\nwant %q\n%s", spot, want, out)
	}
	if !strings.Contains(out, "storefront/web (Deployment/web, mode metric, 2-300 replicas, 50 load per replica, lead 8m)") {
		t.Errorf("target heading missing:\n%s", out)
	}
	if !strings.Contains(out, "sunday-newsletter") || !strings.Contains(out, "2026-11-29 09:52 CET") {
		t.Errorf("newsletter pre-scaling at 09:52 missing:\n%s", out)
	}

	code, js, _ := runCLI(t, append(args, "--output", "json")...)
	if code != 0 {
		t.Fatalf("json: exit %d", code)
	}
	var doc render.PlanJSON
	if err := json.Unmarshal([]byte(js), &doc); err != nil {
		t.Fatalf("--output json is not JSON: %v\n%s", err, js)
	}
	if len(doc.Targets) != 1 || doc.Targets[0].Target != "storefront/web" {
		t.Fatalf("targets: %+v", doc.Targets)
	}
	var ep *render.EpisodeJSON
	for i, e := range doc.Targets[0].Episodes {
		if len(e.Windows) == 1 && e.Windows[0] == "tf1-prime-spot" {
			ep = &doc.Targets[0].Episodes[i]
		}
	}
	if ep == nil {
		t.Fatalf("no tf1-prime-spot episode: %s", js)
	}
	paris, _ := time.LoadLocation("Europe/Paris")
	if !ep.Start.Equal(time.Date(2026, 11, 25, 20, 37, 0, 0, paris)) || ep.Replicas == nil || *ep.Replicas != 100 {
		t.Errorf("json episode start %s replicas %v, want 20:37 and 100", ep.Start, ep.Replicas)
	}
	last := ep.Steps[len(ep.Steps)-1]
	if !last.At.Equal(time.Date(2026, 11, 25, 21, 18, 0, 0, paris)) || *last.Replicas != 20 ||
		ep.End == nil || !ep.End.Equal(time.Date(2026, 11, 25, 21, 19, 0, 0, paris)) {
		t.Errorf("step-down: last step %+v, end %v; want 20 replicas at 21:18, released 21:19", last, ep.End)
	}
	wantWarnings := []string{
		`testdata/spec-windows.yaml:3: warning: window "tf1-prime-spot": targets: storefront/api selects no target; the only target in storefront is web`,
		`testdata/spec-windows.yaml:13: warning: window "staging-nights": targets: staging/* selects no target; no target is in namespace staging`,
	}
	if strings.Join(doc.Warnings, "\n") != strings.Join(wantWarnings, "\n") {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(doc.Warnings, "\n"), strings.Join(wantWarnings, "\n"))
	}
	for _, note := range []string{
		`note: window "tf1-prime-spot": targets: storefront/api selects no target; the only target in storefront is web`,
		`note: window "staging-nights": targets: staging/* selects no target; no target is in namespace staging`,
	} {
		if !strings.Contains(out, "\n"+note+"\n") {
			t.Errorf("table without %q:\n%s", note, out)
		}
	}
}

func TestPlanWithoutBaselineSaysWhatIsMissing(t *testing.T) {
	code, out, _ := runCLI(t, "plan", "--targets", "testdata/spec-targets.yaml", "--windows", "testdata/spec-windows.yaml",
		"--from", "2026-11-25T12:00:00Z", "--to", "2026-11-26T00:00:00Z")
	if code != 0 || !strings.Contains(out, "? (needs --baseline)") || !strings.Contains(out, "2026-11-25 20:37 CET") {
		t.Errorf("exit %d:\n%s", code, out)
	}
}

func TestPlanBaselineFromCSV(t *testing.T) {
	code, out, errOut := runCLI(t, "plan", "--targets", "testdata/spec-targets.yaml", "--windows", "testdata/spec-windows.yaml",
		"--from", "2026-11-25T12:00:00Z", "--to", "2026-11-26T00:00:00Z", "--baseline", "testdata/baseline.csv")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	// The load just before 20:37 is 1200: 5 × 1200 / 50 = 120 replicas.
	if !strings.Contains(strings.Join(strings.Fields(out), " "), "21:00 120 ") {
		t.Errorf("want a floor of 120:\n%s", out)
	}
}

func TestPlanQuietWindowInMetricModeIsFlagged(t *testing.T) {
	code, out, _ := runCLI(t, "plan", "--targets", "testdata/staging-targets.yaml", "--windows", "testdata/spec-windows.yaml",
		"--from", "2026-11-23T00:00:00Z", "--to", "2026-11-24T12:00:00Z")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(out, "quiet cap") || !strings.Contains(out, "use mode: scale to reach 0") {
		t.Errorf("want the quiet cap and the scale-mode advice:\n%s", out)
	}
}

func TestVersion(t *testing.T) {
	want := buildinfo.Get()
	t.Run("text", func(t *testing.T) {
		code, out, _ := runCLI(t, "version")
		if code != 0 || out != want.String()+"\n" {
			t.Errorf("exit %d: %q, want %q", code, out, want.String())
		}
	})
	t.Run("json", func(t *testing.T) {
		code, out, _ := runCLI(t, "version", "--output", "json")
		var got buildinfo.Info
		if err := json.Unmarshal([]byte(out), &got); code != 0 || err != nil || got != want {
			t.Errorf("exit %d, %v: %q, want %+v", code, err, out, want)
		}
		for _, key := range []string{`"version"`, `"commit"`, `"buildDate"`, `"goVersion"`, `"platform"`} {
			if !strings.Contains(out, key) {
				t.Errorf("no %s in %s", key, out)
			}
		}
	})
	t.Run("a wrong format", func(t *testing.T) {
		code, _, errOut := runCLI(t, "version", "-o", "yaml")
		if want := "primetime: --output must be text or json, got \"yaml\"\n"; code != 2 || errOut != want {
			t.Errorf("exit %d: %q, want %q", code, errOut, want)
		}
	})
}

func TestPlanWithoutToReachesAWindowFourWeeksAhead(t *testing.T) {
	code, out, errOut := runCLI(t, "plan", "--targets", "testdata/spec-targets.yaml", "--windows", "testdata/far-windows.yaml",
		"--baseline", "1000", "--from", "2026-12-02T09:00:00Z")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var rows []string
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 0 && (f[0] == "new-year-spot" || f[0] == "sunday-newsletter") {
			rows = append(rows, strings.Join(f, " "))
		}
	}
	// The newsletter skips 27 December (except:); the spot on 30 December,
	// four weeks after --from, is planned through its release.
	want := []string{
		"sunday-newsletter pre-scale 2026-12-06 09:52 CET 2026-12-06 10:00 CET - 11:00 40 2026-12-06 11:14 CET",
		"sunday-newsletter pre-scale 2026-12-13 09:52 CET 2026-12-13 10:00 CET - 11:00 40 2026-12-13 11:14 CET",
		"sunday-newsletter pre-scale 2026-12-20 09:52 CET 2026-12-20 10:00 CET - 11:00 40 2026-12-20 11:14 CET",
		"new-year-spot pre-scale 2026-12-30 20:37 CET 2026-12-30 20:45 CET - 21:00 100 2026-12-30 21:19 CET",
	}
	if strings.Join(rows, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows:\n%s\nwant:\n%s\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"), out)
	}

	// With nothing ahead, the plan still covers 7 days.
	code, js, _ := runCLI(t, "plan", "--targets", "testdata/spec-targets.yaml", "--windows", "testdata/far-windows.yaml",
		"--baseline", "1000", "--from", "2027-06-01T00:00:00Z", "--output", "json")
	var doc render.PlanJSON
	if err := json.Unmarshal([]byte(js), &doc); code != 0 || err != nil {
		t.Fatalf("exit %d, %v: %s", code, err, js)
	}
	if want := time.Date(2027, 6, 8, 0, 0, 0, 0, time.UTC); !doc.To.Equal(want) {
		t.Errorf("to %s, want %s", doc.To, want)
	}
}

func TestLintWarnsOfASpotDuringARecurringWindow(t *testing.T) {
	code, out, _ := runCLI(t, "lint", "--now", "2026-12-02 15:00", "testdata/spec-targets.yaml", "testdata/overlap-windows.yaml")
	want := `testdata/overlap-windows.yaml:9: warning: window "sunday-spot": expect: 5x overlaps window "sunday-newsletter" (2x) on storefront/web from 2026-12-13 10:30 to 10:45 CET: the higher floor wins there; give both the same multiplier or move one
ok: 2 files, 1 target, 3 windows (1 warning)`
	if code != 0 || strings.TrimSpace(out) != want {
		t.Errorf("exit %d:\n%s\nwant:\n%s", code, out, want)
	}
}

// plan says how each target is served: a metric target through the
// external metrics API or as a KEDA external trigger (serve --keda-addr);
// an hpa-floor target warns that KEDA reverts the HPAs it generates.
func TestPlanSaysHowTargetsAreServedWithKEDA(t *testing.T) {
	floorTargets := filepath.Join(t.TempDir(), "floor.yaml")
	if err := os.WriteFile(floorTargets, []byte(`targets:
  - name: api
    namespace: storefront
    scaleTargetRef: {kind: Deployment, name: api}
    load: {prometheus: 'sum(rate(http_requests_total{app="api"}[1m]))'}
    capacityPerReplica: 50
    maxReplicas: 100
    mode: hpa-floor
`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, targets, want string
	}{
		{"metric mode", "testdata/spec-targets.yaml",
			"  served as primetime_replicas (selector target=web) through external.metrics.k8s.io, or to KEDA as an `external` trigger with metadata target: storefront/web\n"},
		{"hpa-floor mode", floorTargets,
			"  raises minReplicas of the HPA on Deployment/api; KEDA puts back the minReplicas of an HPA it generated (keda-hpa-*): with KEDA, use mode: metric and an `external` trigger\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, "plan", "--targets", tc.targets, "--windows", "testdata/spec-windows.yaml",
				"--from", "2026-11-25T12:00:00Z", "--to", "2026-11-26T00:00:00Z")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			lines := strings.SplitAfter(out, "\n")
			if len(lines) < 2 || lines[1] != tc.want {
				t.Errorf("second line %q, want %q\n%s", lines[1], tc.want, out)
			}
		})
	}
	t.Run("json", func(t *testing.T) {
		code, js, _ := runCLI(t, "plan", "--targets", "testdata/spec-targets.yaml", "--targets", floorTargets,
			"--windows", "testdata/spec-windows.yaml", "--from", "2026-11-25T12:00:00Z", "--to", "2026-11-26T00:00:00Z", "--output", "json")
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
		var doc render.PlanJSON
		if err := json.Unmarshal([]byte(js), &doc); err != nil {
			t.Fatal(err)
		}
		served := map[string]*render.ServingJSON{}
		for _, tp := range doc.Targets {
			served[tp.Target] = tp.Served
		}
		web := served["storefront/web"]
		if web == nil || web.ExternalMetric != (render.ExternalMetricJSON{Name: "primetime_replicas", Selector: "target=web"}) ||
			web.KEDA.Type != "external" || len(web.KEDA.Metadata) != 1 || web.KEDA.Metadata["target"] != "storefront/web" {
			t.Errorf("storefront/web served %+v", web)
		}
		if api, ok := served["storefront/api"]; !ok || api != nil {
			t.Errorf("storefront/api (hpa-floor) served %+v (listed: %v), want none", api, ok)
		}
	})
}

// lint reads KEDA ScaledObjects for their primetime triggers: the
// example of docs/install.md passes with its target; the traps that
// undo a pre-scaling or never reach primetime are named.
func TestLintKEDAScaledObjects(t *testing.T) {
	t.Run("the documented ScaledObject", func(t *testing.T) {
		code, out, errOut := runCLI(t, "lint", "testdata/spec-targets.yaml", "testdata/keda-scaledobject.yaml")
		if code != 0 || out != "ok: 2 files, 1 target, 0 windows, 1 ScaledObject\n" {
			t.Errorf("exit %d, output %q %s", code, out, errOut)
		}
	})
	t.Run("traps", func(t *testing.T) {
		code, out, errOut := runCLI(t, "lint", "testdata/spec-targets.yaml", "testdata/keda-traps.yaml")
		if code != 1 || errOut != "3 problems in 2 files\n" {
			t.Errorf("exit %d, stderr %q, want 1 and 3 problems", code, errOut)
		}
		want := []string{
			`testdata/keda-traps.yaml:6: warning: ScaledObject "storefront/api": fallback.behavior: unset (static) sets the workload to fallback.replicas (0) when primetime cannot answer, even in the middle of a pre-scaled window; use currentReplicasIfHigher`,
			`testdata/keda-traps.yaml:6: warning: ScaledObject "storefront/api": fallback.replicas: 0 with minReplicaCount 0: KEDA scales the workload to 0 when primetime cannot answer; set fallback.replicas to at least the target's minReplicas`,
			`testdata/keda-traps.yaml:9: warning: ScaledObject "storefront/api": triggers[0].metadata.target: no target storefront/api among the 1 targets given: primetime answers NotFound`,
			`testdata/keda-traps.yaml:17: warning: ScaledObject "storefront/shop": fallback.behavior: static sets the workload to fallback.replicas (5) when primetime cannot answer, even in the middle of a pre-scaled window; use currentReplicasIfHigher`,
			`testdata/keda-traps.yaml:20: warning: ScaledObject "storefront/shop": triggers[0].metadata.target: the ScaledObject scales StatefulSet/shop but target storefront/web describes Deployment/web`,
			`testdata/keda-traps.yaml:20: warning: ScaledObject "storefront/shop": triggers[0].metadata.target: KEDA's HPA stops at maxReplicaCount 100, below target storefront/web's maxReplicas 300: set maxReplicaCount to 300`,
			`testdata/keda-traps.yaml:28: ScaledObject "storefront/broken": triggers[0].metadata.target: missing: set it to the primetime target as namespace/name, e.g. target: storefront/web`,
			`testdata/keda-traps.yaml:31: ScaledObject "storefront/broken": triggers[1].metricType: Value: primetime serves replicas with a target of 1 per replica, which only AverageValue (the default) reads as replicas; remove metricType`,
			`testdata/keda-traps.yaml:32: ScaledObject "storefront/broken": triggers[1].metadata.target: "web" is not namespace/name of a primetime target, e.g. storefront/web`,
		}
		if got := strings.TrimSpace(out); got != strings.Join(want, "\n") {
			t.Errorf("lint output:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
		}
	})
	t.Run("a target in another mode", func(t *testing.T) {
		floor := filepath.Join(t.TempDir(), "floor.yaml")
		if err := os.WriteFile(floor, []byte(`targets:
  - name: web
    namespace: storefront
    scaleTargetRef: {kind: Deployment, name: web}
    load: {prometheus: 'sum(rate(http_requests_total{app="web"}[1m]))'}
    capacityPerReplica: 50
    maxReplicas: 300
    mode: hpa-floor
`), 0o600); err != nil {
			t.Fatal(err)
		}
		code, out, _ := runCLI(t, "lint", floor, "testdata/keda-scaledobject.yaml")
		want := `testdata/keda-scaledobject.yaml:20: warning: ScaledObject "storefront/web": triggers[1].metadata.target: target storefront/web uses mode hpa-floor: with KEDA use mode: metric (KEDA puts back the minReplicas of the HPA it generates, and scale mode would fight it)
ok: 2 files, 1 target, 0 windows, 1 ScaledObject (1 warning)
`
		if code != 0 || out != want {
			t.Errorf("exit %d, output:\n%s\nwant:\n%s", code, out, want)
		}
	})
}
