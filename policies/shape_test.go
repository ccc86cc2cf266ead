package policies

import (
	"testing"
	"time"

	"github.com/primetime-dev/primetime/ground"
)

// tvSpots is the learning group of the shape tests' windows.
const tvSpots = "tv-spots"

// shapeReport is the report of the tv-spots occurrence of day day on
// shop/web: a rise to 4x of 100, its first wave peaking peakAfter the
// start and half gone halfDecay later (0: never while in force), with a
// second wave second as high as the first at secondAfter (0: none).
func shapeReport(day int, peakAfter, halfDecay time.Duration, second float64, secondAfter time.Duration) WindowReport {
	start := reportStart.AddDate(0, 0, day)
	web := reportTarget()
	r := WindowReport{Target: web.Key(), Window: "tv-spot", Group: tvSpots, Start: start, End: start.Add(10 * time.Minute),
		Baseline: ground.Some(100.0), Peak: ground.Some(400.0), PeakAt: start.Add(peakAfter), FirstPeakAt: start.Add(peakAfter), Complete: true}
	if halfDecay > 0 {
		r.FirstHalfDecay = ground.Some(halfDecay)
	}
	if second > 0 {
		r.SecondWave, r.SecondWaveAt = ground.Some(second), start.Add(secondAfter)
	}
	return r
}

