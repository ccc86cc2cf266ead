package policies

import (
	"math"
	"time"

	"github.com/primetime-dev/primetime/ground"
)

// Step-down after a window: the floor falls one step every StepInterval,
// each step removing more than StepFraction of the previous floor, so that
// the HPA's 10% tolerance never swallows a step.
const (
	// StepInterval is the time between two steps of a step-down.
	StepInterval = time.Minute
	// StepFraction is the smallest drop of one step, relative to the floor
	// before it. The HPA ignores changes of 10% or less.
	StepFraction = 0.15
	// MaxSteps bounds the steps of one step-down; when more would be
	// needed, the first step drops further.
	MaxSteps = 64
	// MaxStepDownSpan is the longest a step-down can last.
	MaxStepDownSpan = MaxSteps * StepInterval
)

// Phase says where an occurrence is in its life, seen from one instant.
type Phase string

// The phases of a window occurrence.
const (
	PhaseLead     Phase = "lead"      // before start: capacity is being put in place
	PhaseActive   Phase = "active"    // between start and end
	PhaseCooldown Phase = "cooldown"  // after end, floor still held
	PhaseStepDown Phase = "step-down" // floor falling in steps
	PhaseQuiet    Phase = "quiet"     // a quiet window's cap is in force
)

// Baseline returns the baseline load of an occurrence ("Nx" windows multiply
// it): the forecast at the window's start when the target has history, else
// the load observed just before the floor started. It reports false when
// neither is known.
type Baseline func(o Occurrence, floorStart time.Time) (float64, bool)

// ConstantBaseline is a Baseline that always returns load.
func ConstantBaseline(load float64) Baseline {
	return func(Occurrence, time.Time) (float64, bool) { return load, true }
}

// Traffic is what one occurrence's traffic has done so far, as measured
// (a value describes the instant it was measured at, which for Datadog is
// a minute before it is read).
type Traffic struct {
	// Peak is the highest load measured since the occurrence's start.
	Peak ground.Opt[float64]
	// Latest is the load measured last, absent when the source fails or
	// its data is stale.
	Latest ground.Opt[float64]
	// Lowest is the lowest load measured since the window's end: after
	// the cooldown the floor follows it, so that once released it stays
	// so.
	Lowest ground.Opt[float64]
	// SincePeak is the lowest load measured since Peak: a load read well
	// above it is a new rise.
	SincePeak ground.Opt[float64]
	// AtStart is the first load measured from the occurrence's start on:
	// its traffic arrives with a rise above it (not with another spot's
	// tail).
	AtStart ground.Opt[float64]
}

// Known is what is known of a target's occurrences besides their
// windows. Only Baseline is required.
type Known struct {
	Baseline Baseline
	// Traffic tells what an occurrence's traffic did so far; nil when
	// nothing is known (a plan), and then every floor is held flat.
	Traffic func(o Occurrence) Traffic
	// Learned gives the multiplier of an "expect: learned" window's
	// occurrence; nil, or false, while there is none (its "initially"
	// then). The engine latches it with the occurrence's baseline: a
	// report released meanwhile does not move a floor in force.
	Learned func(o Occurrence) (float64, bool)
	// Shape gives the shape learned for a "shape: learned" window's
	// occurrence (its group's reports for the target); nil, or false,
	// while there are fewer than MinShapeReports: the floor is then held
	// flat.
	Shape func(o Occurrence) (Shape, bool)
	// LeadTime gives an occurrence's lead (a learned one, latched when
	// its floor starts); nil: the target's LeadTime.
	LeadTime func(o Occurrence) time.Duration
}

