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

// MaxReportGap bounds the time one cycle's sample stands for in a report:
// after a gap (a restart, a lost lead) the time not seen is not counted.
const MaxReportGap = 5 * time.Minute

// Reports builds the window reports of a fleet from its decisions, cycle
// after cycle. It is not safe for concurrent use; the zero value is ready.
//
// A fleet of 10,000 targets under 10 windows each has 100,000 reports
// open at once: a report being built is a compact value (112 bytes:
// the window by pointer, instants as Unix nanoseconds) in a slice per
// target, and the WindowReport is only made when it is released.
type Reports struct {
	open  map[ground.TargetKey]*openReports
	cycle uint64
}

// openReports are one target's reports being built.
type openReports struct {
	cycle    uint64 // the last cycle that saw the target
	builders []reportBuilder
}

// reportBuilder is one occurrence's report being built.
type reportBuilder struct {
	window *ground.Window
	// start and end are the occurrence's, last the previous cycle's
	// instant and peakAt the peak's, all in Unix nanoseconds.
	start, end, last, peakAt int64
	baseline, peak           float64
	excess, added, saved     float64
	// demand is the Demand's value the occurrence applied (a learned
	// multiplier once there is one).
	demand                   float64
	underCapacity, halfDecay time.Duration
	floorAtStart             int32
	replicasAtStart          int32
	// before is the replicas when a quiet occurrence was first seen.
	before int32
	// The waves: the first one's peak, then the lowest load after it fell
	// halfway and the highest rise above that lowest.
	firstPeak, trough, secondPeak, secondRise float64
	firstPeakAt, secondAt                     int64
	firstHalf                                 time.Duration
	// floorFrom is the first cycle with the floor in force, readyAfter the
	// time until its replicas were ready, followedAt the first cycle the
	// floor followed the load inside the window.
	floorFrom, followedAt int64
	readyAfter            time.Duration
	// firstFloor is the floor at floorFrom; readyAt when it was ready.
	readyAt    int64
	firstFloor int32
	has        reportHas
	seen       bool
}

// reportHas says which of a builder's optional figures are known.
type reportHas uint32

const (
	hasBaseline reportHas = 1 << iota
	hasPeak
	hasHalfDecay
	hasFloorAtStart
	hasReplicasAtStart
	hasBefore
	hasLast
	hasLearned
	hasLead // first seen before the start
	hasGap  // a gap between cycles, or the load unknown while it counts
	hasFirstOver
	hasFloorFrom
	hasReady
	hasFollowed
	hasMetAtOnce  // the floor was met at its first cycle
	hasReadyKnown // the ready replicas were known at some cycle
)

// Observe takes one cycle's decisions, one per target in the order of
// targets, and returns the reports of the occurrences released since the
// previous cycle. A target that is gone takes its open reports with it.
func (rs *Reports) Observe(targets []ground.Target, decisions []Decision) []WindowReport {
	var done []WindowReport
	rs.cycle++
	for i := range decisions {
		d := &decisions[i]
		open := rs.open[d.Target]
		if open == nil {
			if len(d.Schedule.Effects) == 0 {
				continue
			}
			if rs.open == nil {
				rs.open = map[ground.TargetKey]*openReports{}
			}
			open = &openReports{}
			rs.open[d.Target] = open
		}
		open.cycle = rs.cycle
		for j := range open.builders {
			open.builders[j].seen = false
		}
		for j := range d.Schedule.Effects {
			e := &d.Schedule.Effects[j]
			b := open.find(j, &e.Occurrence)
			if b == nil {
				if len(open.builders) == cap(open.builders) {
					// Room for every effect of the cycle, not append's
					// doubling: floors start one after another, and ten
					// reports would otherwise keep room for sixteen.
					grown := make([]reportBuilder, len(open.builders), len(open.builders)+len(d.Schedule.Effects)-j)
					copy(grown, open.builders)
					open.builders = grown
				}
				o := e.Occurrence
				open.builders = append(open.builders, reportBuilder{start: o.Start.UnixNano(), end: o.End.UnixNano()})
				b = &open.builders[len(open.builders)-1]
			}
			b.window, b.seen = e.Occurrence.Window, true
			b.observe(&targets[i], d, e)
		}
		kept := open.builders[:0]
		for j := range open.builders {
			if b := &open.builders[j]; b.seen {
				kept = append(kept, *b)
			} else {
				done = append(done, b.report(d.Target, d.At))
			}
		}
		clear(open.builders[len(kept):]) // no window kept alive by a released report
		open.builders = kept
		if len(kept) == 0 {
			delete(rs.open, d.Target)
		}
	}
	for k, o := range rs.open {
		if o.cycle != rs.cycle {
			delete(rs.open, k)
		}
	}
	return done
}

