package policies

import (
	"time"

	"github.com/primetime-dev/primetime/ground"
)

// Reservation is the node capacity a target's placeholder pods reserve at
// one instant (a target with "nodes:"): from nodes.leadTime before a
// window's floor starts, the floor's replicas beyond those the workload
// has, so that the node autoscaler adds nodes before the floor's pods ask
// for them.
type Reservation struct {
	// Pods is how many placeholder pods to run; 0 when none.
	Pods int32
	// Window names the window whose floor they reserve for, Floor is
	// that floor and FloorStart when it starts.
	Window     string
	Floor      int32
	FloorStart time.Time
}

// PlaceholderGrace bounds how long placeholders stay after the floor
// starts, if the workload never reaches it (pods that cannot be placed
// would otherwise keep the nodes and the placeholders for the window).
const PlaceholderGrace = 5 * time.Minute

// Reserve returns the reservation of target t at now: for the floor
// windows among occs whose reservation span, [floor start −
// nodes.leadTime, floor start + PlaceholderGrace), holds now, the highest
// floor they will set, less the workload's current replicas; nothing once
// the workload has reached the floor. With the current replicas unknown it
// reserves nothing: it cannot tell what is missing. known.Baseline must not
// latch: the floor is evaluated ahead of its start.
func Reserve(t *ground.Target, occs []Occurrence, now time.Time, known Known, current ground.Opt[int32]) Reservation {
	var r Reservation
	if t.Nodes == nil || !current.OK {
		return r
	}
	for _, o := range occs {
		if o.Window.Quiet {
			continue
		}
		lead := t.LeadTime
		if known.LeadTime != nil {
			lead = known.LeadTime(o) // a learned lead
		}
		floorStart := o.Start.Add(-lead)
		if now.Before(floorStart.Add(-t.Nodes.LeadTime)) || !now.Before(floorStart.Add(PlaceholderGrace)) || !now.Before(o.End) {
			continue
		}
		at := now
		if at.Before(floorStart) {
			at = floorStart // the floor as it will be when it starts
		}
		e, ok := effectAt(t, o, at, &known)
		if !ok || !e.Replicas.OK {
			continue
		}
		if pods := e.Replicas.V - current.V; pods > r.Pods {
			r = Reservation{Pods: pods, Window: o.Window.Name, Floor: e.Replicas.V, FloorStart: floorStart}
		}
	}
	return r
}
