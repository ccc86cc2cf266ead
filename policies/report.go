package policies

import (
	"fmt"
	"math"
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
	// Location is the window's time zone, that the sentence speaks in.
	Location *time.Location
	Demand   ground.Demand
	Quiet    bool
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
func (r *WindowReport) Sentence() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s on %s: %s ", r.Window, r.Start.In(r.zone()).Format("Mon 2 Jan 15:04"), r.Target)
	if r.Quiet {
		fmt.Fprintf(&b, "was capped; the quiet window saved %s replica-hours", formatHours(r.SavedReplicaHours))
		return b.String()
	}
	ratio, expected := r.Ratio(), r.ExpectedRatio()
	switch {
	case ratio.OK:
		fmt.Fprintf(&b, "peaked at %.1fx its usual load (%s for %s) %s after the start", ratio.V, formatLoad(r.Peak.V), formatLoad(r.Baseline.V), formatSpan(r.PeakAt.Sub(r.Start)))
		if expected.OK {
			fmt.Fprintf(&b, " (expected %s)", formatRatio(expected.V))
		}
		if r.HalfDecay.OK {
			fmt.Fprintf(&b, ", half gone %s later", formatSpan(r.HalfDecay.V))
		}
	case r.Peak.OK:
		fmt.Fprintf(&b, "peaked at %s %s after the start, with no usual load known", formatLoad(r.Peak.V), formatSpan(r.PeakAt.Sub(r.Start)))
	default:
		b.WriteString("had no load observed during the window")
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
	return b.String()
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

// MaxReportGap bounds the time one cycle's sample stands for in a report:
// after a gap (a restart, a lost lead) the time not seen is not counted.
const MaxReportGap = 5 * time.Minute

// Reports builds the window reports of a fleet from its decisions, cycle
// after cycle. It is not safe for concurrent use; the zero value is ready.
type Reports struct {
	open map[ground.TargetKey]map[reportKey]*reportBuilder
}

type reportKey struct {
	file, window string
	start        int64
}

type reportBuilder struct {
	r    WindowReport
	last time.Time
	// before is the replicas when a quiet occurrence was first seen.
	before ground.Opt[int32]
	// holdEnd is the end of the cooldown: the window's traffic is
	// measured from Start until then.
	holdEnd time.Time
	seen    bool
}

// Observe takes one cycle's decisions, one per target in the order of
// targets, and returns the reports of the occurrences released since the
// previous cycle. A target that is gone takes its open reports with it.
func (rs *Reports) Observe(targets []ground.Target, decisions []Decision) []WindowReport {
	var done []WindowReport
	var live map[ground.TargetKey]bool // the targets with open reports seen in this cycle
	for i := range decisions {
		d := &decisions[i]
		open := rs.open[d.Target]
		if open == nil && len(d.Schedule.Effects) == 0 {
			continue
		}
		if open == nil {
			if rs.open == nil {
				rs.open = map[ground.TargetKey]map[reportKey]*reportBuilder{}
			}
			open = map[reportKey]*reportBuilder{}
			rs.open[d.Target] = open
		}
		if live == nil {
			live = make(map[ground.TargetKey]bool, len(rs.open))
		}
		live[d.Target] = true
		for _, b := range open {
			b.seen = false
		}
		for j := range d.Schedule.Effects {
			e := &d.Schedule.Effects[j]
			o := e.Occurrence
			k := reportKey{file: o.Window.Origin.File, window: o.Window.Name, start: o.Start.Unix()}
			b := open[k]
			if b == nil {
				b = &reportBuilder{r: WindowReport{Target: d.Target, Window: o.Window.Name, Origin: o.Window.Origin, Location: o.Window.Location,
					Demand: o.Window.Demand, Quiet: o.Window.Quiet, Start: o.Start, End: o.End},
					holdEnd: o.End.Add(o.Window.Cooldown)}
				open[k] = b
			}
			b.seen = true
			b.observe(&targets[i], d, e)
		}
		for k, b := range open {
			if !b.seen {
				b.r.Released = d.At
				done = append(done, b.r)
				delete(open, k)
			}
		}
		if len(open) == 0 {
			delete(rs.open, d.Target)
		}
	}
	for k := range rs.open {
		if !live[k] {
			delete(rs.open, k)
		}
	}
	return done
}

// Open returns how many reports are being built.
func (rs *Reports) Open() int {
	n := 0
	for _, o := range rs.open {
		n += len(o)
	}
	return n
}

// observe adds one cycle, decision d, of effect e to the report.
func (b *reportBuilder) observe(t *ground.Target, d *Decision, e *Effect) {
	r := &b.r
	dt := time.Duration(0)
	if !b.last.IsZero() {
		dt = min(d.At.Sub(b.last), MaxReportGap)
	}
	b.last = d.At
	load := d.Load.Observed
	if !r.Baseline.OK {
		switch {
		case r.Demand.Kind == ground.DemandMultiplier && e.Load.OK && (e.Phase == PhaseLead || e.Phase == PhaseActive) && r.Demand.Value > 0:
			r.Baseline = ground.Some(e.Load.V / r.Demand.Value)
		case r.Demand.Kind != ground.DemandMultiplier && load.OK && d.At.Before(r.Start):
			r.Baseline = load
		}
	}
	if r.Quiet {
		if !b.before.OK {
			b.before = d.Current
		}
		ref := d.Tracking
		if ref.OK {
			ref = ground.Some(clampReplicas(ref.V, t))
		} else {
			ref = b.before
		}
		if ref.OK && e.Replicas.OK && ref.V > e.Replicas.V {
			r.SavedReplicaHours += float64(ref.V-e.Replicas.V) * dt.Hours()
		}
		return
	}
	if d.Tracking.OK && e.Replicas.OK {
		if tracking := clampReplicas(d.Tracking.V, t); e.Replicas.V > tracking {
			r.AddedReplicaHours += float64(e.Replicas.V-tracking) * dt.Hours()
		}
	}
	if d.At.Before(r.Start) {
		return
	}
	if !r.FloorAtStart.OK && !r.ReplicasAtStart.OK {
		r.FloorAtStart, r.ReplicasAtStart = e.Replicas, d.Current
	}
	if !d.At.Before(b.holdEnd) || !load.OK {
		return
	}
	if !r.Peak.OK || load.V > r.Peak.V {
		r.Peak, r.PeakAt, r.HalfDecay = load, d.At, ground.None[time.Duration]()
	} else if !r.HalfDecay.OK && r.Baseline.OK && r.Peak.V > r.Baseline.V && load.V <= r.Baseline.V+(r.Peak.V-r.Baseline.V)/2 {
		r.HalfDecay = ground.Some(d.At.Sub(r.PeakAt))
	}
	if d.Current.OK && t.CapacityPerReplica > 0 {
		if excess := load.V - float64(d.Current.V)*t.CapacityPerReplica; excess > 0 {
			r.UnderCapacity += dt
			r.Excess += excess * dt.Seconds()
		}
	}
}