// find returns the builder of occurrence o, looked for first at index
// hint (the effects come in the same order cycle after cycle).
func (o *openReports) find(hint int, occ *Occurrence) *reportBuilder {
	same := func(b *reportBuilder) bool {
		return b.start == occ.Start.UnixNano() && b.window.Name == occ.Window.Name && b.window.Origin.File == occ.Window.Origin.File
	}
	if hint < len(o.builders) && same(&o.builders[hint]) {
		return &o.builders[hint]
	}
	for j := range o.builders {
		if same(&o.builders[j]) {
			return &o.builders[j]
		}
	}
	return nil
}

// Open returns how many reports are being built.
func (rs *Reports) Open() int {
	n := 0
	for _, o := range rs.open {
		n += len(o.builders)
	}
	return n
}

// report makes the WindowReport of a builder released at instant at.
func (b *reportBuilder) report(target ground.TargetKey, at time.Time) WindowReport {
	w := b.window
	demand := w.Demand
	if b.has&hasLearned != 0 {
		demand.Value = b.demand
	}
	r := WindowReport{Target: target, Window: w.Name, Origin: w.Origin, Group: w.LearningGroup(), Location: w.Location, Demand: demand, Learned: b.has&hasLearned != 0, Quiet: w.Quiet,
		Start: time.Unix(0, b.start), End: time.Unix(0, b.end), Released: at,
		UnderCapacity: b.underCapacity, Excess: b.excess, AddedReplicaHours: b.added, SavedReplicaHours: b.saved,
		Complete: b.has&hasLead != 0 && b.has&hasGap == 0 && !at.Before(time.Unix(0, b.end))}
	if b.has&hasBaseline != 0 {
		r.Baseline = ground.Some(b.baseline)
	}
	if b.has&hasPeak != 0 {
		r.Peak, r.PeakAt = ground.Some(b.peak), time.Unix(0, b.peakAt)
	}
	if b.has&hasHalfDecay != 0 {
		r.HalfDecay = ground.Some(b.halfDecay)
	}
	if b.has&hasFloorAtStart != 0 {
		r.FloorAtStart = ground.Some(b.floorAtStart)
	}
	if b.has&hasReplicasAtStart != 0 {
		r.ReplicasAtStart = ground.Some(b.replicasAtStart)
	}
	if b.has&hasFloorFrom != 0 {
		r.FloorFrom = time.Unix(0, b.floorFrom)
	}
	if b.has&hasReady != 0 {
		r.ReadyAfter = ground.Some(b.readyAfter)
	}
	if b.has&(hasFloorFrom|hasReadyKnown) == hasFloorFrom|hasReadyKnown && b.has&hasMetAtOnce == 0 && b.floorFrom < b.start {
		r.Late = b.has&hasReady == 0 || b.readyAt > b.start
	}
	if b.has&hasFollowed != 0 {
		r.FollowedAt = time.Unix(0, b.followedAt)
	}
	b.waves(&r)
	return r
}

// waves fills what the report saw of the occurrence's waves.
func (b *reportBuilder) waves(r *WindowReport) {
	if !r.Rose() {
		return
	}
	r.FirstPeakAt = time.Unix(0, b.firstPeakAt)
	if b.has&hasFirstOver == 0 {
		return
	}
	r.FirstHalfDecay = ground.Some(b.firstHalf)
	if rise := b.firstPeak - r.Baseline.V; rise > 0 && b.secondRise >= SecondWaveRise*rise {
		r.SecondWave = ground.Some((b.secondPeak - r.Baseline.V) / rise)
		r.SecondWaveAt = time.Unix(0, b.secondAt)
	}
}

