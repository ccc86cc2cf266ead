package policies

import (
	"strings"
	"testing"
	"time"

	"github.com/primetime-dev/primetime/ground"
)

func TestPace(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	hpa := ground.DefaultBehavior
	tracking := func(at time.Duration, replicas int32) *Decision {
		return &Decision{At: t0.Add(at), Desired: ground.Some(replicas), By: PolicyTracking, Load: Loads{Observed: ground.Some(float64(replicas) * 10)}}
	}
	floor := func(at time.Duration, replicas int32) *Decision {
		d := tracking(at, replicas)
		d.By, d.Schedule.Floor = PolicyWindow, ground.Some(replicas)
		return d
	}
	type step struct {
		d       *Decision
		current int32
		want    ground.Opt[int32]
		held    string
	}
	cases := []struct {
		name     string
		behavior ground.Behavior
		steps    []step
	}{
		{"a steady 100 req/s at 10 each wobbling 10 ↔ 11 is never written", hpa, []step{
			{tracking(0, 11), 10, ground.Some[int32](10), "tolerance"},
			{tracking(15*time.Second, 10), 10, ground.Some[int32](10), ""},
			{tracking(30*time.Second, 11), 10, ground.Some[int32](10), "tolerance"},
		}},
		{"beyond the tolerance a scale-up is at once", hpa, []step{
			{tracking(0, 12), 10, ground.Some[int32](12), ""},
		}},
		{"a scale-down waits for the highest recommendation of the last 300 s", hpa, []step{
			{tracking(0, 20), 20, ground.Some[int32](20), ""},
			{tracking(60*time.Second, 10), 20, ground.Some[int32](20), "stabilization"},
			{tracking(200*time.Second, 12), 20, ground.Some[int32](20), "stabilization"},
			{tracking(301*time.Second, 10), 20, ground.Some[int32](12), "stabilization"},
			{tracking(501*time.Second, 10), 12, ground.Some[int32](10), ""},
		}},
		{"a window floor and its step-down are written at once and never hold a scale-down", hpa, []step{
			{floor(0, 100), 10, ground.Some[int32](100), ""},
			{floor(60*time.Second, 85), 100, ground.Some[int32](85), ""},
			{tracking(120*time.Second, 10), 85, ground.Some[int32](10), ""},
		}},
		{"no fresh load and no floor: hold", hpa, []step{
			{&Decision{At: t0, Desired: ground.Some[int32](3), By: PolicyHold}, 3, ground.None[int32](), ""},
		}},
		{"held by the tolerance, yet never under the floor in force", hpa, []step{
			{func() *Decision { d := tracking(0, 104); d.Schedule.Floor = ground.Some[int32](100); return d }(), 95, ground.Some[int32](100), "tolerance"},
		}},
		{"tolerance 0 and no stabilization write every change", ground.Behavior{}, []step{
			{tracking(0, 11), 10, ground.Some[int32](11), ""},
			{tracking(15*time.Second, 10), 11, ground.Some[int32](10), ""},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var recent []Recommendation
			for i, s := range tc.steps {
				p := Pace(s.d, tc.behavior, s.current, recent)
				if p.Replicas != s.want || p.Held != s.held {
					t.Errorf("step %d (decision %v, current %d): %v held by %q, want %v held by %q", i, s.d.Desired, s.current, p.Replicas, p.Held, s.want, s.held)
				}
				recent = p.Recent
			}
		})
	}
}

