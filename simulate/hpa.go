package simulate

import (
	"math"
	"time"

	"github.com/primetime-dev/primetime/ground"
)

// PolicyKind is the type of an HPA scaling policy.
type PolicyKind string

// The HPA scaling policy types (autoscaling/v2 HPAScalingPolicyType).
const (
	PolicyPods    PolicyKind = "Pods"
	PolicyPercent PolicyKind = "Percent"
)

// ScalingPolicy limits the change of replicas over a period: at most Value
// pods, or Value percent of the replicas at the start of the period.
type ScalingPolicy struct {
	Kind   PolicyKind
	Value  int32
	Period time.Duration
}

// SelectPolicy says which policy's limit applies when there are several.
type SelectPolicy string

// The HPA's select policies.
const (
	// SelectMax allows the largest change (the default).
	SelectMax SelectPolicy = "Max"
	// SelectMin allows the smallest change.
	SelectMin SelectPolicy = "Min"
	// SelectDisabled forbids changes in that direction.
	SelectDisabled SelectPolicy = "Disabled"
)

// Rules is the behaviour of one direction of scaling (HPAScalingRules).
type Rules struct {
	// Stabilization: scaling up uses the lowest, scaling down the highest
	// recommendation of this last stretch of time.
	Stabilization time.Duration
	Policies      []ScalingPolicy
	Select        SelectPolicy
	// Tolerance: a usage ratio within this fraction of 1 changes nothing.
	Tolerance float64
}

// Behavior is an HPA's spec.behavior.
type Behavior struct {
	Up, Down Rules
}

// DefaultTolerance is the HPA's default tolerance (10%).
const DefaultTolerance = 0.1

// DefaultBehavior returns the behaviour of an HPA that sets none:
// scale up by at most 100% or 4 pods (the larger) every 15 s with no
// stabilisation, scale down to anything after a 300 s stabilisation
// window, 10% tolerance both ways.
func DefaultBehavior() Behavior {
	return Behavior{
		Up: Rules{
			Policies: []ScalingPolicy{
				{Kind: PolicyPods, Value: 4, Period: 15 * time.Second},
				{Kind: PolicyPercent, Value: 100, Period: 15 * time.Second},
			},
			Select: SelectMax, Tolerance: DefaultTolerance,
		},
		Down: Rules{
			Stabilization: 300 * time.Second,
			Policies:      []ScalingPolicy{{Kind: PolicyPercent, Value: 100, Period: 15 * time.Second}},
			Select:        SelectMax, Tolerance: DefaultTolerance,
		},
	}
}

// HPA models the HorizontalPodAutoscaler controller for one HPA with one
// External metric of type AverageValue, the way primetime's metrics are
// consumed. It keeps the controller's per-HPA memory: the recommendations
// of the stabilisation windows and the recent scale events.
type HPA struct {
	Min, Max int32
	// Target is the metric's averageValue.
	Target   float64
	Behavior Behavior

	recs   []recommendation
	events []scaleEvent
	seeded bool
}

type recommendation struct {
	at       time.Time
	replicas int32
}

type scaleEvent struct {
	at     time.Time
	change int32 // > 0 up, < 0 down
}

// Sync is one pass of the controller at now over a workload with current
// replicas. metric is the External metric's value, absent when the
// metrics API answers an error: the HPA then keeps the replicas it has.
// It returns the replicas the HPA sets.
func (h *HPA) Sync(now time.Time, metric ground.Opt[float64], current int32) int32 {
	if current == 0 && h.Min > 0 {
		return 0 // an HPA does nothing to a workload scaled to zero
	}
	var desired int32
	switch {
	case current > h.Max:
		desired = h.Max
	case current < h.Min:
		desired = h.Min
	case !metric.OK:
		return current
	default:
		desired = h.normalize(now, current, h.proposal(metric.V, current))
	}
	if desired != current {
		h.events = append(h.events, scaleEvent{at: now, change: desired - current})
	}
	h.forget(now)
	return desired
}

