package simulate

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/policies/config"
)

// stepTrace is two hours at 15 s: 1000 req/s, 5000 from 20:45 for 15
// minutes (a spot with no ramp at all), then 1000 again.
func stepTrace() Trace {
	var tr Trace
	spot := t0.Add(45 * time.Minute)
	for t := t0; !t.After(t0.Add(2 * time.Hour)); t = t.Add(15 * time.Second) {
		v := 1000.0
		if !t.Before(spot) && t.Before(spot.Add(15*time.Minute)) {
			v = 5000
		}
		tr = append(tr, ground.Sample{T: t, V: v})
	}
	return tr
}

const stepTarget = `targets:
  - name: web
    namespace: storefront
    scaleTargetRef: {kind: Deployment, name: web}
    load: {datadog: 'sum:hits{service:web}.as_rate()'}
    capacityPerReplica: 50
    minReplicas: 2
    maxReplicas: 300
    leadTime: 5m
`

const stepWindows = `windows:
  - name: spot
    start: "2026-11-25T20:45:00Z"
    duration: 15m
    expect: 5x
    targets: [storefront/web]
`

func parseSetup(t *testing.T, targets, windows string) Setup {
	t.Helper()
	all := config.ParseFile("targets.yaml", []byte(targets))
	all.Merge(config.ParseFile("windows.yaml", []byte(windows)))
	if errs := all.Problems.Errors(); len(errs) > 0 {
		t.Fatalf("fixture: %v", errs)
	}
	return Setup{Trace: stepTrace(), Target: all.Targets[0], Windows: all.Windows, Startup: DefaultStartup, MetricDelay: DefaultMetricDelay}
}

func runAll(t *testing.T, s Setup) map[Strategy]Result {
	t.Helper()
	rep, err := Run(context.Background(), s, Strategies)
	if err != nil {
		t.Fatal(err)
	}
	out := map[Strategy]Result{}
	for _, r := range rep.Results {
		out[r.Strategy] = r
	}
	return out
}

// at returns the strategy's state at t.
func at(t *testing.T, r Result, when time.Time) Point {
	t.Helper()
	for _, p := range r.Points {
		if p.T.Equal(when) {
			return p
		}
	}
	t.Fatalf("%s: no point at %s", r.Strategy, when)
	return Point{}
}

func TestRunAnnouncedStep(t *testing.T) {
	res := runAll(t, parseSetup(t, stepTarget, stepWindows))
	spot := t0.Add(45 * time.Minute)

	pt := res[StrategyPrimetime]
	if pt.UnservedInWindows != 0 {
		t.Errorf("primetime left %.0f unserved inside the announced window, want 0", pt.UnservedInWindows)
	}
	if p := at(t, pt, spot.Add(-15*time.Second)); p.Ready < 100 {
		t.Errorf("primetime: %d replicas ready just before the spot, want the floor of 100 (5 × 1000 / 50)", p.Ready)
	}
	if p := at(t, pt, spot.Add(-5*time.Minute-15*time.Second)); p.Replicas != 20 {
		t.Errorf("primetime: %d replicas before the lead time, want 20 (tracking 1000 / 50)", p.Replicas)
	}

	// The reactive HPA sees the spot a minute late, then waits for pods:
	// at least 150 s of a 4000 req/s shortfall.
	re := res[StrategyReactive]
	if re.UnservedInWindows < 4000*150 {
		t.Errorf("reactive left %.0f unserved in the window, want at least 4000 × 150 s", re.UnservedInWindows)
	}
	if p := at(t, re, spot.Add(45*time.Second)); p.Replicas != 20 {
		t.Errorf("reactive: %d replicas 45 s into the spot, want still 20 (the metric is a minute late)", p.Replicas)
	}

	st := res[StrategyStatic]
	if st.Unserved != 0 || st.PeakReplicas != 100 {
		t.Errorf("static: %.0f unserved, %d replicas; want 0 and the peak need of 100", st.Unserved, st.PeakReplicas)
	}
	if want := 100 * 2.0; math.Abs(st.ReplicaHours-want) > 0.1 {
		t.Errorf("static: %.2f replica-hours, want %.0f (100 replicas for 2 h)", st.ReplicaHours, want)
	}

	or := res[StrategyOracle]
	if or.Unserved != 0 {
		t.Errorf("oracle left %.0f unserved", or.Unserved)
	}
	for s, r := range res {
		if r.ReplicaHours < or.ReplicaHours {
			t.Errorf("%s used %.2f replica-hours, fewer than the oracle's %.2f", s, r.ReplicaHours, or.ReplicaHours)
		}
	}
	// The oracle starts the spot's pods exactly one start-up ahead.
	if p := at(t, or, spot.Add(-DefaultStartup-15*time.Second)); p.Replicas != 20 {
		t.Errorf("oracle: %d replicas before the start-up lead, want 20", p.Replicas)
	}
	if p := at(t, or, spot.Add(-DefaultStartup)); p.Replicas != 100 {
		t.Errorf("oracle: %d replicas one start-up before the spot, want 100", p.Replicas)
	}
}