// TestShapeLearnedFromReports: the shape of a group's last reports on a
// target, and its one-line description, from 3 reports on; a report
// with no clear rise or that missed part of its occurrence does not
// count.
func TestShapeLearnedFromReports(t *testing.T) {
	noRise := shapeReport(20, 9*time.Minute, 0, 0, 0)
	noRise.Peak = ground.Some(110.0) // 1.1x: the spot never aired
	incomplete := shapeReport(21, 7*time.Minute, 8*time.Minute, 2, 9*time.Minute)
	incomplete.Complete = false // a failover in the middle of it
	cases := []struct {
		name     string
		reports  []WindowReport
		taught   int // how many of the reports Learn keeps
		want     Shape
		describe string // "": no shape
	}{
		{
			name: "3 reports without a second wave",
			reports: []WindowReport{
				shapeReport(0, 40*time.Second, 2*time.Minute, 0, 0),
				shapeReport(1, time.Minute, 3*time.Minute, 0, 0),
				shapeReport(2, 50*time.Second, 150*time.Second, 0, 0),
			},
			taught:   3,
			want:     Shape{Reports: 3, PeakAfter: time.Minute, HalfDecay: 3 * time.Minute, HalfDecays: 3},
			describe: "3 reports: peak at +1 min, half-decay 3 min, no second wave; the floor follows the load down from +1 min, once it is read below its peak",
		},
		{
			name: "6 reports: the last 5 count, the oldest's late peak is forgotten",
			reports: []WindowReport{
				shapeReport(0, 5*time.Minute, 9*time.Minute, 0, 0),
				shapeReport(1, 40*time.Second, 2*time.Minute, 0, 0),
				shapeReport(2, 30*time.Second, 3*time.Minute, 0, 0),
				shapeReport(3, 40*time.Second, 0, 0, 0), // never halfway back while in force
				shapeReport(4, 20*time.Second, 90*time.Second, 0, 0),
				shapeReport(5, 35*time.Second, 2*time.Minute, 0, 0),
			},
			taught:   6,
			want:     Shape{Reports: 5, PeakAfter: 40 * time.Second, HalfDecay: 3 * time.Minute, HalfDecays: 4},
			describe: "5 reports: peak at +40 s, half-decay 3 min, no second wave; the floor follows the load down from +40 s, once it is read below its peak",
		},
		{
			name: "mixed: second waves in two of five, a no-rise and an incomplete report left out",
			reports: []WindowReport{
				shapeReport(0, time.Minute, 3*time.Minute, 0, 0),
				shapeReport(1, 70*time.Second, 4*time.Minute, 0.6, 8*time.Minute),
				noRise,
				shapeReport(2, 50*time.Second, 2*time.Minute, 0, 0),
				incomplete,
				shapeReport(3, 40*time.Second, 0, 0.9, 390*time.Second),
				shapeReport(4, time.Minute, 150*time.Second, 0, 0),
			},
			taught: 5,
			want: Shape{Reports: 5, PeakAfter: 70 * time.Second, HalfDecay: 4 * time.Minute, HalfDecays: 4,
				SecondWave: 0.9, SecondFrom: 390 * time.Second, SecondTo: 8 * time.Minute},
			describe: "5 reports: peak at +1 min 10 s, half-decay 4 min, second waves up to 0.9x as high as the first from +6 min 30 s to +8 min; the floor follows the load down from +1 min 10 s, once it is read below its peak, and is held again for the second waves",
		},
		{
			name: "2 reports, a no-rise and an incomplete one: no shape yet",
			reports: []WindowReport{
				shapeReport(0, time.Minute, 3*time.Minute, 0, 0),
				noRise,
				incomplete,
				shapeReport(1, time.Minute, 3*time.Minute, 0, 0),
			},
			taught: 2,
		},
		{
			name:   "no report: no shape",
			taught: 0,
		},
	}
	window := &ground.Window{Name: "tv-spot", Group: tvSpots, ShapeLearned: true}
	web := reportTarget()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var l Learning
			taught := 0
			for i := range tc.reports {
				if l.Learn(&tc.reports[i]) {
					taught++
				}
			}
			if taught != tc.taught {
				t.Errorf("%d reports taught, want %d", taught, tc.taught)
			}
			got, ok := l.Shape(window, &web)
			if tc.describe == "" {
				if ok {
					t.Fatalf("a shape from %d reports: %+v", tc.taught, got)
				}
				return
			}
			if !ok {
				t.Fatalf("no shape from %d reports", tc.taught)
			}
			if got != tc.want {
				t.Errorf("shape:\n got %+v\nwant %+v", got, tc.want)
			}
			if d := got.Describe(); d != tc.describe {
				t.Errorf("description:\n got %s\nwant %s", d, tc.describe)
			}
		})
	}
	t.Run("another group or target learns nothing of them", func(t *testing.T) {
		var l Learning
		for day := range 3 {
			r := shapeReport(day, time.Minute, 3*time.Minute, 0, 0)
			l.Learn(&r)
		}
		other := &ground.Window{Name: "radio-spot", Group: "radio-spots", ShapeLearned: true}
		if s, ok := l.Shape(other, &web); ok {
			t.Errorf("radio-spots learned %+v from tv-spots' reports", s)
		}
		api := web
		api.Name = "api"
		if s, ok := l.Shape(window, &api); ok {
			t.Errorf("shop/api learned %+v from shop/web's reports", s)
		}
	})
}

// TestShapeOfLessons: ShapeOf straight from lessons, in any order.
func TestShapeOfLessons(t *testing.T) {
	cases := []struct {
		name     string
		lessons  []Lesson
		want     Shape
		describe string
	}{
		{
			name:     "no half decay seen: none said",
			lessons:  []Lesson{{PeakAfter: 40 * time.Second}, {PeakAfter: 20 * time.Second}, {PeakAfter: 30 * time.Second}},
			want:     Shape{Reports: 3, PeakAfter: 40 * time.Second},
			describe: "3 reports: peak at +40 s, no second wave; the floor follows the load down from +40 s, once it is read below its peak",
		},
		{
			name: "the earliest second wave comes last",
			lessons: []Lesson{
				{PeakAfter: time.Minute, HalfDecay: 2 * time.Minute, SecondWave: 1.5, SecondAfter: 12 * time.Minute},
				{PeakAfter: time.Minute, HalfDecay: 2 * time.Minute, SecondWave: 0.4, SecondAfter: 9 * time.Minute},
				{PeakAfter: 2 * time.Minute, HalfDecay: 5 * time.Minute, SecondWave: 0.7, SecondAfter: 7 * time.Minute},
			},
			want: Shape{Reports: 3, PeakAfter: 2 * time.Minute, HalfDecay: 5 * time.Minute, HalfDecays: 3,
				SecondWave: 1.5, SecondFrom: 7 * time.Minute, SecondTo: 12 * time.Minute},
			describe: "3 reports: peak at +2 min, half-decay 5 min, second waves up to 1.5x as high as the first from +7 min to +12 min; the floor follows the load down from +2 min, once it is read below its peak, and is held again for the second waves",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := ShapeOf(tc.lessons)
			if got != tc.want {
				t.Errorf("shape:\n got %+v\nwant %+v", got, tc.want)
			}
			if d := got.Describe(); d != tc.describe {
				t.Errorf("description:\n got %s\nwant %s", d, tc.describe)
			}
		})
	}
}

