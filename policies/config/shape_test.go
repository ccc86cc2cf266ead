package config

import (
	"strings"
	"testing"
	"time"
)

// TestWindowShape: "shape: learned" or "flat" on a window, and the
// errors of a shape that cannot be, word for word.
func TestWindowShape(t *testing.T) {
	const when = "    start: \"2026-11-25 20:45\"\n    duration: 15m\n    targets: [storefront/web]\n"
	cases := []struct {
		name  string
		entry string // the lines after "  - name: w", the shape last (line 8)
		err   string // "": accepted
		want  bool   // ShapeLearned
	}{
		{"learned", when + "    group: tv-spots\n    expect: 5x\n    shape: learned\n", "", true},
		{"learned in capitals", when + "    group: tv-spots\n    expect: 5x\n    shape: \" Learned \"\n", "", true},
		{"learned with expect: learned", when + "    group: tv-spots\n    expect: learned\n    initially: 5x\n    shape: learned\n", "", true},
		{"learned on a load", when + "    group: tv-spots\n    expect: 12000\n    shape: learned\n", "", true},
		{"flat", when + "    group: tv-spots\n    expect: 5x\n    shape: flat\n", "", false},
		{"flat on a replicas window", when + "    group: tv-spots\n    replicas: 40\n    shape: flat\n", "", false},
		{"none given", when + "    group: tv-spots\n    expect: 5x\n", "", false},
		{"a shape that is not one", when + "    group: tv-spots\n    expect: 5x\n    shape: wavy\n",
			`w.yaml:8: window "w": shape: must be learned or flat, got "wavy"`, false},
		{"a number", when + "    group: tv-spots\n    expect: 5x\n    shape: 3\n",
			`w.yaml:8: window "w": shape: must be learned or flat, got "3"`, false},
		{"empty", when + "    group: tv-spots\n    expect: 5x\n    shape: \"\"\n",
			`w.yaml:8: window "w": shape: is empty; give a value or remove the line`, false},
		{"a list", when + "    group: tv-spots\n    expect: 5x\n    shape: [learned]\n",
			`w.yaml:8: window "w": shape: must be a single value, not a list`, false},
		{"learned on a quiet window", when + "    quiet: true\n    replicas: 0\n    shape: learned\n",
			`w.yaml:8: window "w": shape: a quiet window caps replicas and has no shape; remove it`, false},
		{"flat on a quiet window", when + "    quiet: true\n    replicas: 0\n    shape: flat\n",
			`w.yaml:8: window "w": shape: a quiet window caps replicas and has no shape; remove it`, false},
		{"learned on a one-off window without a group", when + "    expect: 5x\n    shape: learned\n",
			`w.yaml:7: window "w": shape: is learned from the reports of the window's group; give group (a one-off window has no past occurrences of its own)`, false},
		{"learned on a replicas window", when + "    group: tv-spots\n    replicas: 40\n    shape: learned\n",
			`w.yaml:8: window "w": shape: a replicas window holds its count; shape: learned needs expect (e.g. 5x or learned)`, false},
		{"not a shape on a quiet window: the value is wrong first", when + "    quiet: true\n    replicas: 0\n    shape: wavy\n",
			`w.yaml:8: window "w": shape: must be learned or flat, got "wavy"`, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := ParseFile("w.yaml", []byte("windows:\n  - name: w\n"+tc.entry))
			if tc.err != "" {
				if got := res.Problems.Error(); got != tc.err || len(res.Windows) != 0 {
					t.Fatalf("problems:\n got %s\nwant %s\n(%d windows kept, want 0)", got, tc.err, len(res.Windows))
				}
				return
			}
			requireNoProblems(t, res)
			if len(res.Windows) != 1 || res.Windows[0].ShapeLearned != tc.want {
				t.Fatalf("windows %+v, want one with ShapeLearned %v", res.Windows, tc.want)
			}
		})
	}
}

