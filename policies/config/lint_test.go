package config

import (
	"strings"
	"testing"
	"time"

	"github.com/primetime-dev/primetime/ground"
)

const lintTargets = `targets:
  - name: web
    namespace: storefront
    scaleTargetRef: {kind: Deployment, name: web}
    load: {prometheus: 'sum(rate(x[1m]))'}
    capacityPerReplica: 50
    minReplicas: 2
    maxReplicas: 300
    leadTime: 8m
`

// lintLines parses targets and windows as lint does and returns every
// problem's line, in order.
func lintLines(t *testing.T, windows string, now time.Time) []string {
	t.Helper()
	all := &Result{}
	all.Merge(ParseFile("targets.yaml", []byte(lintTargets)))
	all.Merge(ParseFile("w.yaml", []byte(windows)))
	problems := append(all.Problems, CrossCheck(all.Targets, all.Windows)...)
	problems = append(problems, Timing(all.Targets, all.Windows, now, nil)...)
	problems.Sort()
	var out []string
	for _, p := range problems {
		out = append(out, p.Error())
	}
	return out
}

func TestLintRulesExactMessages(t *testing.T) {
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name    string
		windows string
		want    []string
	}{
		{"each selector on its own, with a suggestion",
			"windows:\n  - name: spot\n    start: \"2026-11-25 20:45\"\n    duration: 15m\n    expect: 2x\n    targets: [storefront/web, storefront/wbe, shop/*, storefrnt/*]\n",
			[]string{
				`w.yaml:2: warning: window "spot": targets: storefront/wbe selects no target; did you mean storefront/web?`,
				`w.yaml:2: warning: window "spot": targets: shop/* selects no target; no target is in namespace shop`,
				`w.yaml:2: warning: window "spot": targets: storefrnt/* selects no target; did you mean storefront/*?`,
			}},
		{"floor 0 without quiet",
			"windows:\n  - name: zero\n    cron: \"0 20 * * *\"\n    duration: 1h\n    replicas: 0\n    targets: [storefront/web]\n",
			[]string{`w.yaml:5: window "zero": replicas: 0 is a floor of 0, which does nothing; to cap the target at 0 replicas add quiet: true`}},
		{"multiplier clamped by maxReplicas",
			"windows:\n  - name: spot\n    start: \"2026-11-25 20:45\"\n    duration: 15m\n    expect: 900x\n    targets: [storefront/web]\n",
			[]string{`w.yaml:2: warning: window "spot": expect: 900x is clamped on storefront/web: even from its minReplicas 2 it asks for 1800 replicas, more than its maxReplicas 300, so the floor stops at 300 (whenever the usual load is above 16.67)`}},
		{"a multiplier the bounds allow says nothing",
			"windows:\n  - name: spot\n    start: \"2026-11-25 20:45\"\n    duration: 15m\n    expect: 150x\n    targets: [storefront/web]\n",
			nil},
		{"replicas above maxReplicas",
			"windows:\n  - name: sale\n    start: \"2026-11-25 20:45\"\n    duration: 15m\n    replicas: 500\n    targets: [storefront/web]\n",
			[]string{`w.yaml:2: warning: window "sale": replicas: 500 is clamped on storefront/web: the floor stops at its maxReplicas 300`}},
		{"replicas at or below minReplicas",
			"windows:\n  - name: sale\n    start: \"2026-11-25 20:45\"\n    duration: 15m\n    replicas: 2\n    targets: [storefront/web]\n",
			[]string{`w.yaml:2: warning: window "sale": replicas: 2 sets no floor on storefront/web: its minReplicas is 2 already`}},
		{"floor 0 with quiet is a cap",
			"windows:\n  - name: night\n    cron: \"0 20 * * *\"\n    duration: 1h\n    replicas: 0\n    quiet: true\n    targets: [storefront/web]\n",
			[]string{`w.yaml:2: warning: window "night": replicas: target storefront/web uses mode metric: an HPA cannot go below 1 replica unless the cluster allows scale-to-zero, so this cap stops at 1; use mode: scale to reach 0`}},
		{"a misspelt window timezone is that window's own error",
			"windows:\n  - name: a\n    timezone: Europe/Pariss\n    start: \"2026-11-25 20:45\"\n    duration: 15m\n    expect: 2x\n    targets: [storefront/web]\n",
			[]string{`w.yaml:3: window "a": timezone: unknown time zone "Europe/Pariss"; use an IANA name such as Europe/Paris, America/New_York or UTC`}},
		{"the file's timezone error does not hide the other problems",
			"timezone: Europe/Pariss\nwindows:\n  - name: a\n    start: \"2026-11-25 20:45\"\n    duration: 15 minutes\n    expect: 2x\n    targets: [storefront/web]\n",
			[]string{
				`w.yaml:1: timezone: unknown time zone "Europe/Pariss"; use an IANA name such as Europe/Paris, America/New_York or UTC; the window without a timezone of its own is rejected until this is fixed`,
				`w.yaml:5: window "a": duration: "15 minutes" is not a duration; write it like 90s, 15m, 1h30m or 7d`,
			}},
		{"a window still on air is not in the past",
			"windows:\n  - name: sale\n    start: \"2026-10-31 12:00\"\n    duration: 2d\n    expect: 2x\n    targets: [storefront/web]\n",
			nil},
		{"overlapping windows with the same multiplier say nothing",
			"windows:\n  - name: a\n    start: \"2026-11-25 20:45\"\n    duration: 15m\n    expect: 5x\n    targets: [storefront/web]\n  - name: b\n    start: \"2026-11-25 20:50\"\n    duration: 15m\n    expect: 5x\n    targets: [storefront/web]\n",
			nil},
		{"back-to-back windows do not overlap",
			"windows:\n  - name: a\n    start: \"2026-11-25 20:45\"\n    duration: 15m\n    expect: 5x\n    targets: [storefront/web]\n  - name: b\n    start: \"2026-11-25 21:00\"\n    duration: 15m\n    expect: 3x\n    targets: [storefront/web]\n",
			nil},
		{"load clamped by maxReplicas",
			"windows:\n  - name: spot\n    start: \"2026-11-25 20:45\"\n    duration: 15m\n    expect: 20000\n    targets: [storefront/web]\n",
			[]string{`w.yaml:2: warning: window "spot": expect: 20000 is clamped on storefront/web: it needs 400 replicas at 50 per replica, more than its maxReplicas 300, so the floor stops at 300`}},
		{"one timezone error per file",
			"timezone: Europe/Pariss\nwindows:\n  - name: a\n    start: \"2026-11-25 20:45\"\n    duration: 15m\n    expect: 2x\n    targets: [storefront/web]\n  - name: b\n    cron: \"0 10 * * SUN\"\n    duration: 1h\n    expect: 2x\n    targets: [storefront/web]\n  - name: c\n    timezone: UTC\n    cron: \"0 10 * * SUN\"\n    duration: 1h\n    expect: 2x\n    targets: [storefront/web]\n",
			[]string{`w.yaml:1: timezone: unknown time zone "Europe/Pariss"; use an IANA name such as Europe/Paris, America/New_York or UTC; the 2 windows without a timezone of their own are rejected until this is fixed`}},
		{"a window entirely in the past",
			"timezone: Europe/Paris\nwindows:\n  - name: old\n    start: \"2026-10-25 20:45\"\n    duration: 15m\n    expect: 2x\n    targets: [storefront/web]\n",
			[]string{`w.yaml:3: warning: window "old": start: the window ended at 2026-10-25 21:00 CET, before now: it will never apply; remove it or fix its date`}},
		{"overlapping windows with different multipliers",
			"timezone: Europe/Paris\nwindows:\n  - name: a\n    start: \"2026-11-25 20:45\"\n    duration: 15m\n    expect: 5x\n    targets: [storefront/web]\n  - name: b\n    start: \"2026-11-25 20:50\"\n    duration: 15m\n    expect: 3x\n    targets: [storefront/*]\n",
			[]string{`w.yaml:8: warning: window "b": expect: 3x overlaps window "a" (5x) on storefront/web from 2026-11-25 20:50 to 21:00 CET: the higher floor wins there; give both the same multiplier or move one`}},
		{"except dates and ranges",
			"windows:\n  - name: hol\n    cron: \"0 10 * * SUN\"\n    except:\n      - 2026-12-27\n      - 2027-01-05..2027-01-02\n      - 27 Dec\n      - \"2026-12-27 10:00\"\n    duration: 1h\n    expect: 2x\n    targets: [storefront/web]\n",
			[]string{
				`w.yaml:6: window "hol": except: "2027-01-05..2027-01-02" ends before it starts; write the earlier date first`,
				`w.yaml:7: window "hol": except: "27 Dec" is not a date; write a date like 2026-12-27 or a range like 2026-12-24..2027-01-02`,
				`w.yaml:8: window "hol": except: "2026-12-27 10:00" is not a date: except skips whole days, so give the day alone, like 2026-12-27`,
			}},
		{"except on a one-off window",
			"windows:\n  - name: once\n    start: \"2026-11-25 20:45\"\n    except: [2026-11-25]\n    duration: 15m\n    expect: 2x\n    targets: [storefront/web]\n",
			[]string{`w.yaml:4: window "once": except: a one-off window has one date; remove except or make it recurring`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := lintLines(t, tc.windows, now)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d problems, want %d:\n%q", len(got), len(tc.want), got)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("problem %d:\n got %s\nwant %s", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestSuggestionsCountASwapAsOneTypo(t *testing.T) {
	cases := []struct {
		name, windows, want string
	}{
		{"a field", "windows:\n  - name: spot\n    start: \"2026-11-25 20:45\"\n    duration: 15m\n    expcet: 5x\n    targets: [storefront/web]\n",
			`w.yaml:5: window "spot": expcet: unknown field; did you mean "expect"?`},
		{"a selector", "windows:\n  - name: spot\n    start: \"2026-11-25 20:45\"\n    duration: 15m\n    expect: 5x\n    targets: [sotrefront/web]\n",
			`w.yaml:2: warning: window "spot": targets: sotrefront/web selects no target; did you mean storefront/web?`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := lintLines(t, tc.windows, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
			found := false
			for _, g := range got {
				found = found || g == tc.want
			}
			if !found {
				t.Errorf("want %s among:\n%s", tc.want, strings.Join(got, "\n"))
			}
		})
	}
}

func TestExceptParsesDatesAndRanges(t *testing.T) {
	res := ParseFile("w.yaml", []byte("windows:\n  - name: hol\n    cron: \"0 10 * * SUN\"\n    except: [\"2026-12-27\", \"2026-12-24..2027-01-02\"]\n    duration: 1h\n    expect: 2x\n    targets: [storefront/web]\n"))
	if len(res.Problems) > 0 || len(res.Windows) != 1 {
		t.Fatalf("problems: %v", res.Problems)
	}
	want := []ground.DateRange{
		{From: ground.Date{Year: 2026, Month: 12, Day: 27}, To: ground.Date{Year: 2026, Month: 12, Day: 27}},
		{From: ground.Date{Year: 2026, Month: 12, Day: 24}, To: ground.Date{Year: 2027, Month: 1, Day: 2}},
	}
	got := res.Windows[0].Except
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("except %v, want %v", got, want)
	}
}
