package policies

// Findings of a hostile review of learned shapes and leads (shape:
// learned, leadTime: learned, HoldShaped, raiseBaseline): each test
// failed on the code as it was reviewed and asserts the behaviour now in
// place; its comment tells the finding.

import (
	"testing"
	"time"

	"github.com/primetime-dev/primetime/ground"
)

// hostileWindows: a "shape: learned" 5x TV spot (floor 100 on a baseline
// of 1,000 at 50 a replica) inside a flat 2x newsletter hour (floor 40),
// on storefront/web.
const hostileWindows = `timezone: Europe/Paris
windows:
  - name: tv-spot
    group: tv-spots
    shape: learned
    start: "2026-11-25 20:45"
    duration: 15m
    expect: 5x
    targets: [storefront/web]
  - name: newsletter
    start: "2026-11-25 20:30"
    duration: 1h
    expect: 2x
    targets: [storefront/web]
`

// hostileCycle evaluates the two windows at wall with the spot's traffic
// (peak, latest, lowest since the peak) and decides with that load.
func hostileCycle(t *testing.T, tg *ground.Target, wall string, peak, latest, sincePeak float64) Decision {
	t.Helper()
	ws := parseWindows(t, hostileWindows)
	now := at(t, paris, wall)
	shape := Shape{Reports: 5, PeakAfter: time.Minute, HalfDecay: 3 * time.Minute, HalfDecays: 5}
	known := Known{
		Baseline: ConstantBaseline(1000),
		Traffic: func(o Occurrence) Traffic {
			if o.Window.Name != "tv-spot" {
				return Traffic{Peak: ground.Some(latest), Latest: ground.Some(latest)}
			}
			return Traffic{Peak: ground.Some(peak), Latest: ground.Some(latest), SincePeak: ground.Some(sincePeak)}
		},
		Shape: func(o Occurrence) (Shape, bool) { return shape, o.Window.Name == "tv-spot" },
	}
	occs := NewCalendar(ws).Agenda(now, tg.LeadTime).For(tg.Key(), nil)
	s := EvaluateKnown(tg, occs, now, known)
	return Decide(Input{Target: tg, Now: now, Observed: ground.Some(latest), Schedule: s})
}

// TestHostileAnotherWindowsFloorDropsTheShapedHold: a shaped spot inside
// a flat newsletter window. At 20:46 the spot's floor (100) wins; at
// 20:47 it follows the load down (1,200 × 1.25 / 50 = 30), below the
// newsletter's flat 40, so the newsletter's effect is the schedule's
// FloorWindow. HoldShaped (scale and hpa-floor modes) and Stabilize
// (metric mode with behavior) look only at the FloorWindow: not shaped,
// so the hold of the spot's 100 over the last 300 s is dropped at once
// and 40 is written. Without the newsletter the same cycle gives 100.
// A lower floor of another window makes the result lower: the highest
// floor no longer wins.
//
// Right behaviour: the held floor of a shaped occurrence is kept whatever
// effect wins the cycle (hold per occurrence, then take the highest), so
// that adding a window never lowers the replicas.
func TestHostileAnotherWindowsFloorDropsTheShapedHold(t *testing.T) {
	t.Run("scale mode: HoldShaped", func(t *testing.T) {
		tg := webTarget()
		tg.Mode, tg.Behavior = ground.ModeScale, ground.DefaultBehavior
		var recent []Recommendation
		d := hostileCycle(t, tg, "2026-11-25 20:46", 4000, 4000, 4000)
		recent = holdAll(&d, tg, recent)
		if d.Desired.V != 100 {
			t.Fatalf("20:46: desired %v, want 100 (the spot at its peak)", d.Desired)
		}
		d = hostileCycle(t, tg, "2026-11-25 20:47", 4000, 1200, 1200)
		holdAll(&d, tg, recent)
		if d.Desired.V != 100 || d.Schedule.Floor.V != 100 {
			t.Errorf("20:47: floor %v, desired %v, want 100 held (the spot's floor of 60 s ago, within 300 s); the newsletter's 40 dropped the hold", d.Schedule.Floor, d.Desired)
		}
	})
	t.Run("metric mode with behavior: Stabilize", func(t *testing.T) {
		tg := webTarget()
		tg.Behavior, tg.PacePublished = ground.DefaultBehavior, true
		// As the engine does: each shaped occurrence held, then paced.
		var recent, held []Recommendation
		d := hostileCycle(t, tg, "2026-11-25 20:46", 4000, 4000, 4000)
		held = holdAll(&d, tg, held)
		v, recent := Stabilize(&d, tg.Behavior.ScaleDownStabilization, recent)
		if v.V != 100 {
			t.Fatalf("20:46: published %v, want 100", v)
		}
		d = hostileCycle(t, tg, "2026-11-25 20:47", 4000, 1200, 1200)
		holdAll(&d, tg, held)
		if v, _ = Stabilize(&d, tg.Behavior.ScaleDownStabilization, recent); v.V != 100 {
			t.Errorf("20:47: published %v, want 100 (the spot's shaped floor of 60 s ago); the newsletter's flat 40 is published as it is", v)
		}
	})
}

