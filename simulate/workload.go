package simulate

import (
	"sort"
	"time"
)

// Workload models a Deployment's pods: a pod created now is ready (serves
// load) after the start-up delay; a scale-down removes the pods that are
// not ready first, then the newest, as the ReplicaSet controller does.
type Workload struct {
	// Startup is how long a new pod takes to become ready.
	Startup time.Duration
	// readyAt of each pod, oldest first. Pods are created with the same
	// delay, so the slice stays sorted.
	readyAt []time.Time
}

// NewWorkload returns a workload with n pods, all ready at now.
func NewWorkload(n int32, startup time.Duration, now time.Time) *Workload {
	w := &Workload{Startup: startup}
	for range n {
		w.readyAt = append(w.readyAt, now)
	}
	return w
}

// Replicas returns the pods that exist, ready or not (they all cost).
func (w *Workload) Replicas() int32 { return int32(len(w.readyAt)) }

// Ready returns the pods ready at now.
func (w *Workload) Ready(now time.Time) int32 {
	return int32(sort.Search(len(w.readyAt), func(i int) bool { return w.readyAt[i].After(now) }))
}

// Scale sets the replicas at now.
func (w *Workload) Scale(n int32, now time.Time) {
	n = max(n, 0)
	for int32(len(w.readyAt)) < n {
		w.readyAt = append(w.readyAt, now.Add(w.Startup))
	}
	w.readyAt = w.readyAt[:n]
}
