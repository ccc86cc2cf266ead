package policies

import (
	"testing"
	"time"

	"github.com/primetime-dev/primetime/ground"
)

const specWindows = `timezone: Europe/Paris
windows:
  - name: tf1-prime-spot
    start: "2026-11-25 20:45"
    duration: 15m
    expect: 5x
    targets: [storefront/web, storefront/api]
  - name: sunday-newsletter
    cron: "0 10 * * SUN"
    duration: 1h
    expect: 2x
    targets: [storefront/*]
  - name: staging-nights
    cron: "0 20 * * MON-FRI"
    duration: 12h
    replicas: 0
    quiet: true
    targets: [staging/*]
`

func TestSpotFloorOverItsLife(t *testing.T) {
	ws := parseWindows(t, specWindows)
	web := webTarget()
	// Baseline 1000 → 5x = 5000 → 100 replicas; rest at 1000/50 = 20.
	cases := []struct {
		wall  string
		phase Phase
		floor int32 // 0: no floor
	}{
		{"2026-11-25 20:36:59", "", 0},
		{"2026-11-25 20:37", PhaseLead, 100}, // start - leadTime (8m)
		{"2026-11-25 20:44:59", PhaseLead, 100},
		{"2026-11-25 20:45", PhaseActive, 100},
		{"2026-11-25 20:59:59", PhaseActive, 100},
		{"2026-11-25 21:00", PhaseCooldown, 100},
		{"2026-11-25 21:09:59", PhaseCooldown, 100}, // end + cooldown (10m)
		{"2026-11-25 21:10", PhaseStepDown, 83},
		{"2026-11-25 21:11", PhaseStepDown, 70},
		{"2026-11-25 21:18", PhaseStepDown, 20},
		{"2026-11-25 21:19", "", 0},
	}
	for _, tc := range cases {
		t.Run(tc.wall, func(t *testing.T) {
			s := floorAt(web, ws, at(t, paris, tc.wall), 1000)
			if tc.floor == 0 {
				if s.Floor.OK {
					t.Fatalf("want no floor, got %d", s.Floor.V)
				}
				return
			}
			e, ok := s.FloorWindow()
			if !ok || s.Floor.V != tc.floor || e.Phase != tc.phase {
				t.Fatalf("want floor %d in phase %s, got %v (%+v)", tc.floor, tc.phase, s.Floor, e)
			}
			if e.Occurrence.Window.Name != "tf1-prime-spot" {
				t.Errorf("floor set by %s", e.Occurrence.Window.Name)
			}
		})
	}
}

func TestStepDownStepsAreLargerThanHPATolerance(t *testing.T) {
	cases := []struct {
		name       string
		peak, rest int32
		wantSteps  int
	}{
		{"spot to baseline", 100, 20, 9},
		{"to zero", 40, 0, 15},
		{"small", 3, 1, 2},
		{"within 10% of rest: one step", 21, 20, 1},
		{"long: 100000 to 1", 100000, 1, 62},
		{"longer than MaxSteps: the first step drops further", 10000000, 1, MaxSteps},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			prev := tc.peak
			steps := 0
			for k := 1; ; k++ {
				v, ok := StepDown(tc.peak, tc.rest, k)
				if !ok {
					break
				}
				steps++
				if v >= prev {
					t.Fatalf("step %d: %d does not go down from %d", k, v, prev)
				}
				// The HPA ignores a ratio within 10% of 1: every step but a
				// lone step to rest must be a larger drop.
				if ratio := float64(v) / float64(prev); ratio >= 0.9 && !(k == 1 && v == tc.rest) {
					t.Errorf("step %d: %d → %d is a drop of only %.1f%%", k, prev, v, 100*(1-ratio))
				}
				prev = v
			}
			if prev != tc.rest {
				t.Errorf("the step-down ends at %d, want rest %d", prev, tc.rest)
			}
			if steps != tc.wantSteps {
				t.Errorf("%d steps, want %d", steps, tc.wantSteps)
			}
		})
	}
}

