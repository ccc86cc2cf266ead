package policies

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/primetime-dev/primetime/ground"
)

// WindowReport is what one window occurrence really did to one target,
// written once the occurrence's floor (or a quiet window's cap) is
// released: the figures marketing's multiplier is checked against.
type WindowReport struct {
	Target ground.TargetKey
	// Window is the window's name; Origin where it is written (the
	// windows ConfigMap the report's Event goes to).
	Window string
	Origin ground.Origin
	// Group is the learning group of the window (ground.Window's
	// LearningGroup): the reports an "expect: learned" window learns from.
	Group string
	// Location is the window's time zone, that the sentence speaks in.
	Location *time.Location
	// Demand is what the window asked for; a learned multiplier in place
	// of "initially" once there was one.
	Demand ground.Demand
	// Learned says the multiplier was learned from the group's reports.
	Learned bool
	Quiet   bool
	// Start and End are the occurrence's; Released is the first instant
	// its effect was no longer in force.
	Start, End, Released time.Time
	// Baseline is the load the window's multiplier applied to: the
	// latched baseline of an "Nx" window, else the load observed when the
	// occurrence was first in force (before its traffic).
	Baseline ground.Opt[float64]
	// Peak is the highest load observed from Start to the end of the
	// cooldown, at PeakAt.
	Peak   ground.Opt[float64]
	PeakAt time.Time
	// HalfDecay is the time from the peak until the load was back halfway
	// to the baseline; absent when it never was while in force.
	HalfDecay ground.Opt[time.Duration]
	// FirstPeakAt is when the first wave peaked: the highest load before
	// the load first fell back halfway to the baseline; FirstHalfDecay is
	// the time from it to that fall. Both are unknown (zero, absent)
	// without a clear rise.
	FirstPeakAt    time.Time
	FirstHalfDecay ground.Opt[time.Duration]
	// SecondWave is the rise of a wave after the first (once the first
	// had fallen halfway) over the first's rise, when one rose by
	// SecondWaveRise of it or more; SecondWaveAt is its peak.
	SecondWave   ground.Opt[float64]
	SecondWaveAt time.Time
	// FloorFrom is the first cycle the floor was in force; ReadyAfter the
	// time from it until the workload's ready replicas reached the floor
	// asked for then, absent when they never did before the window's end
	// (or were not known).
	FloorFrom  time.Time
	ReadyAfter ground.Opt[time.Duration]
	// Late says the floor's replicas were not all ready at the start (a
	// PrescaleLate): the lead was too short.
	Late bool
	// FollowedAt is the first cycle, inside the window, at which the floor
	// followed the load down (a learned shape); zero when it was held.
	FollowedAt time.Time
	// FloorAtStart and ReplicasAtStart are the floor and the workload's
	// replicas at the first cycle at or after Start.
	FloorAtStart    ground.Opt[int32]
	ReplicasAtStart ground.Opt[int32]
	// UnderCapacity is how long, from Start to the end of the cooldown,
	// the load was above the capacity of the workload's replicas, and
	// Excess the load above it integrated over that time (for a load in
	// requests per second: requests).
	UnderCapacity time.Duration
	Excess        float64
	// AddedReplicaHours are the replica-hours the floor added over
	// tracking alone; SavedReplicaHours, for a quiet window, the
	// replica-hours below what tracking (or, with the load unknown, the
	// replicas before the cap) would have run.
	AddedReplicaHours float64
	SavedReplicaHours float64
	// Complete says the report saw the whole occurrence: from before its
	// start to past its end, with its load known at every cycle from the
	// start to the end of the cooldown and no gap between cycles. Only a
	// complete report teaches a learned multiplier: one that missed the
	// peak (an outage, a failover, a rename) would teach too little.
	Complete bool
}

// What a report calls a rise and a second wave.
const (
	// ClearRise: an occurrence brought a clear rise when its peak is at
	// least this share above the baseline (1.3x); organic drift and noise
	// over a window stay below it.
	ClearRise = 0.3
	// SecondWaveRise: a later wave counts as a second wave when it rose
	// from the lowest load after the first by at least this share of the
	// first's rise.
	SecondWaveRise = 0.25
)

// Rose says a clear rise came: the peak reached ClearRise above the
// baseline. An occurrence without one (a spot that never aired) teaches
// neither a multiplier nor a shape.
func (r *WindowReport) Rose() bool {
	ratio := r.Ratio()
	return ratio.OK && ratio.V >= 1+ClearRise
}

// Ratio is the peak over the baseline, absent when either is unknown.
func (r *WindowReport) Ratio() ground.Opt[float64] {
	if !r.Peak.OK || !r.Baseline.OK || r.Baseline.V <= 0 {
		return ground.None[float64]()
	}
	return ground.Some(r.Peak.V / r.Baseline.V)
}

// ExpectedRatio is the multiplier the window stated: N for "Nx", the
// expected load over the baseline for an absolute load; absent for a
// replicas window.
func (r *WindowReport) ExpectedRatio() ground.Opt[float64] {
	switch r.Demand.Kind {
	case ground.DemandMultiplier:
		return ground.Some(r.Demand.Value)
	case ground.DemandLoad:
		if r.Baseline.OK && r.Baseline.V > 0 {
			return ground.Some(r.Demand.Value / r.Baseline.V)
		}
	}
	return ground.None[float64]()
}

