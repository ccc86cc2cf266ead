package policies

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/primetime-dev/primetime/ground"
)

// cycle is one hand-written cycle of one target: the phase of its one
// window (empty: not in force), the floor or cap, the observed load (<0:
// unknown), tracking (0: unknown) and the workload's replicas.
type cycle struct {
	at       time.Duration // from the window's start
	phase    Phase
	replicas int32
	expected float64 // the effect's Load: the expected load
	load     float64
	tracking int32
	current  int32
}

var reportStart = time.Date(2026, 11, 25, 19, 45, 0, 0, time.UTC)

func reportTarget() ground.Target {
	return ground.Target{Namespace: "shop", Name: "web", CapacityPerReplica: 10, MinReplicas: 1, MaxReplicas: 100, LeadTime: 2 * time.Minute}
}

// play feeds the cycles to a Reports and returns every report released.
func play(t *testing.T, w *ground.Window, cycles []cycle) []WindowReport {
	t.Helper()
	var rs Reports
	tg := reportTarget()
	var out []WindowReport
	occ := Occurrence{Window: w, Start: reportStart, End: reportStart.Add(w.Duration)}
	for _, c := range cycles {
		d := Decision{Target: tg.Key(), At: reportStart.Add(c.at)}
		if c.load >= 0 {
			d.Load.Observed = ground.Some(c.load)
		}
		if c.tracking > 0 {
			d.Tracking = ground.Some(c.tracking)
		}
		if c.current > 0 {
			d.Current = ground.Some(c.current)
		}
		if c.phase != "" {
			e := Effect{Occurrence: occ, Phase: c.phase, Replicas: ground.Some(c.replicas), Demand: w.Demand}
			if c.expected > 0 {
				e.Load = ground.Some(c.expected)
				if w.Demand.Kind == ground.DemandMultiplier {
					e.Baseline = ground.Some(c.expected / w.Demand.Value)
				}
			}
			d.Schedule.Effects = []Effect{e}
		}
		out = append(out, rs.Observe([]ground.Target{tg}, []Decision{d})...)
	}
	if n := rs.Open(); n != 0 {
		t.Errorf("%d reports still open after the last cycle", n)
	}
	return out
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestFormatSpan(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{40 * time.Second, "40 s"}, {0, "0 s"}, {3 * time.Minute, "3 min"}, {150 * time.Second, "2 min 30 s"},
		{65 * time.Minute, "1 h 5 min"}, {2 * time.Hour, "2 h"}, {-30 * time.Second, "-30 s"}, {1499 * time.Millisecond, "1 s"},
	} {
		t.Run(c.want, func(t *testing.T) {
			if got := formatSpan(c.d); got != c.want {
				t.Errorf("formatSpan(%s) = %q, want %q", c.d, got, c.want)
			}
		})
	}
}

