package policies

import (
	"testing"
	"time"

	"github.com/primetime-dev/primetime/ground"
)

// TestFloorFollowsTheSpikeDown: tf1-prime-spot (5x on a baseline of 1000:
// floor 100, capacity 50) over the life of four spots, each given as the
// traffic measured so far at one instant.
func TestFloorFollowsTheSpikeDown(t *testing.T) {
	ws := parseWindows(t, specWindows)
	web := webTarget()
	some := ground.Some[float64]
	type instant struct {
		wall                 string
		peak, latest, lowest ground.Opt[float64]
		floor                int32 // 0: no floor
		following            bool
	}
	cases := []struct {
		name     string
		instants []instant
	}{
		{"a spot that came: held to the window's end, followed down with 25% headroom, then released", []instant{
			{wall: "2026-11-25 20:40", floor: 100},                                                       // lead: held
			{wall: "2026-11-25 20:46", peak: some(3000), latest: some(3000), floor: 100},                 // arrived, at its peak
			{wall: "2026-11-25 20:48", peak: some(3000), latest: some(2500), floor: 100},                 // passed, but a second wave may come
			{wall: "2026-11-25 20:56", peak: some(4400), latest: some(4400), floor: 100},                 // and it did
			{wall: "2026-11-25 21:00", peak: some(4400), latest: some(2600), floor: 65, following: true}, // cooldown: 2600×1.25/50
			{wall: "2026-11-25 21:05", peak: some(4400), latest: some(1100), floor: 28, following: true},
			{wall: "2026-11-25 21:06", peak: some(4400), latest: some(4000), floor: 100},                                     // a rebound: held again
			{wall: "2026-11-25 21:10", peak: some(4400), latest: some(1500), lowest: some(1500), floor: 30, following: true}, // step-down (83) above the lowest load since, no headroom
			{wall: "2026-11-25 21:11", peak: some(4400), latest: some(1000), lowest: some(1000)},                             // back at the baseline: released
			{wall: "2026-11-25 21:12", peak: some(4400), latest: some(2000), lowest: some(1000)},                             // and stays so: tracking serves a rebound
		}},
		{"a spot that never aired: held flat, then stepped down", []instant{
			{wall: "2026-11-25 20:50", peak: some(1100), latest: some(1000), floor: 100},
			{wall: "2026-11-25 21:09", peak: some(1200), latest: some(1000), floor: 100},
			{wall: "2026-11-25 21:10", peak: some(1200), latest: some(1000), floor: 83},
		}},
		{"a spot 90 s late: nothing but the usual load yet, held", []instant{
			{wall: "2026-11-25 20:46:30", peak: some(1050), latest: some(950), floor: 100},
		}},
		{"the load unknown (source down): held", []instant{
			{wall: "2026-11-25 20:50", peak: some(3000), floor: 100},
			{wall: "2026-11-25 21:10", peak: some(3000), floor: 83},
		}},
		{"a spot far below its multiplier: it came at 2.4x, followed after the end", []instant{
			{wall: "2026-11-25 20:50", peak: some(2400), latest: some(2000), floor: 100},
			{wall: "2026-11-25 21:01", peak: some(2400), latest: some(2000), floor: 50, following: true},
		}},
		{"a spot at 2.2x of an expected 5x: not clearly arrived, held", []instant{
			{wall: "2026-11-25 21:01", peak: some(2200), latest: some(1500), floor: 100},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, in := range tc.instants {
				now := at(t, paris, in.wall)
				occs := NewCalendar(ws).Agenda(now, web.LeadTime).For(web.Key(), nil)
				s := EvaluateKnown(web, occs, now, Known{
					Baseline: ConstantBaseline(1000),
					Traffic:  func(Occurrence) Traffic { return Traffic{Peak: in.peak, Latest: in.latest, Lowest: in.lowest} },
				})
				if in.floor == 0 {
					if s.Floor.OK {
						t.Errorf("%s: want no floor, got %d", in.wall, s.Floor.V)
					}
					continue
				}
				e, ok := s.FloorWindow()
				if !ok || s.Floor.V != in.floor || e.Following != in.following {
					t.Errorf("%s: want floor %d following=%v, got %v following=%v", in.wall, in.floor, in.following, s.Floor, e.Following)
				}
			}
		})
	}
}

