package policies

import (
	"testing"
	"time"

	"github.com/primetime-dev/primetime/ground"
)

// waveCycle is one minute of a tv-spot occurrence on shop/web (capacity
// 10): the phase (empty: not in force), the floor, the observed load and
// the workload's ready replicas (<0: unknown). The workload runs the
// floor; tracking is the load over capacity.
type waveCycle struct {
	at    time.Duration // from the occurrence's start
	phase Phase
	floor int32
	load  float64
	ready int32
}

// tvSpot is a "shape: learned" 5x spot of the tv-spots group: 10 min,
// a 2 min cooldown.
func tvSpot() *ground.Window {
	return &ground.Window{Name: "tv-spot", Group: tvSpots, ShapeLearned: true, Duration: 10 * time.Minute, Cooldown: 2 * time.Minute,
		Demand: ground.Demand{Kind: ground.DemandMultiplier, Value: 5}, Origin: ground.Origin{File: "marketing/windows[tv.yaml]", Line: 2}}
}

// spotMinutes makes the cycles of a tv-spot from its loads, one a
// minute from 2 min before the start (the lead) to the end of the
// cooldown, and a last one once released; ready[i] goes with loads[i]
// (missing: unknown). The floor is 50 (5x of 100).
func spotMinutes(w *ground.Window, loads []float64, ready []int32) []waveCycle {
	var cs []waveCycle
	for i, load := range loads {
		at := time.Duration(i-2) * time.Minute
		c := waveCycle{at: at, floor: 50, load: load, ready: -1}
		switch {
		case at < 0:
			c.phase = PhaseLead
		case at < w.Duration:
			c.phase = PhaseActive
		case at < w.Duration+w.Cooldown:
			c.phase = PhaseCooldown
		}
		if i < len(ready) {
			c.ready = ready[i]
		}
		cs = append(cs, c)
	}
	last := cs[len(cs)-1]
	return append(cs, waveCycle{at: last.at + time.Minute, load: last.load, ready: -1})
}

// observeSpot feeds the cycles of the occurrence of w starting at start
// to rs and returns the reports released.
func observeSpot(t *testing.T, rs *Reports, w *ground.Window, start time.Time, cycles []waveCycle) []WindowReport {
	t.Helper()
	tg := reportTarget()
	occ := Occurrence{Window: w, Start: start, End: start.Add(w.Duration)}
	var out []WindowReport
	for _, c := range cycles {
		d := Decision{Target: tg.Key(), At: start.Add(c.at), Load: Loads{Observed: ground.Some(c.load)},
			Tracking: ground.Some(ReplicasFor(c.load, tg.CapacityPerReplica))}
		if c.ready >= 0 {
			d.Ready = ground.Some(c.ready)
		}
		if c.phase != "" {
			d.Current = ground.Some(c.floor)
			e := Effect{Occurrence: occ, Phase: c.phase, Replicas: ground.Some(c.floor), Demand: w.Demand,
				Load: ground.Some(float64(c.floor) * tg.CapacityPerReplica), Baseline: ground.Some(float64(c.floor) * tg.CapacityPerReplica / w.Demand.Value)}
			d.Schedule.Effects = []Effect{e}
		}
		out = append(out, rs.Observe([]ground.Target{tg}, []Decision{d})...)
	}
	return out
}

// spotReport is the one report of an occurrence at reportStart.
func spotReport(t *testing.T, w *ground.Window, cycles []waveCycle) WindowReport {
	t.Helper()
	var rs Reports
	reports := observeSpot(t, &rs, w, reportStart, cycles)
	if len(reports) != 1 || rs.Open() != 0 {
		t.Fatalf("%d reports, %d still open; want 1, 0", len(reports), rs.Open())
	}
	return reports[0]
}

// The loads of spots, a minute apart from 2 min before the start: the
// usual 100 all along; a spike to 400 at +1 min, halfway back at +3 min
// and a second wave to 340 at +7 min.
var (
	flatLoads   = []float64{100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100}
	secondLoads = []float64{100, 100, 100, 400, 300, 240, 150, 130, 250, 340, 200, 120, 110, 100}
)

