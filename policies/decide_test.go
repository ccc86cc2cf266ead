package policies

import (
	"strings"
	"testing"
	"time"

	"github.com/primetime-dev/primetime/ground"
)

func TestDecide(t *testing.T) {
	web := webTarget()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	spot := &ground.Window{Name: "spot"}
	night := &ground.Window{Name: "night", Quiet: true}
	floor := func(n int32) Schedule {
		return Schedule{Floor: ground.Some(n), Load: ground.Some(float64(n) * 50),
			Effects: []Effect{{Occurrence: Occurrence{Window: spot}, Phase: PhaseActive, Replicas: ground.Some(n)}}}
	}
	capOnly := func(c int32) Schedule {
		return Schedule{Cap: ground.Some(c), Effects: []Effect{{Occurrence: Occurrence{Window: night}, Phase: PhaseQuiet, Replicas: ground.Some(c)}}}
	}
	withCap := func(s Schedule, c int32) Schedule {
		s.Effects = append(s.Effects, Effect{Occurrence: Occurrence{Window: night}, Phase: PhaseQuiet, Replicas: ground.Some(c)})
		s.Cap, s.CapBy = ground.Some(c), len(s.Effects)-1
		return s
	}
	cases := []struct {
		name    string
		in      Input
		want    ground.Opt[int32]
		by      Policy
		effLoad ground.Opt[float64]
	}{
		{"tracking rounds up", Input{Observed: ground.Some(1001.0)}, ground.Some[int32](21), PolicyTracking, ground.Some(1001.0)},
		{"tracking exact", Input{Observed: ground.Some(5000.0)}, ground.Some[int32](100), PolicyTracking, ground.Some(5000.0)},
		{"raised to minReplicas", Input{Observed: ground.Some(10.0)}, ground.Some[int32](2), PolicyMin, ground.Some(10.0)},
		{"capped at maxReplicas", Input{Observed: ground.Some(1e6)}, ground.Some[int32](300), PolicyMax, ground.Some(1e6)},
		{"window floor above tracking", Input{Observed: ground.Some(1000.0), Schedule: floor(100)}, ground.Some[int32](100), PolicyWindow, ground.Some(5000.0)},
		{"tracking above window floor", Input{Observed: ground.Some(8000.0), Schedule: floor(100)}, ground.Some[int32](160), PolicyTracking, ground.Some(8000.0)},
		{"forecast ahead of load", Input{Observed: ground.Some(1000.0), Forecast: ground.Some(3000.0)}, ground.Some[int32](60), PolicyForecast, ground.Some(3000.0)},
		{"unknown load holds current replicas", Input{Current: ground.Some[int32](40)}, ground.Some[int32](40), PolicyHold, ground.None[float64]()},
		{"unknown load during a window: never below current", Input{Current: ground.Some[int32](150), Schedule: floor(100)}, ground.Some[int32](150), PolicyHold, ground.Some(5000.0)},
		{"unknown load, unknown replicas, no window: nothing", Input{}, ground.None[int32](), PolicyNoData, ground.None[float64]()},
		{"unknown load, window floor", Input{Schedule: floor(100)}, ground.Some[int32](100), PolicyWindow, ground.Some(5000.0)},
		{"quiet cap goes below minReplicas", Input{Observed: ground.Some(500.0), Schedule: capOnly(0)}, ground.Some[int32](0), PolicyQuietCap, ground.Some(500.0)},
		{"quiet cap never lowers a spot's floor", Input{Observed: ground.Some(500.0), Schedule: withCap(floor(100), 0)}, ground.Some[int32](100), PolicyWindow, ground.Some(5000.0)},
		{"quiet cap above the desired replicas changes nothing", Input{Observed: ground.Some(500.0), Schedule: capOnly(50)}, ground.Some[int32](10), PolicyTracking, ground.Some(500.0)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.Target, tc.in.Now = web, now
			d := Decide(tc.in)
			if d.Desired != tc.want || d.By != tc.by {
				t.Fatalf("got %v by %s, want %v by %s (%s)", d.Desired, d.By, tc.want, tc.by, d.Reason())
			}
			if d.Load.Effective != tc.effLoad {
				t.Errorf("effective load %v, want %v", d.Load.Effective, tc.effLoad)
			}
			if !strings.Contains(d.Reason(), string(tc.by)) {
				t.Errorf("reason %q does not name %s", d.Reason(), tc.by)
			}
		})
	}
}

func TestDecisionExplainsTheWinningWindow(t *testing.T) {
	ws := parseWindows(t, specWindows)
	web := webTarget()
	now := at(t, paris, "2026-11-25 20:40")
	d := Decide(Input{Target: web, Now: now, Observed: ground.Some(1000.0), Schedule: floorAt(web, ws, now, 1000)})
	want := `100 replicas by window; window "tf1-prime-spot" (lead) floor 100; tracking alone: 20 (load 1000)`
	if d.Reason() != want {
		t.Errorf("reason:\n got %s\nwant %s", d.Reason(), want)
	}
}

func TestReplicasForIgnoresFloatNoise(t *testing.T) {
	if got := ReplicasFor(0.1*3, 0.1); got != 3 {
		t.Errorf("0.3/0.1: got %d, want 3", got)
	}
	if got := ReplicasFor(150.01, 50); got != 4 {
		t.Errorf("150.01/50: got %d, want 4", got)
	}
}