// TestReplicasWindowIsHeld: an explicit count is held whatever the load.
func TestReplicasWindowIsHeld(t *testing.T) {
	ws := parseWindows(t, `windows:
  - name: sale
    start: "2026-11-27 08:00"
    duration: 1h
    replicas: 40
    targets: [storefront/web]
`)
	web := webTarget()
	now := at(t, time.UTC, "2026-11-27 08:30")
	occs := NewCalendar(ws).Agenda(now, web.LeadTime).For(web.Key(), nil)
	s := EvaluateKnown(web, occs, now, Known{Baseline: ConstantBaseline(100),
		Traffic: func(Occurrence) Traffic { return Traffic{Peak: ground.Some(1900.0), Latest: ground.Some(200.0)} }})
	if s.Floor != ground.Some[int32](40) {
		t.Errorf("floor %v, want 40", s.Floor)
	}
}

// TestLearnedMultiplier: "expect: learned" uses the highest peak ratio of
// the group's last 5 reports plus the target's headroom, "initially"
// before any.
func TestLearnedMultiplier(t *testing.T) {
	ws := parseWindows(t, `timezone: Europe/Paris
windows:
  - name: tf1-saturday-spot
    group: tf1-prime
    start: "2026-11-28 20:50"
    duration: 10m
    expect: learned
    initially: 5x
    targets: [storefront/web]
`)
	web := webTarget()
	web.LearnedHeadroom = 0.1
	w := &ws[0]
	var l Learning
	evaluate := func() ground.Opt[int32] {
		now := at(t, paris, "2026-11-28 20:50")
		occs := NewCalendar(ws).Agenda(now, web.LeadTime).For(web.Key(), nil)
		return EvaluateKnown(web, occs, now, Known{Baseline: ConstantBaseline(1000), Learned: func(o Occurrence) (float64, bool) {
			v, ok := l.Multiplier(o.Window, web)
			return v.Multiplier, ok
		}}).Floor
	}
	if f := evaluate(); f != ground.Some[int32](100) {
		t.Fatalf("before any report: floor %v, want 100 (initially 5x)", f)
	}
	// Six reports of the group: the first (4.0x) is forgotten, the highest
	// of the last five is 3.2x: 3.2 × 1.1 = 3.52x, 3520 → 71 replicas.
	start := at(t, paris, "2026-11-01 20:50")
	for i, ratio := range []float64{4.0, 2.5, 3.2, 2.9, 3.0, 2.0} {
		r := WindowReport{Target: web.Key(), Window: "tf1-weekday-spot", Group: "tf1-prime", Start: start.AddDate(0, 0, i),
			Baseline: ground.Some(1000.0), Peak: ground.Some(1000 * ratio), Complete: true}
		if !l.Learn(&r) {
			t.Fatalf("report %d taught nothing", i)
		}
	}
	got, ok := l.Multiplier(w, web)
	if !ok || !near(got.Multiplier, 3.52) || len(got.From) != 5 || got.From[0].Ratio != 2.5 {
		t.Fatalf("learned %+v, want 3.52 from the last 5 reports (first 2.5x)", got)
	}
	if f := evaluate(); f != ground.Some[int32](71) {
		t.Errorf("learned floor %v, want 71", f)
	}
	// Another target, another group: nothing learned.
	other := *web
	other.Name = "api"
	if _, ok := l.Multiplier(w, &other); ok {
		t.Error("storefront/api learned from storefront/web's reports")
	}
	quiet := WindowReport{Target: web.Key(), Group: "tf1-prime", Quiet: true, Baseline: ground.Some(1000.0), Peak: ground.Some(9000.0), Complete: true}
	if l.Learn(&quiet) {
		t.Error("a quiet window's report taught a multiplier")
	}
	partial := WindowReport{Target: web.Key(), Window: "tf1-weekday-spot", Group: "tf1-prime", Start: start.AddDate(0, 0, 9),
		Baseline: ground.Some(1000.0), Peak: ground.Some(1000.0)}
	if l.Learn(&partial) {
		t.Error("a report that did not see the whole occurrence (its peak missed) taught a multiplier")
	}
}

