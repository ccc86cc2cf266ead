package simulate

import (
	"context"
	"testing"
	"time"
)

// The demo's spot (make demo, part 1): primetime starts pre-scaling at
// start − leadTime and has the spot's 18 replicas ready before it airs;
// the reactive HPA has only the 5 it had, and leaves load unserved.
func TestDemoSpotReadiness(t *testing.T) {
	setup := committedSetup(t, TraceDemoSpot)
	setup.Startup, setup.MetricDelay, setup.Interval, setup.HPASync = 20*time.Second, 15*time.Second, 5*time.Second, 15*time.Second
	setup.RecordEvery = 5 * time.Second
	rep, err := Run(context.Background(), setup, []Strategy{StrategyPrimetime, StrategyReactive})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Windows) != 1 {
		t.Fatalf("%d announced windows, want the one spot", len(rep.Windows))
	}
	spot := rep.Windows[0]
	got := rep.Readiness(0)
	pt, re := got[0], got[1]
	// 4 × 42 req/s at 10 per replica, as the load generator's counters
	// read with 2% noise: 18 replicas at the spot's busiest second.
	if pt.Need != 18 || pt.Floor != 18 {
		t.Errorf("need %d, primetime floor %d; want 18 and 18", pt.Need, pt.Floor)
	}
	if want := spot.Start.Add(-75 * time.Second); !pt.FloorFrom.Equal(want) {
		t.Errorf("pre-scaling from %s, want %s (start − leadTime)", pt.FloorFrom, want)
	}
	if pt.ReadyAtStart != 18 || pt.ReadyAt.IsZero() || !pt.ReadyAt.Before(spot.Start) || pt.Unserved != 0 {
		t.Errorf("primetime: %d ready at the start, all ready at %s, %.0f unserved; want 18 ready before %s and 0", pt.ReadyAtStart, pt.ReadyAt, pt.Unserved, spot.Start)
	}
	if re.ReadyAtStart != 5 || !re.FloorFrom.IsZero() || re.Unserved < 4000 {
		t.Errorf("reactive: %d ready at the start, floor from %s, %.0f unserved; want 5, none and over 4,000", re.ReadyAtStart, re.FloorFrom, re.Unserved)
	}
}
