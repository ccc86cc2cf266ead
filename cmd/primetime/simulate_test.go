package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/primetime-dev/primetime/simulate"
)

const (
	tvTrace   = "../../docs/traces/tv-spot.csv"
	tvTargets = "../../docs/traces/tv-spot.targets.yaml"
	tvWindows = "../../docs/traces/tv-spot.windows.yaml"
)

func TestSimulateTable(t *testing.T) {
	code, out, errOut := runCLI(t, "simulate", "--trace", tvTrace, "--targets", tvTargets, "--windows", tvWindows)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"target storefront/web, 2h inside announced windows",
		"models: pod start-up 1m30s, metric delay 1m0s, HPA sync 15s, primetime interval 15s",
		"strategy  unserved load  in windows", "primetime", "reactive", "static", "oracle",
		"unserved load inside each announced window:", "tv-spot-11-16-2041  Mon 2026-11-16 20:41",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the table has no %q:\n%s", want, out)
		}
	}
}

func TestSimulateJSONAndSVG(t *testing.T) {
	svg := filepath.Join(t.TempDir(), "spot.svg")
	code, out, errOut := runCLI(t, "simulate", "--trace", tvTrace, "--targets", tvTargets, "--windows", tvWindows,
		"--strategy", "primetime", "--strategy", "reactive", "-o", "json", "--svg", svg, "--svg-from", "2026-11-16 20:00", "--svg-to", "2026-11-16 22:00")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var rep simulate.ReportJSON
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if len(rep.Results) != 2 || rep.Results[0].Strategy != "primetime" || rep.Results[1].Strategy != "reactive" {
		t.Fatalf("results %+v, want primetime then reactive", rep.Results)
	}
	if rep.Results[0].UnservedInWindows != 0 || rep.Results[1].UnservedInWindows == 0 {
		t.Errorf("unserved in windows: primetime %.0f, reactive %.0f", rep.Results[0].UnservedInWindows, rep.Results[1].UnservedInWindows)
	}
	b, err := os.ReadFile(svg)
	if err != nil || !strings.Contains(string(b), "<svg") || !strings.Contains(string(b), "time (Europe/Paris)") {
		t.Errorf("--svg wrote %d bytes (%v), want an SVG with a Europe/Paris time axis", len(b), err)
	}
}

func TestSimulateGenerate(t *testing.T) {
	prefix := filepath.Join(t.TempDir(), "week")
	code, out, errOut := runCLI(t, "simulate", "--generate", "organic-week", "--days", "1", "--out", prefix)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "5760 rows from") {
		t.Errorf("output: %s", out)
	}
	for name, want := range map[string]bool{".csv": true, ".targets.yaml": true, ".windows.yaml": false} {
		if _, err := os.Stat(prefix + name); (err == nil) != want {
			t.Errorf("%s written: %v, want %v", name, err == nil, want)
		}
	}
	// What it wrote simulates.
	if code, _, errOut := runCLI(t, "simulate", "--trace", prefix+".csv", "--targets", prefix+".targets.yaml", "--strategy", "oracle"); code != 0 {
		t.Errorf("simulating the generated trace: exit %d: %s", code, errOut)
	}
}

func TestSimulateBadInput(t *testing.T) {
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no trace", []string{"--targets", tvTargets}, 2, "--trace is required"},
		{"unknown strategy", []string{"--trace", tvTrace, "--targets", tvTargets, "--strategy", "yolo"}, 2, `--strategy: unknown strategy "yolo"`},
		{"bad trace row", []string{"--trace", "testdata/bad-trace.csv", "--targets", tvTargets}, 2, `testdata/bad-trace.csv:3: load: want a number >= 0, got "x"`},
		{"two targets", []string{"--trace", tvTrace, "--targets", tvTargets, "--targets", "testdata/staging-targets.yaml"}, 2,
			"the targets files hold 2 targets (storefront/web, staging/web): name the trace's with --target"},
		{"unknown target", []string{"--trace", tvTrace, "--targets", tvTargets, "--target", "shop/web"}, 2, `--target: no valid target "shop/web"`},
		{"zero interval", []string{"--trace", tvTrace, "--targets", tvTargets, "--interval", "0s"}, 2, "--interval must be positive"},
		{"generate without out", []string{"--generate", "tv-spot"}, 2, "--generate needs --out PREFIX"},
		{"generate unknown kind", []string{"--generate", "flash", "--out", "x"}, 2, `unknown trace "flash"`},
		{"stabilization over an hour", []string{"--trace", tvTrace, "--targets", tvTargets, "--hpa-scale-down-stabilization", "2h"}, 2,
			"--hpa-scale-down-stabilization must be whole seconds from 0s to 1h (the HPA's stabilizationWindowSeconds: 0-3600), got 2h0m0s"},
		{"negative stabilization", []string{"--trace", tvTrace, "--targets", tvTargets, "--hpa-scale-down-stabilization", "-1s"}, 2, "--hpa-scale-down-stabilization must be whole seconds"},
		{"stabilization not whole seconds", []string{"--trace", tvTrace, "--targets", tvTargets, "--hpa-scale-down-stabilization", "1500ms"}, 2, "got 1.5s"},
		{"zero percent", []string{"--trace", tvTrace, "--targets", tvTargets, "--hpa-scale-down-percent", "0"}, 2, "--hpa-scale-down-percent must be from 1 to 100, got 0"},
		{"percent over 100", []string{"--trace", tvTrace, "--targets", tvTargets, "--hpa-scale-down-percent", "150"}, 2, "--hpa-scale-down-percent must be from 1 to 100, got 150"},
		{"zero period", []string{"--trace", tvTrace, "--targets", tvTargets, "--hpa-scale-down-period", "0s"}, 2,
			"--hpa-scale-down-period must be whole seconds from 1s to 30m (the HPA's periodSeconds: 1-1800), got 0s"},
		{"generate with zero noise", []string{"--generate", "tv-spot", "--out", "x", "--noise", "0"}, 2, "--noise must be above 0 and at most 1, got 0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, append([]string{"simulate"}, c.args...)...)
			if code != c.code || !strings.Contains(errOut, c.want) {
				t.Errorf("exit %d, stderr %q; want exit %d saying %q", code, errOut, c.code, c.want)
			}
		})
	}
}