// TestWindowReportOfASpotThatNeverCame: a flat window (100 for 100)
// did not rise; it says so and teaches nothing.
func TestWindowReportOfASpotThatNeverCame(t *testing.T) {
	r := spotReport(t, tvSpot(), spotMinutes(tvSpot(), flatLoads, nil))
	if r.Rose() || r.Ratio() != ground.Some(1.0) || !r.Complete {
		t.Errorf("rose %v ratio %v complete %v; want a complete report of 1x that did not rise", r.Rose(), r.Ratio(), r.Complete)
	}
	if !r.FirstPeakAt.IsZero() || r.FirstHalfDecay.OK || r.SecondWave.OK || !r.SecondWaveAt.IsZero() {
		t.Errorf("waves of a flat window: first peak %s, half decay %v, second wave %v at %s; want none", r.FirstPeakAt, r.FirstHalfDecay, r.SecondWave, r.SecondWaveAt)
	}
	// 40 replicas over tracking for the 13 minutes after the first cycle.
	const want = "tv-spot on Wed 25 Nov 19:45: shop/web: no rise above the usual load came (100 at most for 100, expected 5x); 50 replicas at the start for a floor of 50; never above capacity; the window added 8.67 replica-hours over tracking"
	if got := r.Sentence(); got != want {
		t.Errorf("sentence:\n got %s\nwant %s", got, want)
	}
	if l, ok := LessonOf(&r); ok {
		t.Errorf("a flat window taught %+v", l)
	}
	var l Learning
	if l.Learn(&r) {
		t.Error("Learn kept the lesson of a flat window")
	}
	web := reportTarget()
	if m, ok := l.Multiplier(tvSpot(), &web); ok {
		t.Errorf("a flat window taught a multiplier: %+v", m)
	}
}

// TestClearRise: a rise counts from 1.3x of the baseline.
func TestClearRise(t *testing.T) {
	for _, tc := range []struct {
		name string
		peak float64
		want bool
	}{
		{"1.29x", 129, false},
		{"1.3x", 130, true},
		{"4x", 400, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := WindowReport{Baseline: ground.Some(100.0), Peak: ground.Some(tc.peak)}
			if r.Rose() != tc.want {
				t.Errorf("a peak of %g for 100: rose %v, want %v", tc.peak, r.Rose(), tc.want)
			}
		})
	}
	if r := (WindowReport{Peak: ground.Some(400.0)}); r.Rose() {
		t.Error("a report with no baseline rose")
	}
}

