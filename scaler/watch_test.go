package scaler_test

import (
	"slices"
	"testing"
	"time"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/scaler"
)

// watchingReplicas records which workloads the engine asks to be
// watched and how often it reads ready replicas.
type watchingReplicas struct {
	watched []ground.TargetKey
	reads   int
}

func (w *watchingReplicas) Current(*ground.Target) ground.Opt[int32] { return ground.Some[int32](4) }
func (w *watchingReplicas) ReadyReplicas(*ground.Target) ground.Opt[int32] {
	w.reads++
	return ground.Some[int32](4)
}
func (w *watchingReplicas) Watch(t *ground.Target) { w.watched = append(w.watched, t.Key()) }

var _ scaler.WorkloadWatcher = (*watchingReplicas)(nil)

// TestWorkloadsWatchedWhenConfigured: every target's workload is watched
// as soon as the configuration names it, and its ready replicas are read
// only once a floor is in force (the window's at 20:45 with leadTime 8m:
// from 20:37), so that they are known at the floor's first cycle.
func TestWorkloadsWatchedWhenConfigured(t *testing.T) {
	r := newRig(t)
	w := &watchingReplicas{}
	r.engine.Replicas = w
	r.step(t, 15*time.Second)
	web := ground.TargetKey{Namespace: "storefront", Name: "web"}
	if !slices.Contains(w.watched, web) {
		t.Fatalf("watched %v after the first cycle, want %v among them", w.watched, web)
	}
	for r.now.Add(15 * time.Second).Before(time.Date(2026, 11, 25, 20, 37, 0, 0, r.now.Location())) {
		r.step(t, 15*time.Second)
	}
	if w.reads != 0 {
		t.Errorf("ready replicas read %d times before the floor, want 0", w.reads)
	}
	r.step(t, 15*time.Second)
	if w.reads == 0 {
		t.Errorf("ready replicas not read at the floor's first cycle (%s)", r.now.Format("15:04:05"))
	}
	if n := len(w.watched); n > 2 {
		t.Errorf("watched %d times with the configuration unchanged, want once per target: %v", n, w.watched)
	}
}