// make demo's first part: the demo spot's timeline, as a person reads it.
func TestSimulateTimeline(t *testing.T) {
	const demo = "../../docs/traces/demo-spot"
	code, out, errOut := runCLI(t, "simulate", "--trace", demo+".csv", "--targets", demo+".targets.yaml", "--windows", demo+".windows.yaml",
		"--startup", "20s", "--metric-delay", "15s", "--hpa-sync", "15s", "--interval", "5s",
		"--strategy", "primetime", "--strategy", "reactive", "--timeline", "10s")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"tf1-spot at 20:42:00: a 1m window; leadTime 1m15s, pods start in 20s, the load is seen 15s late",
		"time  load (req/s)       window  primetime floor  primetime replicas (ready)  reactive HPA replicas (ready)",
		"20:40:40            43       before                -                       5 (5)                          5 (5)",
		"20:40:50            42  pre-scaling               18                      10 (5)                          5 (5)",
		"primetime: pre-scaling from 20:40:50 (floor 18); 18 of the 18 replicas the spot needs ready when it started (all of them 40s before); 0 requests unserved in the window",
		"reactive: 5 of the 18 replicas the spot needs ready when it started, never all of them;",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the timeline has no %q:\n%s", want, out)
		}
	}
	if code, _, errOut := runCLI(t, "simulate", "--trace", demo+".csv", "--targets", demo+".targets.yaml", "--timeline", "-5s"); code != 2 || !strings.Contains(errOut, "--timeline must be positive, got -5s") {
		t.Errorf("--timeline -5s: exit %d, %q", code, errOut)
	}
}

// The --hpa-scale-down-* flags set the HPA fed by primetime_replicas:
// with 0 s stabilisation it follows the step-down after the demo spot at
// once, and the table says what it modelled.
func TestSimulatePrimetimeHPAScaleDown(t *testing.T) {
	const demo = "../../docs/traces/demo-spot"
	args := []string{"simulate", "--trace", demo + ".csv", "--targets", demo + ".targets.yaml", "--windows", demo + ".windows.yaml",
		"--strategy", "primetime", "--strategy", "reactive"}
	hours := func(extra ...string) (primetime, reactive float64) {
		t.Helper()
		code, out, errOut := runCLI(t, append(append(args, "-o", "json"), extra...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", extra, code, errOut)
		}
		var rep simulate.ReportJSON
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, out)
		}
		return rep.Results[0].ReplicaHours, rep.Results[1].ReplicaHours
	}
	ptDefault, reDefault := hours()
	ptFlag, reFlag := hours("--hpa-scale-down-stabilization", "5m", "--hpa-scale-down-percent", "100", "--hpa-scale-down-period", "15s")
	if ptFlag != ptDefault || reFlag != reDefault {
		t.Errorf("the defaults given as flags: primetime %.3f, reactive %.3f replica-hours; want %.3f, %.3f", ptFlag, reFlag, ptDefault, reDefault)
	}
	ptZero, reZero := hours("--hpa-scale-down-stabilization", "0s")
	if ptZero >= ptDefault || reZero != reDefault {
		t.Errorf("0s stabilisation: primetime %.3f replica-hours (default %.3f), reactive %.3f (default %.3f); want primetime fewer, reactive the same",
			ptZero, ptDefault, reZero, reDefault)
	}
	code, out, errOut := runCLI(t, append(args, "--hpa-scale-down-stabilization", "0s", "--hpa-scale-down-percent", "50", "--hpa-scale-down-period", "1m")...)
	if code != 0 || !strings.Contains(out, "capacity 10 per replica, primetime's HPA scale-down: 0s stabilisation, 50% per 1m0s\n") {
		t.Errorf("exit %d (%s); the models line does not say the HPA's scale-down:\n%s", code, errOut, out)
	}
	if _, out, _ := runCLI(t, args...); strings.Contains(out, "primetime's HPA scale-down") {
		t.Errorf("the default scale-down is described:\n%s", out)
	}

	// hpa-floor: the HPA is the user's own, on its own metrics.
	targets := filepath.Join(t.TempDir(), "targets.yaml")
	b, err := os.ReadFile(demo + ".targets.yaml")
	if err != nil {
		t.Fatal(err)
	}
	floor := strings.Replace(string(b), "    capacityPerReplica:", "    mode: hpa-floor\n    capacityPerReplica:", 1)
	if err := os.WriteFile(targets, []byte(floor), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = runCLI(t, "simulate", "--trace", demo+".csv", "--targets", targets, "--hpa-scale-down-stabilization", "0s")
	if want := "the --hpa-scale-down-* flags model the HPA fed by primetime_replicas (mode: metric); target storefront/web is mode hpa-floor"; code != 2 || !strings.Contains(errOut, want) {
		t.Errorf("hpa-floor target: exit %d, %q; want exit 2 saying %q", code, errOut, want)
	}
	if code, _, errOut := runCLI(t, "simulate", "--trace", demo+".csv", "--targets", targets, "--strategy", "primetime"); code != 0 {
		t.Errorf("hpa-floor target without the flags: exit %d: %s", code, errOut)
	}
}