// The floor that follows the spike down (SPEC §2). A floor is held until
// the window's traffic has clearly arrived and passed its peak, and at
// least until the window's end: inside the window the announced traffic
// may still come (a spot aired up to 90 s late, a second wave). From then
// on it follows the load measured last, with FollowHeadroom during the
// cooldown and none after it, never above the window's own floor (and
// tracking is never lowered by it: the decision takes the higher); it is
// released once that is no more than the baseline needs. A window whose
// traffic never came is held until end + cooldown and stepped down.
const (
	// ArrivedFraction: the traffic has clearly arrived once the load
	// measured since the start rose above the baseline by this share of
	// the rise the window expected (a 5x spot that brings 2.4x has).
	ArrivedFraction = 1.0 / 3
	// PassedFraction: the traffic has passed its peak once the load
	// measured last is below the peak by this share of the peak's rise
	// over the baseline (measurement noise at the top is far smaller).
	PassedFraction = 0.25
	// FollowHeadroom is the capacity kept above the load measured last
	// while the floor follows it down during the cooldown: a rebound up
	// to this much is served while the HPA reacts.
	FollowHeadroom = 0.25
)

// Effect is what one window occurrence does to a target at one instant.
type Effect struct {
	Occurrence Occurrence
	Phase      Phase
	// Replicas is the floor, or the cap for a quiet window. Absent when the
	// floor cannot be computed (an "Nx" window with no baseline yet).
	Replicas ground.Opt[int32]
	// Peak is the floor held from lead to cooldown, before any step-down.
	Peak ground.Opt[int32]
	// Load is the load behind the floor: the expected load while the floor
	// is held, the floor's capacity during the step-down.
	Load ground.Opt[float64]
	// Demand is what the window asked for, with a learned multiplier in
	// place of "initially" once there is one.
	Demand ground.Demand
	// Baseline is the load the window's multiplier applies to, when known.
	Baseline ground.Opt[float64]
	// Following says the floor follows the load down: the window's
	// traffic came and passed its peak.
	Following bool
	// Shaped says the floor follows its group's learned shape inside the
	// window; Lead is the occurrence's lead (learned or the target's).
	Shaped bool
	Lead   time.Duration
	// Note explains an absent floor (NoteNoBaseline); Explain words it.
	Note string
}

// NoteNoBaseline is the Note of an "Nx" window with no baseline yet. It
// is a constant (not formatted for each target in each cycle); Explain
// adds the multiplier.
const NoteNoBaseline = "needs a baseline load, and none is known yet"

// NoteInitially is the Note of an "expect: learned" window evaluated with
// nothing learned known (a plan without the daemon); Explain adds the
// multiplier.
const NoteInitially = "until its group has a report (the daemon's /calendar shows what it learned)"

// Explain returns the Note in full: "5x needs a baseline load, ...".
func (e *Effect) Explain() string {
	switch e.Note {
	case NoteNoBaseline:
		return e.Occurrence.Window.Demand.String() + " " + e.Note
	case NoteInitially:
		return "expect: learned, planned at initially " + e.Occurrence.Window.Demand.String() + " " + e.Note
	}
	return e.Note
}

// Schedule is the combined effect of a target's windows at one instant.
type Schedule struct {
	// Floor is the highest floor of the floor windows in force.
	Floor ground.Opt[int32]
	// FloorBy is the index in Effects of the window that set Floor.
	FloorBy int
	// Cap is the lowest cap of the quiet windows in force.
	Cap ground.Opt[int32]
	// CapBy is the index in Effects of the window that set Cap.
	CapBy int
	// Load is the scheduled load: the load behind Floor.
	Load ground.Opt[float64]
	// Effects lists every occurrence in force, in start order.
	Effects []Effect
}

// FloorWindow returns the effect that set the floor.
func (s *Schedule) FloorWindow() (Effect, bool) {
	if !s.Floor.OK {
		return Effect{}, false
	}
	return s.Effects[s.FloorBy], true
}

// CapWindow returns the effect that set the cap.
func (s *Schedule) CapWindow() (Effect, bool) {
	if !s.Cap.OK {
		return Effect{}, false
	}
	return s.Effects[s.CapBy], true
}

// Evaluate computes the floor and cap that the occurrences put on target t
// at instant now. Overlapping floors take the highest; overlapping caps the
// lowest. Occurrences that do not select t must not be passed.
func Evaluate(t *ground.Target, occs []Occurrence, now time.Time, baseline Baseline) Schedule {
	return EvaluateKnown(t, occs, now, Known{Baseline: baseline})
}