// TestHostileAFlatFloorLowersThePacedReplicas: metric mode with
// behavior (PacePublished), the HPA with no stabilisation of its own, as
// docs/install.md advises. Tracking asked 40 a minute ago (a burst of
// organic load); now it asks 20, so 40 is published (the highest of the
// last 300 s). A flat window's floor of 25 comes into force: the decision
// is now by the window, published "as it is": 25. The same cycle with no
// window publishes 40: a floor lowers what is published, and the HPA
// drops 15 replicas at once, 4 minutes before the stabilisation would
// have let it. (Pace, in scale mode, does the same, from before this
// feature.)
//
// Right behaviour: published = max(the floor as it is, the paced value
// of tracking and forecast): a schedule is not held back, but it never
// lowers the pacing of the measurements.
func TestHostileAFlatFloorLowersThePacedReplicas(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
	tracking := func(at time.Duration, replicas int32) *Decision {
		return &Decision{At: t0.Add(at), Desired: ground.Some(replicas), By: PolicyTracking, Tracking: ground.Some(replicas)}
	}
	withFloor := func(d *Decision, floor int32, phase Phase, shaped bool) *Decision {
		d.Schedule.Floor, d.Schedule.Effects = ground.Some(floor), []Effect{{Phase: phase, Replicas: ground.Some(floor), Shaped: shaped}}
		if floor > d.Desired.V {
			d.Desired, d.By = ground.Some(floor), PolicyWindow
		}
		return d
	}
	const window = 300 * time.Second
	t.Run("a flat floor under recent tracking", func(t *testing.T) {
		_, recent := Stabilize(tracking(0, 40), window, nil)
		without, _ := Stabilize(tracking(time.Minute, 20), window, recent)
		with, _ := Stabilize(withFloor(tracking(time.Minute, 20), 25, PhaseActive, false), window, recent)
		if without.V != 40 {
			t.Fatalf("without a window: %v, want 40", without)
		}
		if with.V < without.V {
			t.Errorf("with a flat floor of 25: published %v, without it %v: the floor lowered the replicas", with, without)
		}
	})
	// docs/install.md: "primetime_replicas goes down no faster than the
	// highest that tracking, the forecast and a floor following its shape
	// inside its window asked for over the last 300 s". The decision
	// taken: the hold ends with the window (docs/install.md now says so:
	// "once the window is over, its floor steps down as it is"): a minute
	// after the end, the cooldown's floor (following the load) is
	// published as it is, never below what tracking asked lately.
	t.Run("a shaped floor at its window's end", func(t *testing.T) {
		var recent []Recommendation
		_, recent = Stabilize(withFloor(tracking(0, 10), 150, PhaseActive, true), window, recent)
		_, recent = Stabilize(withFloor(tracking(3*time.Minute, 10), 66, PhaseActive, true), window, recent)
		got, _ := Stabilize(withFloor(tracking(4*time.Minute, 10), 50, PhaseCooldown, false), window, recent)
		if got.V != 50 {
			t.Errorf("a minute after the window's end: published %v, want 50 (the cooldown's floor as it is)", got)
		}
	})
}

