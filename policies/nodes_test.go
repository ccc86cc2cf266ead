package policies

import (
	"testing"
	"time"

	"github.com/primetime-dev/primetime/ground"
)

// TestReserveOverAWindowsLife: tf1-prime-spot (5x of 1000: a floor of 100
// from 20:37, the target's 8 minute lead) on a target with nodes.leadTime
// 6m: placeholders for what the floor needs beyond the workload's
// replicas from 20:31, fewer as the real pods come, none once the floor
// is reached or 5 minutes after it started.
func TestReserveOverAWindowsLife(t *testing.T) {
	ws := parseWindows(t, specWindows)
	web := webTarget()
	web.Nodes = &ground.NodesSpec{LeadTime: 6 * time.Minute}
	cases := []struct {
		wall    string
		current ground.Opt[int32]
		pods    int32
	}{
		{"2026-11-25 20:30:59", ground.Some[int32](20), 0},
		{"2026-11-25 20:31", ground.Some[int32](20), 80}, // floor start - nodes.leadTime
		{"2026-11-25 20:36:59", ground.Some[int32](20), 80},
		{"2026-11-25 20:37", ground.Some[int32](20), 80}, // the floor starts; the HPA has not moved yet
		{"2026-11-25 20:38", ground.Some[int32](60), 40},
		{"2026-11-25 20:39", ground.Some[int32](100), 0}, // reached
		{"2026-11-25 20:41:59", ground.Some[int32](90), 10},
		{"2026-11-25 20:42", ground.Some[int32](90), 0}, // floor start + PlaceholderGrace
		{"2026-11-25 20:33", ground.None[int32](), 0},   // the replicas unknown
	}
	for _, tc := range cases {
		t.Run(tc.wall, func(t *testing.T) {
			now := at(t, paris, tc.wall)
			occs := NewCalendar(ws).Agenda(now, web.LeadTime+web.Nodes.LeadTime).For(web.Key(), nil)
			r := Reserve(web, occs, now, Known{Baseline: ConstantBaseline(1000)}, tc.current)
			if r.Pods != tc.pods {
				t.Fatalf("%d placeholders, want %d (%+v)", r.Pods, tc.pods, r)
			}
			if r.Pods > 0 && (r.Window != "tf1-prime-spot" || r.Floor != 100 || !r.FloorStart.Equal(at(t, paris, "2026-11-25 20:37"))) {
				t.Errorf("reservation %+v, want for tf1-prime-spot's floor of 100 from 20:37", r)
			}
		})
	}
	// Without nodes: nothing; a quiet window reserves nothing either.
	plain := webTarget()
	now := at(t, paris, "2026-11-25 20:33")
	occs := NewCalendar(ws).Agenda(now, 14*time.Minute).For(plain.Key(), nil)
	if r := Reserve(plain, occs, now, Known{Baseline: ConstantBaseline(1000)}, ground.Some[int32](20)); r.Pods != 0 {
		t.Errorf("a target without nodes: %d placeholders", r.Pods)
	}
	staging := &ground.Target{Name: "web", Namespace: "staging", CapacityPerReplica: 50, MinReplicas: 0, MaxReplicas: 10, LeadTime: time.Minute,
		Nodes: &ground.NodesSpec{LeadTime: 10 * time.Minute}}
	night := at(t, paris, "2026-11-25 19:55")
	occs = NewCalendar(ws).Agenda(night, 11*time.Minute).For(staging.Key(), nil)
	if r := Reserve(staging, occs, night, Known{Baseline: ConstantBaseline(100)}, ground.Some[int32](2)); r.Pods != 0 {
		t.Errorf("a quiet night: %d placeholders", r.Pods)
	}
}