// EvaluateKnown is Evaluate with what the engine knows of the
// occurrences' traffic and of learned multipliers.
func EvaluateKnown(t *ground.Target, occs []Occurrence, now time.Time, known Known) Schedule {
	var s Schedule
	if len(occs) > 0 {
		s.Effects = make([]Effect, 0, len(occs))
	}
	for _, o := range occs {
		e, ok := effectAt(t, o, now, &known)
		if !ok {
			continue
		}
		s.Effects = append(s.Effects, e)
		idx := len(s.Effects) - 1
		if !e.Replicas.OK {
			continue
		}
		if e.Phase == PhaseQuiet {
			if !s.Cap.OK || e.Replicas.V < s.Cap.V {
				s.Cap, s.CapBy = e.Replicas, idx
			}
			continue
		}
		if !s.Floor.OK || e.Replicas.V > s.Floor.V {
			s.Floor, s.FloorBy, s.Load = e.Replicas, idx, e.Load
		}
	}
	return s
}

// effectAt returns the effect of one occurrence at now, if it is in force.
func effectAt(t *ground.Target, o Occurrence, now time.Time, known *Known) (Effect, bool) {
	w := o.Window
	e := Effect{Occurrence: o, Demand: w.Demand}
	if w.Quiet {
		// The cap lifts leadTime before the end, so that capacity is back
		// in place when normal traffic returns.
		if now.Before(o.Start) || !now.Before(o.End.Add(-t.LeadTime)) {
			return e, false
		}
		e.Phase = PhaseQuiet
		e.Replicas = ground.Some(int32(w.Demand.Value))
		e.Peak = e.Replicas
		return e, true
	}
	e.Lead = t.LeadTime
	if known.LeadTime != nil {
		e.Lead = known.LeadTime(o)
	}
	floorStart := o.Start.Add(-e.Lead)
	holdEnd := o.End.Add(w.Cooldown)
	if now.Before(floorStart) {
		return e, false
	}
	switch {
	case now.Before(o.Start):
		e.Phase = PhaseLead
	case now.Before(o.End):
		e.Phase = PhaseActive
	case now.Before(holdEnd):
		e.Phase = PhaseCooldown
	default:
		e.Phase = PhaseStepDown
	}
	base, haveBase := known.Baseline(o, floorStart)
	if haveBase && (base < 0 || math.IsNaN(base) || math.IsInf(base, 0)) {
		haveBase = false
	}
	if haveBase {
		e.Baseline = ground.Some(base)
	}
	switch {
	case w.Learned && known.Learned != nil:
		if v, ok := known.Learned(o); ok {
			e.Demand.Value = v
		}
	case w.Learned:
		e.Note = NoteInitially
	}
	var load float64
	switch e.Demand.Kind {
	case ground.DemandMultiplier:
		if !haveBase {
			if e.Phase == PhaseStepDown {
				return e, false
			}
			e.Note = NoteNoBaseline
			return e, true
		}
		load = e.Demand.Value * base
	case ground.DemandLoad:
		load = e.Demand.Value
	case ground.DemandReplicas:
		load = e.Demand.Value * t.CapacityPerReplica
	}
	peak := clampReplicas(ReplicasFor(load, t.CapacityPerReplica), t)
	if e.Demand.Kind == ground.DemandReplicas {
		peak = clampReplicas(int32(e.Demand.Value), t)
	}
	e.Peak = ground.Some(peak)
	follow, followLoad, following := followFloor(t, o, &e, load, known)
	if w.ShapeLearned && known.Shape != nil {
		// Asked from the floor's start on, so that the engine latches the
		// shape known then, as it does the multiplier.
		if shape, ok := known.Shape(o); ok && e.Phase == PhaseActive {
			e.Shaped = true
			follow, followLoad, following = shapedFloor(t, o, &e, load, shape, now, known)
		}
	}
	if e.Phase != PhaseStepDown {
		e.Replicas, e.Load = e.Peak, ground.Some(load)
		if following && follow < peak {
			e.Replicas, e.Load, e.Following = ground.Some(follow), ground.Some(followLoad), true
		}
		return e, true
	}
	rest := t.MinReplicas
	if haveBase {
		rest = clampReplicas(ReplicasFor(base, t.CapacityPerReplica), t)
	}
	step := int(now.Sub(holdEnd)/StepInterval) + 1
	if following && follow <= rest {
		return e, false // the load is back where it was: the floor is released
	}
	v, ok := StepDown(peak, rest, step)
	if !ok {
		return e, false
	}
	e.Replicas = ground.Some(v)
	e.Load = ground.Some(float64(v) * t.CapacityPerReplica)
	if following && follow < v {
		e.Replicas, e.Load, e.Following = ground.Some(follow), ground.Some(followLoad), true
	}
	return e, true
}