// TestHostileNoiseAtThePassedLineBringsTheWholeFloorBack: once a shaped
// floor follows the load down, a reading back above the "passed" line
// (the peak less a quarter of the rise) is not a new rise by the spec's
// definition (a quarter of the rise above the lowest since the peak),
// yet shapedFloor tests "passed" on every reading, so the whole floor
// (100) is back. On a noisy decay (±5%) around the line the floor
// flaps 81 ↔ 100, and in scale and hpa-floor modes each flap re-arms the
// 300 s hold of 100: wasted replicas, pods asked for and released.
//
// Right behaviour: once passed (the floor followed), only a new rise
// (SincePeak + SecondWaveRise × rise) brings the whole floor back.
func TestHostileNoiseAtThePassedLineBringsTheWholeFloorBack(t *testing.T) {
	tg := webTarget()
	d := hostileCycle(t, tg, "2026-11-25 20:46:30", 4000, 3240, 3240)
	if d.Schedule.Floor.V != 81 {
		t.Fatalf("20:46:30 at 3,240: floor %v, want 81 (3,240 × 1.25 / 50)", d.Schedule.Floor)
	}
	// 3,400: 160 above the lowest since the peak, a new rise needs 750.
	d = hostileCycle(t, tg, "2026-11-25 20:46:45", 4000, 3400, 3240)
	if d.Schedule.Floor.V != 85 {
		t.Errorf("20:46:45 at 3,400 (no new rise): floor %v, want 85 (3,400 × 1.25 / 50), not the whole floor back", d.Schedule.Floor)
	}
}

// TestHostileImportedLessonsAreNotChecked: plan --reports reads lessons
// from any /reports document (ImportJSON), which checks a lesson's
// window, start and ratio but none of its durations.
//
// Right behaviour: a negative or absurd duration is an error naming the
// lesson and the field, as ParseReports does for leadTime's seconds.
func TestHostileImportedLessonsAreNotChecked(t *testing.T) {
	tg := &ground.Target{Namespace: "storefront", Name: "web", LeadLearned: true, LeadTime: 5 * time.Minute, MinLeadTime: time.Minute}
	// A readyAfter of 290 years (pods never ready, written as the
	// largest duration): need + a quarter overflows, and the lead is
	// the SHORTEST allowed, not the longest.
	t.Run("a huge readyAfter gives the shortest lead", func(t *testing.T) {
		doc := `{"storefront/web|tv-spots": [{"window": "tv-spot", "start": "2026-11-24T19:45:00Z", "ratio": 3, "readyAfter": 9223372036854775807}]}`
		var l Learning
		err := l.ImportJSON("reports.json", []byte(doc))
		if err == nil && l.Lead(tg) != tg.LeadTime {
			t.Errorf("lead %s from a lesson whose pods took 290 years, want the longest (%s) or an error", l.Lead(tg), tg.LeadTime)
		}
	})
	t.Run("negative durations are taken and said", func(t *testing.T) {
		doc := `{"storefront/web|tv-spots": [
		  {"window": "tv-spot", "start": "2026-11-22T19:45:00Z", "ratio": 3, "peakAfter": -60000000000, "secondWave": 0.5, "secondAfter": -960000000000},
		  {"window": "tv-spot", "start": "2026-11-23T19:45:00Z", "ratio": 3},
		  {"window": "tv-spot", "start": "2026-11-24T19:45:00Z", "ratio": 3}]}`
		var l Learning
		if err := l.ImportJSON("reports.json", []byte(doc)); err == nil {
			w := &ground.Window{Name: "tv-spot", Group: "tv-spots", ShapeLearned: true}
			web := ground.Target{Namespace: "storefront", Name: "web"}
			s, _ := l.Shape(w, &web)
			t.Errorf("lessons with a second wave 16 min before the start accepted; plan says: %s", s.Describe())
		}
	})
}

// holdAll holds every shaped occurrence of d, as the engine does (one
// occurrence per test here: their holds share recent).
func holdAll(d *Decision, tg *ground.Target, recent []Recommendation) []Recommendation {
	for j := range d.Schedule.Effects {
		if d.Schedule.Effects[j].Shaped {
			recent = HoldShaped(d, j, tg, recent)
		}
	}
	return recent
}