func TestWindowReportOfASpotBelowItsMultiplier(t *testing.T) {
	// expect: 5x on a baseline of 100: floor 50 (capacity 10). The spot
	// peaks at 300 (3x) a minute after the start and is halfway back
	// (200) two minutes later. The workload had 20 replicas at the start
	// and 25 at the peak (250 of capacity for 300: 50 above for 1 min).
	w := &ground.Window{Name: "tf1-spot", Duration: 4 * time.Minute, Cooldown: 2 * time.Minute,
		Demand: ground.Demand{Kind: ground.DemandMultiplier, Value: 5}, Origin: ground.Origin{File: "marketing/windows[w.yaml]", Line: 2}}
	rs := play(t, w, []cycle{
		{at: -2 * time.Minute, phase: PhaseLead, replicas: 50, expected: 500, load: 100, tracking: 10, current: 10},
		{at: -time.Minute, phase: PhaseLead, replicas: 50, expected: 500, load: 100, tracking: 10, current: 15},
		{at: 0, phase: PhaseActive, replicas: 50, expected: 500, load: 100, tracking: 10, current: 20},
		{at: time.Minute, phase: PhaseActive, replicas: 50, expected: 500, load: 300, tracking: 30, current: 25},
		{at: 2 * time.Minute, phase: PhaseActive, replicas: 50, expected: 500, load: 250, tracking: 25, current: 50},
		{at: 3 * time.Minute, phase: PhaseActive, replicas: 50, expected: 500, load: 200, tracking: 20, current: 50},
		{at: 4 * time.Minute, phase: PhaseCooldown, replicas: 50, expected: 500, load: 100, tracking: 10, current: 50},
		{at: 5 * time.Minute, phase: PhaseCooldown, replicas: 50, expected: 500, load: 100, tracking: 10, current: 50},
		{at: 6 * time.Minute, load: 100, tracking: 10, current: 50},
	})
	if len(rs) != 1 {
		t.Fatalf("%d reports, want 1", len(rs))
	}
	r := rs[0]
	checks := []struct {
		name      string
		got, want any
	}{
		{"baseline", r.Baseline, ground.Some(100.0)},
		{"peak", r.Peak, ground.Some(300.0)},
		{"peak at", r.PeakAt.Sub(r.Start), time.Minute},
		{"ratio", r.Ratio(), ground.Some(3.0)},
		{"expected", r.ExpectedRatio(), ground.Some(5.0)},
		{"half decay", r.HalfDecay, ground.Some(2 * time.Minute)},
		{"floor at start", r.FloorAtStart, ground.Some[int32](50)},
		{"replicas at start", r.ReplicasAtStart, ground.Some[int32](20)},
		{"under capacity", r.UnderCapacity, time.Minute},
		{"excess", r.Excess, 3000.0}, // 50/s for 60 s
		{"released", r.Released.Sub(r.Start), 6 * time.Minute},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
	// (50-10)x1m twice in the lead and at the start, then 20, 25, 30,
	// 40, 40 replica-minutes: 235 replica-minutes.
	if !near(r.AddedReplicaHours, 235.0/60) {
		t.Errorf("added replica-hours: got %v, want %v", r.AddedReplicaHours, 235.0/60)
	}
	want := "tf1-spot on Wed 25 Nov 19:45: shop/web peaked at 3.0x its usual load (300 for 100) 1 min after the start (expected 5x), half gone 2 min later; 20 replicas at the start for a floor of 50; load above capacity for 1 min (3000 in excess); the window added 3.92 replica-hours over tracking"
	if got := r.Sentence(); got != want {
		t.Errorf("sentence:\n got %s\nwant %s", got, want)
	}
	// At 200 g a replica-hour: 235/60 x 200 = 783.3 g.
	if got, want := r.SentenceWith(ground.Some(200.0)), want+" (783 g CO2e)"; got != want {
		t.Errorf("sentence with carbon:\n got %s\nwant %s", got, want)
	}
}

func TestWindowReportOfAQuietNight(t *testing.T) {
	// A quiet night caps a workload of 6 replicas at 0 for 10 minutes;
	// with no pods, the load is unknown: the 6 it had are the reference.
	// The cap's first cycle stands for no time: 10 cycles x 6 replicas x
	// 1 min = 1 replica-hour saved.
	w := &ground.Window{Name: "night", Location: mustZone("Europe/Paris"), Duration: 10 * time.Minute, Quiet: true, Demand: ground.Demand{Kind: ground.DemandReplicas, Value: 0}}
	cycles := []cycle{{at: 0, phase: PhaseQuiet, replicas: 0, load: 60, tracking: 6, current: 6}}
	for m := 1; m <= 10; m++ {
		cycles = append(cycles, cycle{at: time.Duration(m) * time.Minute, phase: PhaseQuiet, replicas: 0, load: -1})
	}
	cycles = append(cycles, cycle{at: 11 * time.Minute, load: -1, current: 6})
	rs := play(t, w, cycles)
	if len(rs) != 1 {
		t.Fatalf("%d reports, want 1", len(rs))
	}
	if !near(rs[0].SavedReplicaHours, 1) {
		t.Errorf("saved replica-hours: got %v, want 1", rs[0].SavedReplicaHours)
	}
	if want := "night on Wed 25 Nov 20:45: shop/web was capped; the quiet window saved 1.00 replica-hours"; rs[0].Sentence() != want {
		t.Errorf("sentence:\n got %s\nwant %s", rs[0].Sentence(), want)
	}
	for _, tc := range []struct {
		carbon float64
		want   string
	}{
		{120, " (120 g CO2e)"},
		{2.46, " (2.5 g CO2e)"},
		{9.96, " (10 g CO2e)"},
		{0, " (0 g CO2e)"},
	} {
		want := "night on Wed 25 Nov 20:45: shop/web was capped; the quiet window saved 1.00 replica-hours" + tc.want
		if got := rs[0].SentenceWith(ground.Some(tc.carbon)); got != want {
			t.Errorf("sentence at %v g a replica-hour:\n got %s\nwant %s", tc.carbon, got, want)
		}
	}
	if got := rs[0].SentenceWith(ground.None[float64]()); got != rs[0].Sentence() {
		t.Errorf("sentence without carbon: %s", got)
	}
}

func TestWindowReportEdges(t *testing.T) {
	spot := &ground.Window{Name: "spot", Duration: 2 * time.Minute, Demand: ground.Demand{Kind: ground.DemandLoad, Value: 400}}
	t.Run("a spot that never aired reads 1x of an absolute 4x", func(t *testing.T) {
		rs := play(t, spot, []cycle{
			{at: -time.Minute, phase: PhaseLead, replicas: 40, expected: 400, load: 100, tracking: 10, current: 40},
			{at: 0, phase: PhaseActive, replicas: 40, expected: 400, load: 100, tracking: 10, current: 40},
			{at: time.Minute, phase: PhaseActive, replicas: 40, expected: 400, load: 100, tracking: 10, current: 40},
			{at: 2 * time.Minute, load: 100, tracking: 10, current: 40},
		})
		if len(rs) != 1 {
			t.Fatalf("%d reports, want 1", len(rs))
		}
		if r := rs[0]; r.Ratio() != ground.Some(1.0) || r.ExpectedRatio() != ground.Some(4.0) || r.HalfDecay.OK {
			t.Errorf("ratio %v expected %v half decay %v, want 1x, 4x, none", r.Ratio(), r.ExpectedRatio(), r.HalfDecay)
		}
	})
	t.Run("a gap counts for at most MaxReportGap", func(t *testing.T) {
		rs := play(t, spot, []cycle{
			{at: -time.Minute, phase: PhaseLead, replicas: 40, expected: 400, load: 100, tracking: 10, current: 40},
			{at: time.Hour, phase: PhaseActive, replicas: 40, expected: 400, load: 100, tracking: 10, current: 40},
			{at: time.Hour + time.Minute, load: 100, tracking: 10, current: 40},
		})
		// (40-10) replicas for 5 minutes: 2.5 replica-hours.
		if len(rs) != 1 || !near(rs[0].AddedReplicaHours, 2.5) {
			t.Fatalf("reports %+v, want one with 2.5 replica-hours added", rs)
		}
	})
	t.Run("a target removed mid-window takes its report with it", func(t *testing.T) {
		var rs Reports
		tg := reportTarget()
		occ := Occurrence{Window: spot, Start: reportStart, End: reportStart.Add(spot.Duration)}
		d := Decision{Target: tg.Key(), At: reportStart, Schedule: Schedule{Effects: []Effect{{Occurrence: occ, Phase: PhaseActive, Replicas: ground.Some[int32](40)}}}}
		if got := rs.Observe([]ground.Target{tg}, []Decision{d}); len(got) != 0 || rs.Open() != 1 {
			t.Fatalf("%d reports, %d open; want 0, 1", len(got), rs.Open())
		}
		if got := rs.Observe(nil, nil); len(got) != 0 || rs.Open() != 0 {
			t.Fatalf("%d reports, %d open once the target is gone; want 0, 0", len(got), rs.Open())
		}
	})
}

// TestWindowReportsOfOverlappingWindows: two occurrences in force on one
// target, their effects in either order, each report its own, the first
// released while the second goes on.
func TestWindowReportsOfOverlappingWindows(t *testing.T) {
	a := &ground.Window{Name: "a", Duration: time.Minute, Demand: ground.Demand{Kind: ground.DemandReplicas, Value: 30}}
	b := &ground.Window{Name: "b", Duration: 3 * time.Minute, Demand: ground.Demand{Kind: ground.DemandReplicas, Value: 20}}
	oa := Occurrence{Window: a, Start: reportStart, End: reportStart.Add(a.Duration)}
	ob := Occurrence{Window: b, Start: reportStart, End: reportStart.Add(b.Duration)}
	tg := reportTarget()
	var rs Reports
	var got []WindowReport
	for i, effects := range [][]Effect{
		{{Occurrence: oa, Phase: PhaseActive, Replicas: ground.Some[int32](30)}, {Occurrence: ob, Phase: PhaseActive, Replicas: ground.Some[int32](20)}},
		{{Occurrence: ob, Phase: PhaseActive, Replicas: ground.Some[int32](20)}, {Occurrence: oa, Phase: PhaseActive, Replicas: ground.Some[int32](30)}},
		{{Occurrence: ob, Phase: PhaseActive, Replicas: ground.Some[int32](20)}},
		{{Occurrence: ob, Phase: PhaseActive, Replicas: ground.Some[int32](20)}},
		nil,
	} {
		d := Decision{Target: tg.Key(), At: reportStart.Add(time.Duration(i) * time.Minute), Tracking: ground.Some[int32](10), Current: ground.Some[int32](30),
			Load: Loads{Observed: ground.Some(100.0)}, Schedule: Schedule{Effects: effects}}
		got = append(got, rs.Observe([]ground.Target{tg}, []Decision{d})...)
		if i == 2 && (len(got) != 1 || got[0].Window != "a" || rs.Open() != 1) {
			t.Fatalf("at +2 min: reports %+v, %d open; want a's, 1 open", got, rs.Open())
		}
	}
	if len(got) != 2 || got[1].Window != "b" {
		t.Fatalf("reports %+v, want a's then b's", got)
	}
	// a: 30-10 replicas for its two minutes in force (the first cycle has
	// no time behind it); b: 20-10 for four minutes.
	if !near(got[0].AddedReplicaHours, 20.0/60) || !near(got[1].AddedReplicaHours, 30.0/60) {
		t.Errorf("added %v and %v replica-hours, want %v and %v", got[0].AddedReplicaHours, got[1].AddedReplicaHours, 20.0/60, 30.0/60)
	}
	if got[0].Released != reportStart.Add(2*time.Minute) || got[1].Released != reportStart.Add(4*time.Minute) {
		t.Errorf("released at %s and %s", got[0].Released, got[1].Released)
	}
}

// BenchmarkReportsOpen builds the reports of 10,000 targets under 10
// windows each and reports the heap they hold (retained-B/report).
func BenchmarkReportsOpen(b *testing.B) {
	const targets, windows = 10000, 10
	var effects []Effect
	for w := range windows {
		win := &ground.Window{Name: fmt.Sprintf("w-%d", w), Duration: time.Hour, Demand: ground.Demand{Kind: ground.DemandMultiplier, Value: 3}}
		effects = append(effects, Effect{Occurrence: Occurrence{Window: win, Start: reportStart, End: reportStart.Add(time.Hour)}, Phase: PhaseActive, Replicas: ground.Some[int32](30), Load: ground.Some(300.0)})
	}
	tgs := make([]ground.Target, targets)
	ds := make([]Decision, targets)
	for i := range tgs {
		tgs[i] = ground.Target{Namespace: "shop", Name: fmt.Sprintf("app-%d", i), CapacityPerReplica: 10, MaxReplicas: 300}
		ds[i] = Decision{Target: tgs[i].Key(), Tracking: ground.Some[int32](10), Current: ground.Some[int32](30), Load: Loads{Observed: ground.Some(100.0)}, Schedule: Schedule{Effects: effects}}
	}
	var retained float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		var rs Reports
		for c := range 3 {
			for i := range ds {
				ds[i].At = reportStart.Add(time.Duration(c) * 5 * time.Second)
			}
			rs.Observe(tgs, ds)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		retained = float64(after.HeapAlloc-before.HeapAlloc) / float64(rs.Open())
		runtime.KeepAlive(&rs)
	}
	b.ReportMetric(retained, "retained-B/report")
}

// TestWindowReportCompleteness: a report teaches a learned multiplier
// only when it saw the whole occurrence.
func TestWindowReportCompleteness(t *testing.T) {
	w := &ground.Window{Name: "tf1-spot", Duration: 4 * time.Minute, Cooldown: 2 * time.Minute,
		Demand: ground.Demand{Kind: ground.DemandMultiplier, Value: 5}, Origin: ground.Origin{File: "marketing/windows[w.yaml]", Line: 2}}
	full := []cycle{
		{at: -time.Minute, phase: PhaseLead, replicas: 50, expected: 500, load: 100, tracking: 10, current: 10},
		{at: 0, phase: PhaseActive, replicas: 50, expected: 500, load: 100, tracking: 10, current: 50},
		{at: time.Minute, phase: PhaseActive, replicas: 50, expected: 500, load: 300, tracking: 30, current: 50},
		{at: 2 * time.Minute, phase: PhaseActive, replicas: 50, expected: 500, load: 200, tracking: 20, current: 50},
		{at: 3 * time.Minute, phase: PhaseActive, replicas: 50, expected: 500, load: 150, tracking: 15, current: 50},
		{at: 4 * time.Minute, phase: PhaseCooldown, replicas: 50, expected: 500, load: 100, tracking: 10, current: 50},
		{at: 5 * time.Minute, phase: PhaseCooldown, replicas: 50, expected: 500, load: 100, tracking: 10, current: 50},
		{at: 6 * time.Minute, load: 100, tracking: 10, current: 50},
	}
	outage := slices.Clone(full)
	outage[2].load, outage[2].tracking = -1, 0 // the source down at the peak
	failover := full[3:]                       // a new leader meets it after its peak
	renamed := slices.Clone(full[:3])
	renamed = append(renamed, cycle{at: 2 * time.Minute, load: 200, tracking: 20, current: 50}) // released at once
	for _, tc := range []struct {
		name   string
		cycles []cycle
		want   bool
	}{
		{"seen whole", full, true},
		{"the load unknown at the peak", outage, false},
		{"first seen after the start", failover, false},
		{"released before its end", renamed, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs := play(t, w, tc.cycles)
			if len(rs) != 1 || rs[0].Complete != tc.want {
				t.Fatalf("reports %+v, want one with Complete %v", rs, tc.want)
			}
		})
	}
}