// TestShapedFloorOverAWindowsLife: a "shape: learned" 5x spot on a
// baseline of 1000 (floor 100, capacity 50, rest 20), with a learned
// lead of 3 min, over the life of spots given as the traffic measured
// so far at one instant.
func TestShapedFloorOverAWindowsLife(t *testing.T) {
	const learned = `timezone: Europe/Paris
windows:
  - name: tv-spot
    group: tv-spots
    shape: learned
    start: "2026-11-25 20:45"
    duration: 15m
    expect: 5x
    targets: [storefront/web]
`
	flat := `timezone: Europe/Paris
windows:
  - name: tv-spot
    group: tv-spots
    shape: flat
    start: "2026-11-25 20:45"
    duration: 15m
    expect: 5x
    targets: [storefront/web]
`
	web := webTarget()
	some := ground.Some[float64]
	firstWave := Shape{Reports: 5, PeakAfter: time.Minute, HalfDecay: 3 * time.Minute, HalfDecays: 5}
	secondWaves := Shape{Reports: 5, PeakAfter: time.Minute, HalfDecay: 3 * time.Minute, HalfDecays: 5, SecondWave: 0.8, SecondFrom: 8 * time.Minute, SecondTo: 10 * time.Minute}
	type instant struct {
		wall                            string
		peak, latest, sincePeak, lowest ground.Opt[float64]
		phase                           Phase
		floor                           int32 // 0: no floor
		following, shaped               bool
	}
	cases := []struct {
		name     string
		windows  string
		shape    *Shape // nil: fewer than MinShapeReports
		lead     time.Duration
		traffic  bool // false: nothing known of it (a plan)
		instants []instant
	}{
		{"a spot that came: held to the learned peak and while at its top, then followed down with 25% headroom", learned, &firstWave, 3 * time.Minute, true, []instant{
			{wall: "2026-11-25 20:41:59"}, // the learned lead: no floor 8 min ahead
			{wall: "2026-11-25 20:42", phase: PhaseLead, floor: 100},
			{wall: "2026-11-25 20:45", peak: some(1000), latest: some(1000), sincePeak: some(1000), phase: PhaseActive, floor: 100, shaped: true},
			// Before the learned peak at +1 min: held, however low it is read.
			{wall: "2026-11-25 20:45:40", peak: some(4000), latest: some(2500), sincePeak: some(2500), phase: PhaseActive, floor: 100, shaped: true},
			{wall: "2026-11-25 20:46", peak: some(4000), latest: some(4000), sincePeak: some(4000), phase: PhaseActive, floor: 100, shaped: true},
			// Read just above PassedFraction below the peak (3250): held.
			{wall: "2026-11-25 20:46:20", peak: some(4000), latest: some(3300), sincePeak: some(3300), phase: PhaseActive, floor: 100, shaped: true},
			// At it: 3250 × 1.25 = 4062.5 → 82 replicas.
			{wall: "2026-11-25 20:46:30", peak: some(4000), latest: some(3250), sincePeak: some(3250), phase: PhaseActive, floor: 82, following: true, shaped: true},
			{wall: "2026-11-25 20:47", peak: some(4000), latest: some(2000), sincePeak: some(2000), phase: PhaseActive, floor: 50, following: true, shaped: true},
			{wall: "2026-11-25 20:48", peak: some(4000), latest: some(1200), sincePeak: some(1200), phase: PhaseActive, floor: 30, following: true, shaped: true},
			// 1900 is within SecondWaveRise (750) of the lowest since the
			// peak: 2375 → 48, still followed.
			{wall: "2026-11-25 20:49", peak: some(4000), latest: some(1900), sincePeak: some(1200), phase: PhaseActive, floor: 48, following: true, shaped: true},
			// 2000 is a new rise: the whole floor at once.
			{wall: "2026-11-25 20:49:30", peak: some(4000), latest: some(2000), sincePeak: some(1200), phase: PhaseActive, floor: 100, shaped: true},
			{wall: "2026-11-25 20:52", peak: some(4000), latest: some(800), sincePeak: some(800), phase: PhaseActive, floor: 20, following: true, shaped: true},
			{wall: "2026-11-25 20:59:59", peak: some(4000), latest: some(1000), sincePeak: some(800), phase: PhaseActive, floor: 25, following: true, shaped: true},
			// The cooldown follows as an unshaped window does.
			{wall: "2026-11-25 21:00", peak: some(4000), latest: some(1000), sincePeak: some(800), phase: PhaseCooldown, floor: 25, following: true},
			{wall: "2026-11-25 21:10", peak: some(4000), latest: some(1000), sincePeak: some(800), lowest: some(1000)}, // back at the baseline: released
		}},
		{"a spot that airs 90 s late: held until it arrived and passed", learned, &firstWave, 3 * time.Minute, true, []instant{
			{wall: "2026-11-25 20:46", peak: some(1050), latest: some(1000), sincePeak: some(1000), phase: PhaseActive, floor: 100, shaped: true},
			{wall: "2026-11-25 20:46:29", peak: some(1200), latest: some(1200), sincePeak: some(1200), phase: PhaseActive, floor: 100, shaped: true},
			{wall: "2026-11-25 20:46:30", peak: some(4000), latest: some(4000), sincePeak: some(4000), phase: PhaseActive, floor: 100, shaped: true},
			{wall: "2026-11-25 20:47:30", peak: some(4000), latest: some(2400), sincePeak: some(2400), phase: PhaseActive, floor: 60, following: true, shaped: true},
		}},
		{"a spot at 2.2x of an expected 5x: not clearly arrived, held", learned, &firstWave, 3 * time.Minute, true, []instant{
			{wall: "2026-11-25 20:50", peak: some(2200), latest: some(1500), sincePeak: some(1500), phase: PhaseActive, floor: 100, shaped: true},
		}},
		{"a spot that never airs: held to the end, then stepped down", learned, &firstWave, 3 * time.Minute, true, []instant{
			{wall: "2026-11-25 20:46", peak: some(1100), latest: some(1000), sincePeak: some(1000), phase: PhaseActive, floor: 100, shaped: true},
			{wall: "2026-11-25 20:59:59", peak: some(1200), latest: some(1000), sincePeak: some(950), phase: PhaseActive, floor: 100, shaped: true},
			{wall: "2026-11-25 21:09:59", peak: some(1200), latest: some(1000), sincePeak: some(950), lowest: some(950), phase: PhaseCooldown, floor: 100},
			{wall: "2026-11-25 21:10", peak: some(1200), latest: some(1000), sincePeak: some(950), lowest: some(950), phase: PhaseStepDown, floor: 83},
		}},
		{"the load unknown (source down): held", learned, &firstWave, 3 * time.Minute, true, []instant{
			{wall: "2026-11-25 20:50", peak: some(4000), sincePeak: some(1200), phase: PhaseActive, floor: 100, shaped: true},
		}},
		{"a group with second waves: followed, then held again from the earliest one less the lead", learned, &secondWaves, 3 * time.Minute, true, []instant{
			{wall: "2026-11-25 20:47", peak: some(4000), latest: some(2000), sincePeak: some(2000), phase: PhaseActive, floor: 50, following: true, shaped: true},
			{wall: "2026-11-25 20:49:59", peak: some(4000), latest: some(1500), sincePeak: some(1500), phase: PhaseActive, floor: 38, following: true, shaped: true},
			// +8 min less the 3 min lead: the whole floor, ready for it.
			{wall: "2026-11-25 20:50", peak: some(4000), latest: some(1500), sincePeak: some(1500), phase: PhaseActive, floor: 100, shaped: true},
			{wall: "2026-11-25 20:55", peak: some(4000), latest: some(1200), sincePeak: some(1200), phase: PhaseActive, floor: 100, shaped: true},
			{wall: "2026-11-25 20:59:59", peak: some(4000), latest: some(1200), sincePeak: some(1200), phase: PhaseActive, floor: 100, shaped: true},
			{wall: "2026-11-25 21:00", peak: some(4000), latest: some(1200), sincePeak: some(1200), phase: PhaseCooldown, floor: 30, following: true},
		}},
		{"second waves with the target's 8 min lead: held again from the start, never followed", learned, &secondWaves, 0, true, []instant{
			{wall: "2026-11-25 20:36:59"},
			{wall: "2026-11-25 20:37", phase: PhaseLead, floor: 100},
			{wall: "2026-11-25 20:47", peak: some(4000), latest: some(2000), sincePeak: some(2000), phase: PhaseActive, floor: 100, shaped: true},
		}},
		{"fewer than 3 reports: held flat to the end", learned, nil, 3 * time.Minute, true, []instant{
			{wall: "2026-11-25 20:47", peak: some(4000), latest: some(2000), sincePeak: some(2000), phase: PhaseActive, floor: 100},
			{wall: "2026-11-25 21:00", peak: some(4000), latest: some(2000), sincePeak: some(2000), phase: PhaseCooldown, floor: 50, following: true},
		}},
		{"shape: flat: held flat whatever the group showed", flat, &firstWave, 3 * time.Minute, true, []instant{
			{wall: "2026-11-25 20:47", peak: some(4000), latest: some(2000), sincePeak: some(2000), phase: PhaseActive, floor: 100},
		}},
		{"nothing known of the traffic (a plan): held flat", learned, &firstWave, 3 * time.Minute, false, []instant{
			{wall: "2026-11-25 20:47", phase: PhaseActive, floor: 100, shaped: true},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ws := parseWindows(t, tc.windows)
			wantLead := web.LeadTime
			if tc.lead > 0 {
				wantLead = tc.lead
			}
			for _, in := range tc.instants {
				now := at(t, paris, in.wall)
				known := Known{Baseline: ConstantBaseline(1000)}
				if tc.traffic {
					known.Traffic = func(Occurrence) Traffic {
						return Traffic{Peak: in.peak, Latest: in.latest, SincePeak: in.sincePeak, Lowest: in.lowest}
					}
				}
				known.Shape = func(o Occurrence) (Shape, bool) {
					if o.Window.Name != "tv-spot" || tc.shape == nil {
						return Shape{}, false
					}
					return *tc.shape, true
				}
				if tc.lead > 0 {
					known.LeadTime = func(Occurrence) time.Duration { return tc.lead }
				}
				occs := NewCalendar(ws).Agenda(now, web.LeadTime).For(web.Key(), nil)
				s := EvaluateKnown(web, occs, now, known)
				if in.floor == 0 {
					if s.Floor.OK {
						t.Errorf("%s: want no floor, got %d", in.wall, s.Floor.V)
					}
					continue
				}
				e, ok := s.FloorWindow()
				if !ok || s.Floor.V != in.floor || e.Phase != in.phase || e.Following != in.following || e.Shaped != in.shaped || e.Lead != wantLead {
					t.Errorf("%s: want floor %d in %s following=%v shaped=%v lead %s, got %v in %s following=%v shaped=%v lead %s",
						in.wall, in.floor, in.phase, in.following, in.shaped, wantLead, s.Floor, e.Phase, e.Following, e.Shaped, e.Lead)
				}
			}
		})
	}
}