// proposal is the replica count the metric alone asks for: unchanged
// within the tolerance, else usage / target rounded up. Values are
// compared in thousandths, as the controller does with quantities.
func (h *HPA) proposal(usage float64, current int32) int32 {
	usageMilli := math.Ceil(usage * 1000)
	targetMilli := math.Ceil(h.Target * 1000)
	if targetMilli <= 0 {
		return current
	}
	ratio := usageMilli / (targetMilli * float64(current))
	if ratio >= 1-h.Behavior.Down.Tolerance && ratio <= 1+h.Behavior.Up.Tolerance {
		return current
	}
	return int32(math.Min(math.Ceil(usageMilli/targetMilli), math.MaxInt32))
}

// normalize applies the stabilisation windows, then the rate policies and
// the bounds, in the controller's order.
func (h *HPA) normalize(now time.Time, current, proposed int32) int32 {
	if !h.seeded {
		// The controller's first look at an HPA counts the current
		// replicas as a recommendation: no scale-down right after a start.
		h.recs, h.seeded = append(h.recs, recommendation{at: now, replicas: current}), true
	}
	up, down := proposed, proposed
	upCutoff := now.Add(-h.Behavior.Up.Stabilization)
	downCutoff := now.Add(-h.Behavior.Down.Stabilization)
	for _, r := range h.recs {
		if r.at.After(upCutoff) {
			up = min(up, r.replicas)
		}
		if r.at.After(downCutoff) {
			down = max(down, r.replicas)
		}
	}
	h.recs = append(h.recs, recommendation{at: now, replicas: proposed})
	rec := min(max(current, up), down)

	switch {
	case rec > current:
		limit := max(h.rateLimit(now, current, true), current)
		return min(rec, h.Max, limit)
	case rec < current:
		limit := min(h.rateLimit(now, current, false), current)
		return max(rec, h.Min, limit)
	}
	return rec
}

// periodStart returns the replicas at the start of the period ending now:
// current minus the scale-ups and plus the scale-downs within it.
func (h *HPA) periodStart(now time.Time, current int32, period time.Duration) int32 {
	cutoff := now.Add(-period)
	start := current
	for _, e := range h.events {
		if e.at.After(cutoff) {
			start -= e.change
		}
	}
	return start
}

// rateLimit is the replica count the policies of one direction allow
// now: the most for a scale-up, the fewest for a scale-down.
func (h *HPA) rateLimit(now time.Time, current int32, up bool) int32 {
	r := h.Behavior.Down
	if up {
		r = h.Behavior.Up
	}
	switch {
	case r.Select == SelectDisabled:
		return current
	case len(r.Policies) == 0 && up:
		return math.MaxInt32
	case len(r.Policies) == 0:
		return 0
	}
	var limit int32
	for i, p := range r.Policies {
		start := h.periodStart(now, current, p.Period)
		var v int32
		switch {
		case p.Kind == PolicyPods && up:
			v = start + p.Value
		case p.Kind == PolicyPods:
			v = start - p.Value
		case up:
			// Rounded up, so that a small workload can always grow.
			v = int32(math.Ceil(float64(start) * (1 + float64(p.Value)/100)))
		default:
			v = int32(float64(start) * (1 - float64(p.Value)/100))
		}
		// Max takes the policy allowing the largest change, Min the smallest.
		larger := (up && v > limit) || (!up && v < limit)
		if i == 0 || larger != (r.Select == SelectMin) {
			limit = v
		}
	}
	return limit
}

// forget drops what no window or period can look at any more.
func (h *HPA) forget(now time.Time) {
	keep := max(h.Behavior.Up.Stabilization, h.Behavior.Down.Stabilization)
	for _, rs := range []Rules{h.Behavior.Up, h.Behavior.Down} {
		for _, p := range rs.Policies {
			keep = max(keep, p.Period)
		}
	}
	cutoff := now.Add(-keep)
	h.recs = dropBefore(h.recs, func(r recommendation) bool { return r.at.After(cutoff) })
	h.events = dropBefore(h.events, func(e scaleEvent) bool { return e.at.After(cutoff) })
}

// dropBefore removes the leading elements (oldest first) that keep rejects.
func dropBefore[T any](s []T, keep func(T) bool) []T {
	i := 0
	for i < len(s) && !keep(s[i]) {
		i++
	}
	if i == 0 {
		return s
	}
	return append(s[:0], s[i:]...)
}
