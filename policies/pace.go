package policies

import (
	"math"
	"time"

	"github.com/primetime-dev/primetime/ground"
)

// Recommendation is one replica count scale mode wanted, and when.
type Recommendation struct {
	At       time.Time `json:"at"`
	Replicas int32     `json:"replicas"`
}

// Paced is what scale mode writes for one decision.
type Paced struct {
	// Replicas to have; absent when the decision has none (no fresh load
	// and no floor: hold).
	Replicas ground.Opt[int32]
	// Held says why Replicas is not the decision's: "tolerance" or
	// "stabilization"; empty when it is.
	Held string
	// Recent are the recommendations to keep for the next decision.
	Recent []Recommendation
}

// Pace moves a scale-mode workload the way the HPA would move it on the
// same recommendations (its behavior field): a change within the
// tolerance of the current replicas is not made, and a scale-down goes
// only to the highest recommendation of the stabilization window. Window
// floors and quiet caps are schedules, not measurements: they, and the
// floor's step-down, are written as they are, and they do not enter the
// window (a step-down is never held up by the floor it steps down from).
// current is the workload's replicas; recent the recommendations Pace
// returned last time.
func Pace(d *Decision, b ground.Behavior, current int32, recent []Recommendation) Paced {
	kept := recent[:0:0]
	for _, r := range recent {
		if d.At.Sub(r.At) < b.ScaleDownStabilization {
			kept = append(kept, r)
		}
	}
	out := Paced{Replicas: d.Desired, Recent: kept}
	if d.Desired.OK && (d.By == PolicyWindow || d.By == PolicyQuietCap) {
		return out // a schedule: written as it is, with or without load data
	}
	if !d.Desired.OK || !(d.Load.Observed.OK || d.Schedule.Floor.OK) {
		out.Replicas = ground.None[int32]() // no fresh load and no floor: hold
		return out
	}
	want := d.Desired.V
	if current > 0 && want != current && math.Abs(float64(want)/float64(current)-1) <= b.Tolerance+1e-9 {
		want, out.Held = current, "tolerance"
	}
	out.Recent = append(out.Recent, Recommendation{At: d.At, Replicas: want})
	if want < current {
		highest := want
		for _, r := range out.Recent {
			highest = max(highest, r.Replicas)
		}
		if highest > want {
			want, out.Held = min(highest, current), "stabilization"
		}
	}
	// Held or not, the windows in force still bound it.
	if f := d.Schedule.Floor; f.OK {
		want = max(want, min(f.V, d.Desired.V))
	} else if c := d.Schedule.Cap; c.OK {
		want = min(want, c.V)
	}
	out.Replicas = ground.Some(want)
	return out
}

// Stabilize paces the descent of a metric-mode target's published
// replicas as an HPA's scale-down stabilisation would (PacePublished):
// the highest replicas tracking or the forecast wanted over window, so
// that the HPA fed by primetime_replicas can be left with none of its own.
// Window floors, their step-down and quiet caps are schedules: they are
// published as they are (never below what tracking asked for over the
// window) and do not enter it, so a floor steps down at primetime's pace,
// not five minutes late; a floor following its learned shape inside its
// window is held by HoldShaped before. recent are the
// recommendations Stabilize returned last time.
func Stabilize(d *Decision, window time.Duration, recent []Recommendation) (ground.Opt[int32], []Recommendation) {
	kept := recent[:0:0]
	for _, r := range recent {
		if d.At.Sub(r.At) < window {
			kept = append(kept, r)
		}
	}
	if !d.Desired.OK || d.By == PolicyQuietCap {
		return d.Desired, kept
	}
	if d.By == PolicyWindow {
		// A schedule, as it is (a shaped floor is held by HoldShaped), but
		// never below what tracking asked for lately.
		v := d.Desired.V
		for _, r := range kept {
			v = max(v, r.Replicas)
		}
		return ground.Some(v), kept
	}
	kept = append(kept, Recommendation{At: d.At, Replicas: d.Desired.V})
	v := d.Desired.V
	for _, r := range kept {
		v = max(v, r.Replicas)
	}
	if c := d.Schedule.Cap; c.OK && !d.Schedule.Floor.OK {
		v = min(v, max(c.V, d.Desired.V))
	}
	return ground.Some(v), kept
}