// TestStabilize: a metric-mode target's primetime_replicas descends no
// faster than the highest of the last 300 s of tracking, while a flat
// floor and its step-down are published as they are, and a floor
// following its learned shape inside its window is paced like tracking.
func TestStabilize(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
	const window = 300 * time.Second
	tracking := func(at time.Duration, replicas int32) *Decision {
		return &Decision{At: t0.Add(at), Desired: ground.Some(replicas), By: PolicyTracking}
	}
	floor := func(at time.Duration, replicas int32, shaped bool) *Decision {
		d := tracking(at, replicas)
		d.By, d.Schedule.Floor = PolicyWindow, ground.Some(replicas)
		d.Schedule.Effects = []Effect{{Phase: PhaseActive, Replicas: ground.Some(replicas), Shaped: shaped}}
		return d
	}
	type step struct {
		d    *Decision
		want int32
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"tracking goes down to the highest of the last 300 s", []step{
			{tracking(0, 40), 40}, {tracking(time.Minute, 30), 40}, {tracking(299*time.Second, 20), 40}, {tracking(300*time.Second, 20), 30},
			{tracking(360*time.Second, 20), 20},
		}},
		{"a scale-up is at once", []step{{tracking(0, 20), 20}, {tracking(15*time.Second, 60), 60}}},
		{"a flat floor steps down as it is, and does not hold tracking up", []step{
			{floor(0, 150, false), 150}, {floor(time.Minute, 44, false), 44}, {tracking(2*time.Minute, 30), 30},
		}},
		{"a floor never publishes below what tracking asked lately", []step{
			{tracking(0, 40), 40}, {floor(time.Minute, 25, false), 40}, {floor(6*time.Minute, 25, false), 25},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var recent []Recommendation
			for i, s := range tc.steps {
				var got ground.Opt[int32]
				got, recent = Stabilize(s.d, window, recent)
				if !got.OK || got.V != s.want {
					t.Fatalf("step %d (%s): published %v, want %d", i, s.d.At.Sub(t0), got, s.want)
				}
			}
		})
	}
}

// TestHoldShaped: in scale and hpa-floor modes a floor following its
// learned shape inside its window is held at its highest of the last
// 300 s; in metric mode (the HPA holds it) and once the window is over,
// it is not.
func TestHoldShaped(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
	shaped := func(at time.Duration, floor int32, phase Phase) *Decision {
		d := &Decision{At: t0.Add(at), Desired: ground.Some(floor), By: PolicyWindow, Schedule: Schedule{Floor: ground.Some(floor)}}
		d.Schedule.Effects = []Effect{{Phase: phase, Replicas: ground.Some(floor), Shaped: phase == PhaseActive}}
		return d
	}
	type step struct {
		d    *Decision
		want int32
	}
	for _, tc := range []struct {
		name  string
		mode  ground.Mode
		steps []step
	}{
		{"scale mode holds the highest of the last 300 s", ground.ModeScale, []step{
			{shaped(0, 150, PhaseActive), 150}, {shaped(3*time.Minute, 66, PhaseActive), 150}, {shaped(5*time.Minute, 50, PhaseActive), 66},
			{shaped(8*time.Minute, 40, PhaseActive), 50},
		}},
		{"hpa-floor mode too", ground.ModeHPAFloor, []step{{shaped(0, 150, PhaseActive), 150}, {shaped(time.Minute, 60, PhaseActive), 150}}},
		{"metric mode leaves it to the HPA", ground.ModeMetric, []step{{shaped(0, 150, PhaseActive), 150}, {shaped(time.Minute, 60, PhaseActive), 60}}},
		{"metric mode with behavior holds it", ground.ModeMetric, []step{{shaped(0, 150, PhaseActive), 150}, {shaped(time.Minute, 60, PhaseActive), 150}}},
		{"after the window it is no longer held", ground.ModeScale, []step{{shaped(0, 150, PhaseActive), 150}, {shaped(time.Minute, 44, PhaseCooldown), 44}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := &ground.Target{Mode: tc.mode, Behavior: ground.DefaultBehavior, MinReplicas: 1, MaxReplicas: 300, PacePublished: strings.Contains(tc.name, "with behavior")}
			var recent []Recommendation
			for i, s := range tc.steps {
				s.d.Schedule.Effects[0].Peak, s.d.Schedule.Effects[0].Following = ground.Some[int32](150), s.d.Schedule.Floor.V < 150
				recent = HoldShaped(s.d, 0, target, recent)
				if got := s.d.Desired; !got.OK || got.V != s.want || s.d.Schedule.Floor.V != s.want {
					t.Fatalf("step %d (%s): desired %v, floor %v; want %d", i, s.d.At.Sub(t0), got, s.d.Schedule.Floor, s.want)
				}
				if following := s.d.Schedule.Effects[0].Following; following != (s.want < 150) {
					t.Errorf("step %d: Following %v with the floor at %d of 150: a floor held whole does not follow", i, following, s.want)
				}
			}
		})
	}
}
