package policies

import (
	"time"

	"github.com/primetime-dev/primetime/ground"
)

// MaxJoinDelay is how long after a floor's start its report's first cycle
// may come and still time the pods (a cycle or two late, not a new
// leader's first cycle).
const MaxJoinDelay = time.Minute

// MaxReportGap bounds the time one cycle's sample stands for in a report:
// after a gap (a restart, a lost lead) the time not seen is not counted.
const MaxReportGap = 5 * time.Minute

// Reports builds the window reports of a fleet from its decisions, cycle
// after cycle. It is not safe for concurrent use; the zero value is ready.
//
// A fleet of 10,000 targets under 10 windows each has 100,000 reports
// open at once: a report being built is a compact value (168 bytes:
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
	// Loads as float32 and instants as whole seconds from the start (an
	// offset).
	firstPeak, trough, secondPeak, secondRise float32
	firstPeakAt, halfAt, secondAt             offset
	// floorFrom is the first cycle with the floor in force, readyAt when
	// its replicas were ready, followedAt the first cycle the floor
	// followed the load inside the window; firstFloor the floor at
	// floorFrom.
	floorFrom, followedAt, readyAt offset
	firstFloor                     int32
	has                            reportHas
	seen                           bool
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
		r.FloorFrom = b.instant(b.floorFrom)
	}
	if b.has&hasReady != 0 {
		r.ReadyAfter = ground.Some(time.Duration(b.readyAt-b.floorFrom) * time.Second)
	}
	if b.has&(hasFloorFrom|hasReadyKnown) == hasFloorFrom|hasReadyKnown && b.has&hasMetAtOnce == 0 && b.floorFrom < 0 {
		r.Late = b.has&hasReady == 0 || b.readyAt > 0
	}
	if b.has&hasFollowed != 0 {
		r.FollowedAt = b.instant(b.followedAt)
	}
	b.waves(&r)
	return r
}

// waves fills what the report saw of the occurrence's waves.
func (b *reportBuilder) waves(r *WindowReport) {
	if !r.Rose() {
		return
	}
	r.FirstPeakAt = b.instant(b.firstPeakAt)
	if b.has&hasFirstOver == 0 {
		return
	}
	r.FirstHalfDecay = ground.Some(time.Duration(b.halfAt-b.firstPeakAt) * time.Second)
	if rise := float64(b.firstPeak) - r.Baseline.V; rise > 0 && float64(b.secondRise) >= SecondWaveRise*rise {
		r.SecondWave = ground.Some((float64(b.secondPeak) - r.Baseline.V) / rise)
		r.SecondWaveAt = b.instant(b.secondAt)
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
	if e.Following && e.Replicas.OK && e.Peak.OK && e.Replicas.V < e.Peak.V && now < b.end && b.has&hasFollowed == 0 {
		b.followedAt, b.has = b.offset(now), b.has|hasFollowed
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
func (b *reportBuilder) wave(v float64, now int64, first bool) {
	load := float32(v)
	switch {
	case first || (b.has&hasFirstOver == 0 && load > b.firstPeak):
		b.firstPeak, b.firstPeakAt = load, b.offset(now)
	case b.has&hasFirstOver == 0:
		// The first wave is over once it rose clearly and fell halfway.
		peak := float64(b.firstPeak)
		if b.has&hasBaseline != 0 && peak >= b.baseline*(1+ClearRise) && v <= b.baseline+(peak-b.baseline)/2 {
			b.halfAt, b.trough, b.has = b.offset(now), load, b.has|hasFirstOver
		}
	default:
		b.trough = min(b.trough, load)
		if rise := load - b.trough; rise > b.secondRise {
			b.secondRise, b.secondPeak, b.secondAt = rise, load, b.offset(now)
		}
	}
}

// offset is whole seconds from the occurrence's start (negative before).
type offset int32

// offset returns instant now (Unix nanoseconds) as an offset.
func (b *reportBuilder) offset(now int64) offset {
	return offset((now - b.start) / int64(time.Second))
}

// instant returns an offset as a time.
func (b *reportBuilder) instant(o offset) time.Time {
	return time.Unix(0, b.start+int64(o)*int64(time.Second))
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
		b.floorFrom, b.firstFloor, b.has = b.offset(now), e.Replicas.V, b.has|hasFloorFrom
		// A floor met at its first cycle, or first seen well after it
		// started (a new leader, a window renamed or created during its
		// lead), says nothing of how long pods take.
		if (d.Ready.OK && d.Ready.V >= e.Replicas.V) || now > b.start-int64(e.Lead)+int64(MaxJoinDelay) {
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
		b.readyAt, b.has = b.offset(now), b.has|hasReady
	}
}