// TestWindowReportWaves: the first wave, its half decay and a second
// wave as the report builder sees them.
func TestWindowReportWaves(t *testing.T) {
	cases := []struct {
		name        string
		loads       []float64
		firstPeak   time.Duration // from the start; <0: none
		firstHalf   ground.Opt[time.Duration]
		second      float64 // 0: none
		secondAfter time.Duration
	}{
		{"a second wave 0.8x as high as the first at +7 min", secondLoads, time.Minute, ground.Some(2 * time.Minute), 0.8, 7 * time.Minute},
		// From the lowest after the first, 130, up by 70: less than a
		// quarter of the first's rise of 300.
		{"a bump of less than a quarter of the first rise is no second wave",
			[]float64{100, 100, 100, 400, 300, 240, 150, 130, 180, 200, 150, 120, 110, 100}, time.Minute, ground.Some(2 * time.Minute), 0, 0},
		{"a quarter exactly is one", // 205 is 130 + 75: (205-100)/300
			[]float64{100, 100, 100, 400, 300, 240, 150, 130, 180, 205, 150, 120, 110, 100}, time.Minute, ground.Some(2 * time.Minute), 0.35, 7 * time.Minute},
		{"a wave higher than the first, after it fell halfway, is a second wave",
			[]float64{100, 100, 100, 400, 240, 150, 300, 500, 300, 150, 120, 110, 100, 100}, time.Minute, ground.Some(time.Minute), 4.0 / 3, 5 * time.Minute},
		{"a first wave that never falls halfway: no half decay, no second wave",
			[]float64{100, 100, 100, 400, 350, 300, 280, 260, 300, 390, 300, 280, 260, 260}, time.Minute, ground.None[time.Duration](), 0, 0},
		// 125 is below a clear rise (130): its fall to 105 does not end a
		// first wave, the spot at +3 min is it.
		{"a bump below a clear rise is not the first wave",
			[]float64{100, 100, 125, 105, 110, 400, 300, 200, 150, 120, 110, 100, 100, 100}, 3 * time.Minute, ground.Some(2 * time.Minute), 0, 0},
		{"no clear rise: no waves",
			[]float64{100, 100, 100, 125, 105, 100, 120, 100, 100, 100, 100, 100, 100, 100}, -1, ground.None[time.Duration](), 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := tvSpot()
			r := spotReport(t, w, spotMinutes(w, tc.loads, nil))
			if tc.firstPeak < 0 {
				if !r.FirstPeakAt.IsZero() {
					t.Errorf("first peak at %s, want none", r.FirstPeakAt.Sub(r.Start))
				}
			} else if got := r.FirstPeakAt.Sub(r.Start); got != tc.firstPeak {
				t.Errorf("first peak at +%s, want +%s", got, tc.firstPeak)
			}
			if r.FirstHalfDecay != tc.firstHalf {
				t.Errorf("first half decay %v, want %v", r.FirstHalfDecay, tc.firstHalf)
			}
			switch {
			case tc.second == 0 && r.SecondWave.OK:
				t.Errorf("a second wave of %v at +%s, want none", r.SecondWave.V, r.SecondWaveAt.Sub(r.Start))
			case tc.second > 0 && (!r.SecondWave.OK || !near(r.SecondWave.V, tc.second) || r.SecondWaveAt.Sub(r.Start) != tc.secondAfter):
				t.Errorf("second wave %v at +%s, want %v at +%s", r.SecondWave, r.SecondWaveAt.Sub(r.Start), tc.second, tc.secondAfter)
			}
		})
	}
}

