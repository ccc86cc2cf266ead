package policies

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/primetime-dev/primetime/ground"
)

// Policy names what set a decision's replicas.
type Policy string

// The policies a decision can be won by.
const (
	// PolicyTracking: the observed load divided by capacity per replica.
	PolicyTracking Policy = "tracking"
	// PolicyForecast: the seasonal forecast for the coming lead time.
	PolicyForecast Policy = "forecast"
	// PolicyHold: the load is unknown, so the current replicas are kept.
	PolicyHold Policy = "hold"
	// PolicyWindow: a window's floor.
	PolicyWindow Policy = "window"
	// PolicyMin and PolicyMax: the target's bounds.
	PolicyMin Policy = "min"
	PolicyMax Policy = "max"
	// PolicyQuietCap: a quiet window's cap.
	PolicyQuietCap Policy = "quiet-cap"
	// PolicyNoData: nothing to decide on; no value is published.
	PolicyNoData Policy = "no-data"
)

// Input is everything one decision depends on.
type Input struct {
	Target *ground.Target
	Now    time.Time
	// Observed is the current load, absent when the source fails or its
	// data is stale.
	Observed ground.Opt[float64]
	// Forecast is the forecast load over the coming lead time.
	Forecast ground.Opt[float64]
	// Current is the workload's current replica count, when known.
	Current ground.Opt[int32]
	// Ready is the workload's ready replicas, when known: the reports
	// learn from it how long pods take.
	Ready ground.Opt[int32]
	// Schedule is the windows' floor and cap at Now.
	Schedule Schedule
}

// Loads is the load seen from each side.
type Loads struct {
	Observed  ground.Opt[float64]
	Forecast  ground.Opt[float64]
	Scheduled ground.Opt[float64]
	// Effective is the highest of the three.
	Effective ground.Opt[float64]
}

// Decision is the replicas primetime wants for a target at one instant,
// with everything needed to explain it in a log line, an Event or a plan.
type Decision struct {
	Target ground.TargetKey
	At     time.Time
	// Desired is absent when there is no load data and no window floor:
	// then nothing is published and the HPA holds its replicas.
	Desired ground.Opt[int32]
	// By is the policy that set Desired.
	By   Policy
	Load Loads
	// Proposals, before bounds and caps.
	Tracking ground.Opt[int32]
	Forecast ground.Opt[int32]
	Current  ground.Opt[int32]
	// Ready is the workload's ready replicas, when known.
	Ready ground.Opt[int32]
	// Schedule holds the windows in force, their floor and their cap.
	Schedule Schedule
	// Reservation is the node capacity the target's placeholder pods
	// reserve ahead of a floor (targets with "nodes:"; set by the engine).
	Reservation Reservation
}

// Decide combines the policies the way the HPA combines metrics: the
// highest proposal wins, a missing load never lowers replicas, and then
// desired = clamp(max(tracking, forecast, floor), min, max), lowered to a
// quiet window's cap but never below a window's floor.
func Decide(in Input) Decision {
	t := in.Target
	d := Decision{
		Target:   t.Key(),
		At:       in.Now,
		Current:  in.Current,
		Ready:    in.Ready,
		Schedule: in.Schedule,
		Load: Loads{
			Observed:  in.Observed,
			Forecast:  in.Forecast,
			Scheduled: in.Schedule.Load,
		},
	}
	d.Load.Effective = MaxOpt(MaxOpt(in.Observed, in.Forecast), in.Schedule.Load)

	best := ground.None[int32]()
	propose := func(v int32, by Policy) {
		if !best.OK || v > best.V {
			best, d.By = ground.Some(v), by
		}
	}
	if in.Observed.OK {
		d.Tracking = ground.Some(ReplicasFor(in.Observed.V, t.CapacityPerReplica))
		propose(d.Tracking.V, PolicyTracking)
	} else if in.Current.OK {
		propose(in.Current.V, PolicyHold)
	}
	if in.Forecast.OK {
		d.Forecast = ground.Some(ReplicasFor(in.Forecast.V, t.CapacityPerReplica))
		propose(d.Forecast.V, PolicyForecast)
	}
	if in.Schedule.Floor.OK {
		propose(in.Schedule.Floor.V, PolicyWindow)
	}
	if !best.OK {
		d.By = PolicyNoData
		return d
	}
	v := best.V
	if v < t.MinReplicas {
		v, d.By = t.MinReplicas, PolicyMin
	}
	if v > t.MaxReplicas {
		v, d.By = t.MaxReplicas, PolicyMax
	}
	if in.Schedule.Cap.OK {
		limit := in.Schedule.Cap.V
		if in.Schedule.Floor.OK {
			// A spot beats a quiet night.
			limit = max(limit, clampReplicas(in.Schedule.Floor.V, t))
		}
		if v > limit {
			v, d.By = limit, PolicyQuietCap
		}
	}
	d.Desired = ground.Some(v)
	return d
}

// MaxOpt returns the higher of two optional loads, or the one present.
func MaxOpt(a, b ground.Opt[float64]) ground.Opt[float64] {
	switch {
	case !a.OK:
		return b
	case !b.OK:
		return a
	}
	return ground.Some(math.Max(a.V, b.V))
}

// Reason explains the decision in one sentence. It is built on demand (for
// a log line, an Event or a plan), not in every cycle.
func (d *Decision) Reason() string {
	if !d.Desired.OK {
		return "no-data: no load data and no window floor, so nothing is published and the HPA holds its replicas"
	}
	s := &d.Schedule
	var b strings.Builder
	fmt.Fprintf(&b, "%d replicas by %s", d.Desired.V, d.By)
	switch d.By {
	case PolicyTracking:
		fmt.Fprintf(&b, ": load %s", formatLoad(d.Load.Observed.V))
	case PolicyForecast:
		fmt.Fprintf(&b, ": forecast load %s", formatLoad(d.Load.Forecast.V))
	case PolicyHold:
		b.WriteString(": load unknown, keeping the current replicas")
	}
	if e, ok := s.FloorWindow(); ok {
		fmt.Fprintf(&b, "; window %q (%s) floor %d", e.Occurrence.Window.Name, e.Phase, e.Replicas.V)
	}
	if e, ok := s.CapWindow(); ok {
		fmt.Fprintf(&b, "; quiet window %q cap %d", e.Occurrence.Window.Name, e.Replicas.V)
	}
	for i := range s.Effects {
		if e := &s.Effects[i]; e.Note != "" {
			fmt.Fprintf(&b, "; window %q: %s", e.Occurrence.Window.Name, e.Explain())
		}
	}
	if d.Tracking.OK && d.By != PolicyTracking {
		fmt.Fprintf(&b, "; tracking alone: %d (load %s)", d.Tracking.V, formatLoad(d.Load.Observed.V))
	}
	return b.String()
}

func formatLoad(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.4g", v)
}