func TestRunModes(t *testing.T) {
	spot := t0.Add(45 * time.Minute)
	cases := []struct {
		name string
		mode string
		// when primetime's replicas first reach the floor of 100
		reachBy time.Time
	}{
		// The engine publishes the floor at 20:40; the HPA syncs within
		// 15 s and ramps 20 -> 40 -> 80 -> 100, one step per 15 s.
		{"metric", "metric", spot.Add(-5*time.Minute + 60*time.Second)},
		// primetime writes /scale itself at the floor's first evaluation.
		{"scale", "scale", spot.Add(-5 * time.Minute)},
		// The HPA's minReplicas is raised to the floor; min applies at once.
		{"hpa-floor", "hpa-floor", spot.Add(-5*time.Minute + 15*time.Second)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := parseSetup(t, stepTarget+"    mode: "+c.mode+"\n", stepWindows)
			rep, err := Run(context.Background(), s, []Strategy{StrategyPrimetime})
			if err != nil {
				t.Fatal(err)
			}
			r := rep.Results[0]
			if p := at(t, r, c.reachBy); p.Replicas < 100 {
				t.Errorf("%d replicas at %s, want the floor of 100 by then", p.Replicas, c.reachBy.Format("15:04:05"))
			}
			if r.UnservedInWindows != 0 {
				t.Errorf("%.0f unserved in the window, want 0", r.UnservedInWindows)
			}
		})
	}
}

func TestRunWindowBreakdown(t *testing.T) {
	s := parseSetup(t, stepTarget, stepWindows+`  - name: later
    start: "2026-11-25T21:30:00Z"
    duration: 10m
    replicas: 10
    targets: [storefront/web]
  - name: quiet
    start: "2026-11-25T21:50:00Z"
    duration: 10m
    replicas: 2
    quiet: true
    targets: [storefront/web]
`)
	rep, err := Run(context.Background(), s, []Strategy{StrategyReactive})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Windows) != 2 || rep.Windows[0].Name != "spot" || rep.Windows[1].Name != "later" {
		t.Fatalf("announced windows %+v, want spot and later (quiet windows announce no load)", rep.Windows)
	}
	r := rep.Results[0]
	if r.UnservedByWindow[0] != r.UnservedInWindows || r.UnservedByWindow[1] != 0 {
		t.Errorf("by window %v, in windows %.0f: the spot holds all of it", r.UnservedByWindow, r.UnservedInWindows)
	}
	if rep.WindowTime != 25*time.Minute {
		t.Errorf("time inside windows %s, want 25m", rep.WindowTime)
	}
}

func TestTraceLoadAt(t *testing.T) {
	tr := Trace{{T: t0, V: 100}, {T: t0.Add(10 * time.Second), V: 200}}
	cases := []struct {
		name string
		at   time.Time
		want float64
		ok   bool
	}{
		{"first sample", t0, 100, true},
		{"linear between samples", t0.Add(2500 * time.Millisecond), 125, true},
		{"last sample", t0.Add(10 * time.Second), 200, true},
		{"before the trace", t0.Add(-time.Second), 0, false},
		{"after the trace", t0.Add(11 * time.Second), 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := tr.LoadAt(c.at)
			if got != c.want || ok != c.ok {
				t.Errorf("LoadAt = %v, %v; want %v, %v", got, ok, c.want, c.ok)
			}
		})
	}
}

func TestSlidingMaxAhead(t *testing.T) {
	got := slidingMaxAhead([]int32{1, 3, 2, 5, 1, 1, 4}, 2)
	want := []int32{3, 5, 5, 5, 4, 4, 4}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}

func TestRunRefusesWhatItCannotHold(t *testing.T) {
	s := parseSetup(t, stepTarget, stepWindows)
	s.Trace = Trace{{T: t0, V: 1}, {T: t0.Add(500 * 24 * time.Hour), V: 1}}
	_, err := Run(context.Background(), s, Strategies)
	if err == nil || !strings.Contains(err.Error(), "the trace spans 500d, more than the 400d") {
		t.Errorf("a 500-day trace: %v, want an error saying how long it is and the limit", err)
	}
	s.Trace = s.Trace[:1]
	if _, err := Run(context.Background(), s, Strategies); err == nil || !strings.Contains(err.Error(), "at least two rows") {
		t.Errorf("a one-row trace: %v", err)
	}
}

func TestRunSkipsExceptedDates(t *testing.T) {
	// The same spot as a daily window, excepted on its day: primetime does
	// not pre-scale (the day is the window's own, on its zone's calendar).
	cases := []struct {
		name   string
		except string
		ready  bool
	}{
		{"excepted", `["2026-11-25"]`, false},
		{"another day excepted", `["2026-11-24..2026-11-24", "2026-11-26"]`, true},
	}
	spot := t0.Add(45 * time.Minute)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			windows := "windows:\n  - name: daily-spot\n    cron: \"45 20 * * *\"\n    except: " + tc.except + "\n    duration: 15m\n    expect: 5x\n    targets: [storefront/web]\n"
			pt := runAll(t, parseSetup(t, stepTarget, windows))[StrategyPrimetime]
			p := at(t, pt, spot.Add(-15*time.Second))
			if tc.ready && p.Ready < 100 || !tc.ready && p.Replicas != 20 {
				t.Errorf("just before the spot: %d replicas (%d ready); pre-scaled %v", p.Replicas, p.Ready, tc.ready)
			}
		})
	}
}