func TestWindowAcrossMidnightAndNewYear(t *testing.T) {
	ws := parseWindows(t, `timezone: Europe/Paris
windows:
  - {name: late-show, start: "2026-11-25 23:30", duration: 1h, expect: 12000, targets: [storefront/web]}
  - {name: new-year, start: "2026-12-31 23:50", end: "2027-01-01 00:20", replicas: 150, targets: [storefront/web]}
  - {name: every-new-year, cron: "0 23 31 12 *", duration: 2h, expect: 3x, targets: [storefront/web]}
`)
	web := webTarget()
	cases := []struct {
		wall   string
		floor  int32
		window string
	}{
		{"2026-11-26 00:15", 240, "late-show"}, // 12000 / 50
		{"2026-11-26 00:29", 240, "late-show"},
		{"2026-12-31 23:00", 60, "every-new-year"}, // 3 × 1000 / 50
		{"2026-12-31 23:45", 150, "new-year"},      // lead 8m before 23:50
		{"2027-01-01 00:10", 150, "new-year"},
		{"2027-01-01 00:35", 60, "every-new-year"}, // new-year in cooldown holds 150 until 00:30
	}
	for _, tc := range cases {
		t.Run(tc.wall, func(t *testing.T) {
			s := floorAt(web, ws, at(t, paris, tc.wall), 1000)
			e, ok := s.FloorWindow()
			if !ok || s.Floor.V != tc.floor || e.Occurrence.Window.Name != tc.window {
				t.Fatalf("want floor %d by %s, got %v by %+v", tc.floor, tc.window, s.Floor, e.Occurrence.Window)
			}
		})
	}
}

func TestOverlappingWindowsTakeTheHighestFloor(t *testing.T) {
	ws := parseWindows(t, `timezone: Europe/Paris
windows:
  - {name: sale, start: "2026-11-27 08:00", duration: 16h, expect: 3x, targets: [storefront/*]}
  - {name: spot, start: "2026-11-27 20:45", duration: 15m, expect: 5x, targets: [storefront/web]}
`)
	web := webTarget()
	for _, tc := range []struct {
		wall  string
		floor int32
		by    string
	}{
		{"2026-11-27 12:00", 60, "sale"},
		{"2026-11-27 20:40", 100, "spot"},
		{"2026-11-27 21:05", 100, "spot"},
		{"2026-11-27 21:30", 60, "sale"}, // spot's step-down is below the sale's floor
	} {
		t.Run(tc.wall, func(t *testing.T) {
			s := floorAt(web, ws, at(t, paris, tc.wall), 1000)
			e, _ := s.FloorWindow()
			if s.Floor != ground.Some(tc.floor) || e.Occurrence.Window.Name != tc.by {
				t.Fatalf("want %d by %s, got %v by %s", tc.floor, tc.by, s.Floor, e.Occurrence.Window.Name)
			}
		})
	}
}

func TestFloorIsClampedToMinAndMax(t *testing.T) {
	ws := parseWindows(t, `windows:
  - {name: huge, start: "2026-11-25 20:00", duration: 1h, expect: 100x, targets: [storefront/web]}
  - {name: tiny, start: "2026-11-26 20:00", duration: 1h, expect: 10, targets: [storefront/web]}
`)
	web := webTarget()
	if s := floorAt(web, ws, at(t, time.UTC, "2026-11-25 20:30"), 1000); s.Floor != ground.Some[int32](300) {
		t.Errorf("100x of 1000 = 2000 replicas must be capped at maxReplicas 300, got %v", s.Floor)
	}
	if s := floorAt(web, ws, at(t, time.UTC, "2026-11-26 20:30"), 1000); s.Floor != ground.Some[int32](2) {
		t.Errorf("a load of 10 is 1 replica, raised to minReplicas 2, got %v", s.Floor)
	}
}

func TestMultiplierWithoutBaselineSaysSo(t *testing.T) {
	ws := parseWindows(t, specWindows)
	web := webTarget()
	now := at(t, paris, "2026-11-25 20:50")
	occs := NewCalendar(ws).Agenda(now, web.LeadTime).For(web.Key(), nil)
	s := Evaluate(web, occs, now, func(Occurrence, time.Time) (float64, bool) { return 0, false })
	if s.Floor.OK || len(s.Effects) != 1 || s.Effects[0].Note == "" {
		t.Fatalf("want an effect with no floor and a note, got %+v", s)
	}
}

func TestQuietWindowCapsAndLiftsBeforeItsEnd(t *testing.T) {
	ws := parseWindows(t, specWindows)
	staging := webTarget()
	staging.Namespace = "staging"
	for _, tc := range []struct {
		wall string
		cap  bool
	}{
		{"2026-11-23 19:59", false},
		{"2026-11-23 20:00", true},
		{"2026-11-24 07:51", true},
		{"2026-11-24 07:52", false}, // leadTime 8m before 08:00: capacity back for the morning
		{"2026-11-28 21:00", false}, // Saturday
	} {
		t.Run(tc.wall, func(t *testing.T) {
			s := floorAt(staging, ws, at(t, paris, tc.wall), 1000)
			if s.Cap.OK != tc.cap || (tc.cap && s.Cap.V != 0) {
				t.Fatalf("cap: got %v, want in force=%v", s.Cap, tc.cap)
			}
		})
	}
}
