package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// runCLI runs primetime in-process and returns its exit code and output.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestLintReportsEachBadEntryOnce(t *testing.T) {
	code, out, errOut := runCLI(t, "lint", "testdata/three-bad.yaml")
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
	code, out, _ := runCLI(t, "lint", "testdata/spec-targets.yaml", "testdata/spec-windows.yaml")
	if code != 0 {
		t.Errorf("warnings must not fail lint; exit %d", code)
	}
	if !strings.Contains(out, `testdata/spec-windows.yaml:13: warning: window "staging-nights": targets: selects none of the 1 targets given`) ||
		!strings.HasSuffix(out, "ok: 2 files, 1 target, 3 windows (1 warning)\n") {
		t.Errorf("output:\n%s", out)
	}
}

func TestLintUsageErrors(t *testing.T) {
	if code, _, _ := runCLI(t, "lint"); code != 2 {
		t.Errorf("lint with no file: exit %d, want 2", code)
	}
	if code, _, errOut := runCLI(t, "lint", "testdata/missing.yaml"); code != 2 || !strings.Contains(errOut, "missing.yaml") {
		t.Errorf("missing file: exit %d, %q", code, errOut)
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
		if strings.Contains(l, "tf1-prime-spot") {
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
	var doc planJSON
	if err := json.Unmarshal([]byte(js), &doc); err != nil {
		t.Fatalf("--output json is not JSON: %v\n%s", err, js)
	}
	if len(doc.Targets) != 1 || doc.Targets[0].Target != "storefront/web" {
		t.Fatalf("targets: %+v", doc.Targets)
	}
	var ep *episodeJSON
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
	if len(doc.Warnings) != 1 || !strings.Contains(doc.Warnings[0], "staging-nights") {
		t.Errorf("warnings: %v", doc.Warnings)
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
	code, out, _ := runCLI(t, "version")
	if code != 0 || !strings.HasPrefix(out, "primetime ") {
		t.Errorf("exit %d: %q", code, out)
	}
}