// TestTargetLeadTime: a fixed leadTime, or "leadTime: learned" with
// minLeadTime (1m by default) and maxLeadTime, and their errors word for
// word.
func TestTargetLeadTime(t *testing.T) {
	// The fields under test go from line 8 on.
	const head = "targets:\n  - name: t\n    namespace: shop\n    scaleTargetRef: {kind: Deployment, name: web}\n    load: {prometheus: 'sum(rate(x[1m]))'}\n    capacityPerReplica: 50\n    maxReplicas: 10\n"
	cases := []struct {
		name     string
		fields   string
		errs     []string // nil: accepted
		learned  bool
		min, max time.Duration // MinLeadTime, LeadTime
	}{
		{"no leadTime: the default", "", nil, false, 0, DefaultLeadTime},
		{"a fixed leadTime", "    leadTime: 8m\n", nil, false, 0, 8 * time.Minute},
		{"learned, the default minLeadTime", "    leadTime: learned\n    maxLeadTime: 10m\n", nil, true, time.Minute, 10 * time.Minute},
		{"learned in capitals, both bounds", "    leadTime: LEARNED\n    minLeadTime: 90s\n    maxLeadTime: 4m\n", nil, true, 90 * time.Second, 4 * time.Minute},
		{"learned, the bounds equal", "    leadTime: learned\n    minLeadTime: 2m\n    maxLeadTime: 2m\n", nil, true, 2 * time.Minute, 2 * time.Minute},
		{"learned, no minimum", "    leadTime: learned\n    minLeadTime: 0s\n    maxLeadTime: 5m\n", nil, true, 0, 5 * time.Minute},
		{"learned without maxLeadTime", "    leadTime: learned\n", []string{
			`t.yaml:8: target "t": maxLeadTime: is missing; leadTime: learned needs the longest lead to allow, e.g. maxLeadTime: 10m`,
		}, false, 0, 0},
		{"learned, minLeadTime alone", "    leadTime: learned\n    minLeadTime: 2m\n", []string{
			`t.yaml:8: target "t": maxLeadTime: is missing; leadTime: learned needs the longest lead to allow, e.g. maxLeadTime: 10m`,
		}, false, 0, 0},
		{"maxLeadTime below the default minLeadTime", "    leadTime: learned\n    maxLeadTime: 30s\n", []string{
			`t.yaml:9: target "t": maxLeadTime: must be at least minLeadTime (1m), got 30s`,
		}, false, 0, 0},
		{"maxLeadTime below minLeadTime", "    leadTime: learned\n    minLeadTime: 5m\n    maxLeadTime: 2m\n", []string{
			`t.yaml:10: target "t": maxLeadTime: must be at least minLeadTime (5m), got 2m`,
		}, false, 0, 0},
		{"maxLeadTime too long", "    leadTime: learned\n    maxLeadTime: 48h\n", []string{
			`t.yaml:9: target "t": maxLeadTime: must be between 1s and 1d, got 48h`,
		}, false, 0, 0},
		{"maxLeadTime without a unit", "    leadTime: learned\n    maxLeadTime: 10\n", []string{
			`t.yaml:9: target "t": maxLeadTime: "10" needs a unit, for example 15m, 2h or 1d`,
		}, false, 0, 0},
		{"minLeadTime words", "    leadTime: learned\n    minLeadTime: soon\n    maxLeadTime: 10m\n", []string{
			`t.yaml:9: target "t": minLeadTime: "soon" is not a duration; write it like 90s, 15m, 1h30m or 7d`,
		}, false, 0, 0},
		{"minLeadTime with a fixed leadTime", "    leadTime: 8m\n    minLeadTime: 2m\n", []string{
			`t.yaml:9: target "t": minLeadTime: bounds a learned lead; it goes with leadTime: learned`,
		}, false, 0, 0},
		{"maxLeadTime without leadTime", "    maxLeadTime: 10m\n", []string{
			`t.yaml:8: target "t": maxLeadTime: bounds a learned lead; it goes with leadTime: learned`,
		}, false, 0, 0},
		{"both bounds with a fixed leadTime", "    leadTime: 8m\n    minLeadTime: 2m\n    maxLeadTime: 10m\n", []string{
			`t.yaml:9: target "t": minLeadTime: bounds a learned lead; it goes with leadTime: learned`,
			`t.yaml:10: target "t": maxLeadTime: bounds a learned lead; it goes with leadTime: learned`,
		}, false, 0, 0},
		{"a leadTime that is neither", "    leadTime: early\n", []string{
			`t.yaml:8: target "t": leadTime: "early" is not a duration nor learned; write it like 90s, 15m, 1h30m, or learned`,
		}, false, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := ParseFile("t.yaml", []byte(head+tc.fields))
			if tc.errs != nil {
				if got, want := res.Problems.Error(), strings.Join(tc.errs, "\n"); got != want || len(res.Targets) != 0 {
					t.Fatalf("problems:\n got %s\nwant %s\n(%d targets kept, want 0)", got, want, len(res.Targets))
				}
				return
			}
			requireNoProblems(t, res)
			if len(res.Targets) != 1 {
				t.Fatalf("%d targets, want 1", len(res.Targets))
			}
			tg := res.Targets[0]
			if tg.LeadLearned != tc.learned || tg.MinLeadTime != tc.min || tg.LeadTime != tc.max {
				t.Errorf("learned %v, minLeadTime %s, leadTime %s; want %v, %s, %s", tg.LeadLearned, tg.MinLeadTime, tg.LeadTime, tc.learned, tc.min, tc.max)
			}
		})
	}
}