// TestForecastMasksPastOccurrences: yesterday's spot at 20:45 does not
// raise today's forecast at 20:46; that day's load before the spot stands
// for it.
func TestForecastMasksPastOccurrences(t *testing.T) {
	ws := parseWindows(t, `timezone: Europe/Paris
windows:
  - name: nightly-spot
    cron: "45 20 * * *"
    duration: 15m
    expect: 5x
    targets: [storefront/web]
`)
	spec := ground.ForecastSpec{Seasonality: 24 * time.Hour, Lookback: 3}
	today := at(t, paris, "2026-11-25 20:46")
	var h ground.Series
	for d := 3; d >= 1; d-- {
		day := today.AddDate(0, 0, -d)
		for m := -30; m <= 30; m++ {
			v := 1000.0
			if m >= 0 && m < 10 {
				v = 4000 // the spot
			}
			h = append(h, ground.Sample{T: day.Add(time.Duration(m-1) * time.Minute), V: v})
		}
	}
	mask := WindowMask(&ws[0], today.AddDate(0, 0, -4), today)
	if len(mask) != 5 || !mask[0].From.Equal(at(t, paris, "2026-11-21 20:45")) || !mask[4].To.Equal(at(t, paris, "2026-11-25 21:10")) {
		t.Fatalf("mask %v, want 5 spans, 20:45 to 21:10 (end + cooldown) from the 21st to the 25th", mask)
	}
	if f := ForecastAt(h, today, spec, nil); f.Load != ground.Some(4000.0) {
		t.Fatalf("unmasked forecast %v, want 4000 (the past spots)", f.Load)
	}
	if f := ForecastAt(h, today, spec, Masks{mask}); f.Load != ground.Some(1000.0) || f.Seasons != 3 {
		t.Errorf("masked forecast %v from %d seasons, want 1000 from 3", f.Load, f.Seasons)
	}
	quiet := ws[0]
	quiet.Quiet = true
	if m := WindowMask(&quiet, today.AddDate(0, 0, -4), today); m != nil {
		t.Errorf("a quiet window masks %v", m)
	}
}

// TestPlanOfALearnedWindow: a plan with nothing learned plans a learned
// window at "initially" and says so; with what the daemon learned, at the
// learned multiplier.
func TestPlanOfALearnedWindow(t *testing.T) {
	ws := parseWindows(t, `timezone: Europe/Paris
windows:
  - name: tf1-saturday-spot
    group: tf1-prime
    start: "2026-11-28 20:50"
    duration: 10m
    expect: learned
    initially: 5x
    targets: [storefront/web]
`)
	web := webTarget()
	from, to := at(t, paris, "2026-11-28 20:00"), at(t, paris, "2026-11-28 23:00")
	plan := Plan([]ground.Target{*web}, NewCalendar(ws), from, to, ConstantBaseline(1000))
	ep := plan[0].Episodes[0]
	const note = "expect: learned, planned at initially 5x until its group has a report (the daemon's /calendar shows what it learned)"
	if ep.Peak != ground.Some[int32](100) || len(ep.Notes) != 1 || ep.Notes[0] != note {
		t.Errorf("plan: peak %v, notes %q; want 100 and %q", ep.Peak, ep.Notes, note)
	}
	learned := func(*ground.Window, *ground.Target) (Learned, bool) { return Learned{Multiplier: 3.3}, true }
	ep = PlanLearned([]ground.Target{*web}, NewCalendar(ws), from, to, ConstantBaseline(1000), learned)[0].Episodes[0]
	if ep.Peak != ground.Some[int32](66) || len(ep.Notes) != 0 {
		t.Errorf("plan with 3.3x learned: peak %v, notes %q; want 66 and none", ep.Peak, ep.Notes)
	}
}

// TestForecastMaskStepsBackOverBackToBackWindows: a spot at 20:45 and a
// show at 20:55 the day before: the forecast at 20:58 counts that day's
// load before the spot, not the spot standing in for the show.
func TestForecastMaskStepsBackOverBackToBackWindows(t *testing.T) {
	ws := parseWindows(t, `timezone: Europe/Paris
windows:
  - {name: spot, cron: "45 20 * * *", duration: 5m, cooldown: 5m, expect: 5x, targets: [storefront/web]}
  - {name: show, cron: "55 20 * * *", duration: 30m, expect: 2x, targets: [storefront/web]}
`)
	spec := ground.ForecastSpec{Seasonality: 24 * time.Hour, Lookback: 1}
	today := at(t, paris, "2026-11-25 20:58")
	day := today.AddDate(0, 0, -1)
	var h ground.Series
	for m := -60; m <= 60; m++ {
		v := 1000.0
		switch {
		case m >= -13 && m < -3:
			v = 5000 // the spot, 20:45 to 20:55
		case m >= -3:
			v = 2000 // the show
		}
		h = append(h, ground.Sample{T: day.Add(time.Duration(m) * time.Minute), V: v})
	}
	from := today.AddDate(0, 0, -2)
	masks := Masks{WindowMask(&ws[0], from, today), WindowMask(&ws[1], from, today)}
	if f := ForecastAt(h, today, spec, masks); f.Load != ground.Some(1000.0) {
		t.Errorf("forecast %v, want 1000 (the load before the spot)", f.Load)
	}
	every := parseWindows(t, `windows:
  - {name: ticker, cron: "* * * * *", duration: 1m, expect: 2x, targets: [storefront/web]}
`)
	if m := WindowMask(&every[0], today.AddDate(0, 0, -7), today); m != nil {
		t.Errorf("a window every minute masks %d spans, want none (it is the usual load)", len(m))
	}
}