// TestWindowReportOfASpotWithASecondWave: the whole report of a spike
// with a second wave, its sentence and its lesson.
func TestWindowReportOfASpotWithASecondWave(t *testing.T) {
	w := tvSpot()
	// Ready replicas 10, 30, 40 in the lead, the floor's 50 a minute
	// after the start.
	r := spotReport(t, w, spotMinutes(w, secondLoads, []int32{10, 30, 40, 50}))
	checks := []struct {
		name      string
		got, want any
	}{
		{"rose", r.Rose(), true},
		{"complete", r.Complete, true},
		{"peak", r.Peak, ground.Some(400.0)},
		{"peak at", r.PeakAt.Sub(r.Start), time.Minute},
		{"half decay", r.HalfDecay, ground.Some(2 * time.Minute)},
		{"first peak at", r.FirstPeakAt.Sub(r.Start), time.Minute},
		{"first half decay", r.FirstHalfDecay, ground.Some(2 * time.Minute)},
		{"second wave at", r.SecondWaveAt.Sub(r.Start), 7 * time.Minute},
		{"floor from", r.FloorFrom.Sub(r.Start), -2 * time.Minute},
		{"ready after", r.ReadyAfter, ground.Some(3 * time.Minute)},
		{"late", r.Late, true},
		{"followed at", r.FollowedAt, time.Time{}},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
	if !r.SecondWave.OK || !near(r.SecondWave.V, 0.8) {
		t.Errorf("second wave %v, want 0.8 ((340-100)/(400-100))", r.SecondWave)
	}
	// Over tracking: 40, 40, 10, 20, 26, 35, 37, 25, 16, 30, 38, 39, 40
	// replica-minutes: 396.
	const want = "tv-spot on Wed 25 Nov 19:45: shop/web peaked at 4.0x its usual load (400 for 100) 1 min after the start (expected 5x), half gone 2 min later, with a second wave 7 min after the start (0.8x as high as the first); 50 replicas at the start for a floor of 50; never above capacity; the window added 6.60 replica-hours over tracking"
	if got := r.Sentence(); got != want {
		t.Errorf("sentence:\n got %s\nwant %s", got, want)
	}
	l, ok := LessonOf(&r)
	if !ok {
		t.Fatal("the report taught nothing")
	}
	if !l.Start.Equal(reportStart) {
		t.Errorf("lesson of the occurrence at %s, want %s", l.Start, reportStart)
	}
	wantLesson := Lesson{Window: "tv-spot", Start: l.Start, Ratio: 4, PeakAfter: time.Minute, HalfDecay: 2 * time.Minute,
		SecondWave: l.SecondWave, SecondAfter: 7 * time.Minute, ReadyAfter: 3 * time.Minute, Late: true}
	if l != wantLesson || !near(l.SecondWave, 0.8) {
		t.Errorf("lesson:\n got %+v\nwant %+v (second wave 0.8)", l, wantLesson)
	}
}

// TestWindowReportReadiness: how long the floor's replicas took to be
// ready, from Decision.Ready, and whether they were late.
func TestWindowReportReadiness(t *testing.T) {
	w := tvSpot()
	none := ground.None[time.Duration]()
	cases := []struct {
		name       string
		ready      []int32 // from 2 min before the start, a minute apart; -1: unknown
		floors     []int32 // the floors from the first cycle on, when not 50
		readyAfter ground.Opt[time.Duration]
		late       bool
	}{
		{"ready at the start, 2 min after the floor", []int32{10, 30, 50}, nil, ground.Some(2 * time.Minute), false},
		{"ready in the lead", []int32{10, 50}, nil, ground.Some(time.Minute), false},
		{"ready a minute after the start: late", []int32{10, 30, 40, 50}, nil, ground.Some(3 * time.Minute), true},
		{"ready only once the window is over: late, the time unknown",
			[]int32{10, 20, 30, 35, 40, 41, 42, 43, 44, 45, 46, 47, 50, 50}, nil, none, true},
		{"the floor met at its first cycle: says nothing of pods", []int32{50, 50, 50}, nil, none, false},
		{"the ready replicas unknown: nothing known, not late", nil, nil, none, false},
		// Unknown in the lead: ready by the start at the latest.
		{"the ready replicas unknown in the lead, ready at the start: 2 min at most", []int32{-1, -1, 50}, nil, ground.Some(2 * time.Minute), false},
		// The floor raised to 60 in the lead (a baseline raised with the
		// load): ready against the 50 first asked for.
		{"a top-up in the lead: ready against the first floor", []int32{10, 50, 55, 60}, []int32{50, 60, 60, 60}, ground.Some(time.Minute), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cs := spotMinutes(w, secondLoads, tc.ready)
			for i, f := range tc.floors {
				cs[i].floor = f
			}
			r := spotReport(t, w, cs)
			if r.ReadyAfter != tc.readyAfter || r.Late != tc.late {
				t.Errorf("ready after %v, late %v; want %v, %v", r.ReadyAfter, r.Late, tc.readyAfter, tc.late)
			}
			if got := r.FloorFrom.Sub(r.Start); got != -2*time.Minute {
				t.Errorf("floor from %s, want -2m0s", got)
			}
			l, ok := LessonOf(&r)
			if !ok || l.ReadyAfter != tc.readyAfter.Or(0) || l.Late != tc.late {
				t.Errorf("lesson %+v (%v); want ready after %s, late %v", l, ok, tc.readyAfter.Or(0), tc.late)
			}
		})
	}
}