// followFloor returns the floor that follows the load down, with the load
// behind it, once the occurrence's traffic has clearly arrived and passed
// its peak; false while the floor is to be held. A replicas window (an
// explicit count) and a window with no baseline are always held.
func followFloor(t *ground.Target, o Occurrence, e *Effect, expected float64, known *Known) (int32, float64, bool) {
	if known.Traffic == nil || !e.Baseline.OK || e.Demand.Kind == ground.DemandReplicas {
		return 0, 0, false
	}
	tr := known.Traffic(o) // every cycle: the engine keeps the peak as it reads it
	base := e.Baseline.V
	// Inside the window the announced traffic may still come (a spot
	// aired late, a second wave): the floor is held until its end.
	if e.Phase == PhaseLead || e.Phase == PhaseActive || expected <= base || !tr.Peak.OK {
		return 0, 0, false
	}
	arrived := tr.Peak.V >= base+ArrivedFraction*(expected-base)
	passed := func(v float64) bool { return v <= tr.Peak.V-PassedFraction*(tr.Peak.V-base) }
	var load float64
	switch {
	case !arrived:
		return 0, 0, false
	case e.Phase == PhaseCooldown && tr.Latest.OK && passed(tr.Latest.V):
		load = tr.Latest.V * (1 + FollowHeadroom)
	case e.Phase == PhaseStepDown && tr.Lowest.OK && passed(tr.Lowest.V):
		// Once the cooldown is over, the lowest load since the window's
		// end, with no headroom: the floor only goes down, and once
		// released stays so (tracking serves a rebound).
		load = tr.Lowest.V
	default:
		return 0, 0, false
	}
	return clampReplicas(ReplicasFor(load, t.CapacityPerReplica), t), load, true
}

// StepDown returns the floor at the given step (1 is the first) of a
// step-down from peak to rest, and false once the step-down is over. Every
// step drops the floor by more than StepFraction of its previous value, and
// the last step lands exactly on rest. When peak is within 10% of rest the
// step-down is a single step straight to rest.
func StepDown(peak, rest int32, step int) (int32, bool) {
	if step < 1 || peak <= rest {
		return 0, false
	}
	// Build the levels upward from rest: each is the smallest value that
	// the next lower one is at most (1-StepFraction) of.
	var levels [MaxSteps]int32
	n := 0
	for v := rest; n < MaxSteps; n++ {
		levels[n] = v
		next := int32(math.Ceil(float64(v) / (1 - StepFraction)))
		if next <= v {
			next = v + 1
		}
		// Stop below the first level the peak cannot drop to by more than 10%.
		if float64(next) >= 0.9*float64(peak) {
			n++
			break
		}
		v = next
	}
	// levels[n-1] is the first level below peak; steps walk down to levels[0].
	if step > n {
		return 0, false
	}
	return levels[n-step], true
}

// ReplicasFor is target tracking: the replicas that serve load at capacity
// per replica, rounded up. A tiny tolerance keeps float noise (300.0000001)
// from adding a replica.
func ReplicasFor(load, capacity float64) int32 {
	if load <= 0 || capacity <= 0 || math.IsNaN(load) {
		return 0
	}
	r := load / capacity
	r = math.Ceil(r - 1e-9*math.Max(1, r))
	if r > math.MaxInt32 {
		return math.MaxInt32
	}
	return int32(r)
}

func clampReplicas(v int32, t *ground.Target) int32 {
	return min(max(v, t.MinReplicas), t.MaxReplicas)
}