// observe adds one cycle, decision d, of effect e to the report.
func (b *reportBuilder) observe(t *ground.Target, d *Decision, e *Effect) {
	w := b.window
	now := d.At.UnixNano()
	dt := time.Duration(0)
	if b.has&hasLast != 0 {
		if time.Duration(now-b.last) > MaxReportGap {
			b.has |= hasGap
		}
		dt = min(time.Duration(now-b.last), MaxReportGap)
	} else if now < b.start {
		b.has |= hasLead
	}
	b.last, b.has = now, b.has|hasLast
	load := d.Load.Observed
	if b.has&hasBaseline == 0 || (w.Demand.Kind == ground.DemandMultiplier && e.Baseline.OK && now < b.start) {
		switch {
		case w.Demand.Kind == ground.DemandMultiplier && e.Baseline.OK:
			// Until the start, the latched baseline may still rise with
			// the usual load (the engine raises it): the report's too.
			b.baseline, b.has = e.Baseline.V, b.has|hasBaseline
		case w.Demand.Kind != ground.DemandMultiplier && load.OK && now < b.start:
			b.baseline, b.has = load.V, b.has|hasBaseline
		}
	}
	if w.Learned && e.Demand.Value != w.Demand.Value && b.has&hasLearned == 0 && (e.Phase == PhaseLead || e.Phase == PhaseActive) {
		b.demand, b.has = e.Demand.Value, b.has|hasLearned
	}
	if w.Quiet {
		if b.has&hasBefore == 0 && d.Current.OK {
			b.before, b.has = d.Current.V, b.has|hasBefore
		}
		ref := d.Tracking
		if ref.OK {
			ref = ground.Some(clampReplicas(ref.V, t))
		} else if b.has&hasBefore != 0 {
			ref = ground.Some(b.before)
		}
		if ref.OK && e.Replicas.OK && ref.V > e.Replicas.V {
			b.saved += float64(ref.V-e.Replicas.V) * dt.Hours()
		}
		return
	}
	if d.Tracking.OK && e.Replicas.OK {
		if tracking := clampReplicas(d.Tracking.V, t); e.Replicas.V > tracking {
			b.added += float64(e.Replicas.V-tracking) * dt.Hours()
		}
	}
	b.readiness(d, e, now)
	if now < b.start {
		return
	}
	if e.Following && now < b.end && b.has&hasFollowed == 0 {
		b.followedAt, b.has = now, b.has|hasFollowed
	}
	if b.has&(hasFloorAtStart|hasReplicasAtStart) == 0 {
		if e.Replicas.OK {
			b.floorAtStart, b.has = e.Replicas.V, b.has|hasFloorAtStart
		}
		if d.Current.OK {
			b.replicasAtStart, b.has = d.Current.V, b.has|hasReplicasAtStart
		}
	}
	if now >= b.end+int64(w.Cooldown) {
		return
	}
	if !load.OK {
		b.has |= hasGap
		return
	}
	first := b.has&hasPeak == 0
	if first || load.V > b.peak {
		b.peak, b.peakAt, b.has = load.V, now, (b.has|hasPeak)&^hasHalfDecay
	} else if b.has&hasHalfDecay == 0 && b.has&hasBaseline != 0 && b.peak > b.baseline && load.V <= b.baseline+(b.peak-b.baseline)/2 {
		b.halfDecay, b.has = time.Duration(now-b.peakAt), b.has|hasHalfDecay
	}
	b.wave(load.V, now, first)
	if d.Current.OK && t.CapacityPerReplica > 0 {
		if excess := load.V - float64(d.Current.V)*t.CapacityPerReplica; excess > 0 {
			b.underCapacity += dt
			b.excess += excess * dt.Seconds()
		}
	}
}

// wave follows the waves: the first one until it fell halfway back to
// the baseline, then the highest rise above the lowest load since.
func (b *reportBuilder) wave(load float64, now int64, first bool) {
	switch {
	case first || (b.has&hasFirstOver == 0 && load > b.firstPeak):
		b.firstPeak, b.firstPeakAt = load, now
	case b.has&hasFirstOver == 0:
		// The first wave is over once it rose clearly and fell halfway.
		if b.has&hasBaseline != 0 && b.firstPeak >= b.baseline*(1+ClearRise) && load <= b.baseline+(b.firstPeak-b.baseline)/2 {
			b.firstHalf, b.trough, b.has = time.Duration(now-b.firstPeakAt), load, b.has|hasFirstOver
		}
	default:
		b.trough = min(b.trough, load)
		if rise := load - b.trough; rise > b.secondRise {
			b.secondRise, b.secondPeak, b.secondAt = rise, load, now
		}
	}
}

// readiness notes when the floor was first in force and how long its
// replicas took to be ready. A floor the workload already met at its
// first cycle says nothing of how long pods take.
func (b *reportBuilder) readiness(d *Decision, e *Effect, now int64) {
	if !e.Replicas.OK || now >= b.end {
		return
	}
	if d.Ready.OK {
		b.has |= hasReadyKnown
	}
	if b.has&hasFloorFrom == 0 {
		b.floorFrom, b.firstFloor, b.has = now, e.Replicas.V, b.has|hasFloorFrom
		if d.Ready.OK && d.Ready.V >= e.Replicas.V {
			b.has |= hasMetAtOnce
		}
		return
	}
	if b.has&(hasReady|hasMetAtOnce) != 0 {
		return
	}
	// Ready against the floor first asked for: a top-up later in the
	// lead (a baseline raised with the load) says nothing of the lead.
	if d.Ready.OK && d.Ready.V >= b.firstFloor {
		b.readyAfter, b.readyAt, b.has = time.Duration(now-b.floorFrom), now, b.has|hasReady
	}
}