// TestSpotsThatNeverCameTeachNothing: after 3 spots that came, 5 that
// never aired neither push them out nor lower what they taught.
func TestSpotsThatNeverCameTeachNothing(t *testing.T) {
	w := tvSpot()
	web := reportTarget()
	web.LearnedHeadroom = 0.1
	var rs Reports
	var l Learning
	day := 0
	occur := func(loads []float64) (WindowReport, bool) {
		t.Helper()
		start := reportStart.AddDate(0, 0, day)
		day++
		reports := observeSpot(t, &rs, w, start, spotMinutes(w, loads, []int32{10, 30, 50}))
		if len(reports) != 1 {
			t.Fatalf("day %d: %d reports, want 1", day-1, len(reports))
		}
		return reports[0], l.Learn(&reports[0])
	}
	for i, peak := range []float64{300, 400, 250} {
		loads := []float64{100, 100, 100, peak, 200, 150, 120, 110, 100, 100, 100, 100, 100, 100}
		if r, ok := occur(loads); !ok {
			t.Fatalf("spot %d (%gx) taught nothing: %s", i, peak/100, r.Sentence())
		}
	}
	learned := func() (Learned, Shape, bool, bool) {
		m, okM := l.Multiplier(w, &web)
		s, okS := l.Shape(w, &web)
		return m, s, okM, okS
	}
	m0, s0, okM, okS := learned()
	// The highest ratio, 4x, with 10% headroom.
	if !okM || !near(m0.Multiplier, 4.4) || len(m0.From) != 3 || !okS || s0.Reports != 3 {
		t.Fatalf("after 3 spots: multiplier %+v (%v), shape %+v (%v); want 4.4x from 3, a shape of 3", m0, okM, s0, okS)
	}
	for i := range 5 {
		r, ok := occur(flatLoads)
		if ok {
			t.Errorf("no-rise spot %d taught a lesson: %s", i, r.Sentence())
		}
		m, s, okM, okS := learned()
		if !okM || m.Multiplier != m0.Multiplier || len(m.From) != 3 || !m.From[0].Start.Equal(reportStart) || !okS || s != s0 {
			t.Errorf("after no-rise spot %d: multiplier %+v, shape %+v; want them unchanged (%+v, %+v)", i, m, s, m0, s0)
		}
	}
}

// TestWindowReportOfARaisedBaseline: the engine raises an "Nx" window's
// latched baseline with loads measured in the lead (within ClearRise:
// the evening rise going on), and the floor applies the multiplier to
// the raised one; the report's Baseline is "the load the window's
// multiplier applied to", so its ratio is over the raised baseline.
func TestWindowReportOfARaisedBaseline(t *testing.T) {
	w := tvSpot()
	cases := []struct {
		name   string
		loads  []float64
		raised float64 // the baseline from 1 min before the start
		ratio  float64
		rose   bool
	}{
		{"a spot over the raised baseline", []float64{100, 120, 120, 240, 200, 150, 130, 120, 120, 120, 120, 120, 120, 120}, 120, 2, true},
		{"no spot, the load up 30% in the lead: no rise", []float64{100, 130, 130, 130, 130, 130, 130, 130, 130, 130, 130, 130, 130, 130}, 130, 1, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cs := spotMinutes(w, tc.loads, nil)
			for i := 1; i < len(cs) && cs[i].phase != ""; i++ {
				cs[i].floor = int32(tc.raised * w.Demand.Value / 10) // 5x of the raised baseline, capacity 10
			}
			r := spotReport(t, w, cs)
			if r.Baseline != ground.Some(tc.raised) || !r.Ratio().OK || !near(r.Ratio().V, tc.ratio) || r.Rose() != tc.rose {
				t.Errorf("baseline %v, ratio %v, rose %v; want %g, %gx, %v", r.Baseline, r.Ratio(), r.Rose(), tc.raised, tc.ratio, tc.rose)
			}
			var l Learning
			if l.Learn(&r) != tc.rose {
				t.Errorf("learned %v, want %v", !tc.rose, tc.rose)
			}
		})
	}
}