// Sentence says the report in one plain sentence, for the Event a
// marketer reads on the windows ConfigMap: "tf1-spot on Wed 25 Nov 20:45:
// storefront/web peaked at 3.0x its usual load (300 for 100) 1 min after
// the start (expected 5x), half gone 2 min later; 20 replicas at the start
// for a floor of 50; load above capacity for 1 min (3000 in excess); the
// window added 3.92 replica-hours over tracking".
func (r *WindowReport) Sentence() string { return r.SentenceWith(ground.None[float64]()) }

// SentenceWith is Sentence with the replica-hours also said in grams of
// CO2e, at carbon grams per replica-hour (serve's --carbon-intensity):
// "... the window added 3.92 replica-hours over tracking (784 g CO2e)",
// "... the quiet window saved 1.00 replica-hours (200 g CO2e)". Nothing
// is said of carbon when it is absent.
func (r *WindowReport) SentenceWith(carbon ground.Opt[float64]) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s on %s: %s", r.Window, r.Start.In(r.zone()).Format("Mon 2 Jan 15:04"), r.Target)
	if r.Quiet {
		fmt.Fprintf(&b, " was capped; the quiet window saved %s replica-hours", formatHours(r.SavedReplicaHours))
		writeCO2e(&b, r.SavedReplicaHours, carbon)
		return b.String()
	}
	ratio, expected := r.Ratio(), r.ExpectedRatio()
	switch {
	case ratio.OK && !r.Rose():
		fmt.Fprintf(&b, ": no rise above the usual load came (%s at most for %s", formatLoad(r.Peak.V), formatLoad(r.Baseline.V))
		if expected.OK {
			fmt.Fprintf(&b, ", expected %s", formatRatio(expected.V))
		}
		b.WriteString(")")
	case ratio.OK:
		fmt.Fprintf(&b, " peaked at %.1fx its usual load (%s for %s) %s after the start", ratio.V, formatLoad(r.Peak.V), formatLoad(r.Baseline.V), formatSpan(r.PeakAt.Sub(r.Start)))
		if expected.OK {
			fmt.Fprintf(&b, " (expected %s)", formatRatio(expected.V))
		}
		if r.HalfDecay.OK {
			fmt.Fprintf(&b, ", half gone %s later", formatSpan(r.HalfDecay.V))
		}
		if r.SecondWave.OK {
			fmt.Fprintf(&b, ", with a second wave %s after the start (%.1fx as high as the first)", formatSpan(r.SecondWaveAt.Sub(r.Start)), r.SecondWave.V)
		}
	case r.Peak.OK:
		fmt.Fprintf(&b, " peaked at %s %s after the start, with no usual load known", formatLoad(r.Peak.V), formatSpan(r.PeakAt.Sub(r.Start)))
	default:
		b.WriteString(" had no load observed during the window")
	}
	if !r.FollowedAt.IsZero() {
		fmt.Fprintf(&b, "; the floor followed the load down from %s after the start, inside the window (its group's learned shape)", formatSpan(r.FollowedAt.Sub(r.Start)))
	}
	if r.ReplicasAtStart.OK && r.FloorAtStart.OK {
		fmt.Fprintf(&b, "; %d replicas at the start for a floor of %d", r.ReplicasAtStart.V, r.FloorAtStart.V)
	}
	switch {
	case r.UnderCapacity > 0:
		fmt.Fprintf(&b, "; load above capacity for %s (%s in excess)", formatSpan(r.UnderCapacity), formatLoad(r.Excess))
	case r.ReplicasAtStart.OK:
		b.WriteString("; never above capacity")
	}
	fmt.Fprintf(&b, "; the window added %s replica-hours over tracking", formatHours(r.AddedReplicaHours))
	writeCO2e(&b, r.AddedReplicaHours, carbon)
	return b.String()
}

// writeCO2e writes " (N g CO2e)" for hours replica-hours at carbon grams
// per replica-hour, nothing when carbon is absent.
func writeCO2e(b *strings.Builder, hours float64, carbon ground.Opt[float64]) {
	if carbon.OK {
		fmt.Fprintf(b, " (%s g CO2e)", formatGrams(hours*carbon.V))
	}
}

// formatGrams writes grams whole, or to a tenth below 10 g: "784",
// "12", "2.5", "0".
func formatGrams(g float64) string {
	if g < 9.95 {
		return strconv.FormatFloat(math.Round(g*10)/10, 'f', -1, 64)
	}
	return fmt.Sprintf("%.0f", g)
}

// zone is the window's time zone, for the sentence.
func (r *WindowReport) zone() *time.Location {
	if r.Location != nil {
		return r.Location
	}
	return time.UTC
}

func formatRatio(v float64) string { return fmt.Sprintf("%gx", math.Round(v*10)/10) }

func formatHours(h float64) string { return fmt.Sprintf("%.2f", h) }

// formatSpan writes a duration as people say it: "40 s", "3 min",
// "2 min 30 s", "1 h 5 min".
func formatSpan(d time.Duration) string {
	if d < 0 {
		return "-" + formatSpan(-d)
	}
	d = d.Round(time.Second)
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	switch {
	case h > 0 && m > 0:
		return fmt.Sprintf("%d h %d min", h, m)
	case h > 0:
		return fmt.Sprintf("%d h", h)
	case m > 0 && s > 0:
		return fmt.Sprintf("%d min %d s", m, s)
	case m > 0:
		return fmt.Sprintf("%d min", m)
	}
	return fmt.Sprintf("%d s", s)
}
