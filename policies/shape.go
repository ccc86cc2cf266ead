package policies

import (
	"fmt"
	"strings"
	"time"

	"github.com/primetime-dev/primetime/ground"
)

// MinShapeReports is how many reports of its group, for a target, a
// "shape: learned" window needs before its floor follows their shape;
// with fewer it is held flat.
const MinShapeReports = 3

// Shape is what a learning group's last occurrences did on one target
// (at most LearnFrom of them, each with a clear rise): when the first
// wave peaked, how fast it fell, and whether a second wave came. Times
// count from the occurrence's start.
type Shape struct {
	Reports int `json:"reports"`
	// PeakAfter is the latest first peak of the reports.
	PeakAfter time.Duration `json:"peakAfter,omitempty"`
	// HalfDecay is the longest half decay of the reports, and HalfDecays
	// how many had one while in force.
	HalfDecay  time.Duration `json:"halfDecay,omitempty"`
	HalfDecays int           `json:"halfDecays,omitempty"`
	// SecondWave is the highest second wave's rise over its first's (0:
	// none came), SecondFrom and SecondTo the earliest and latest peaks
	// of the second waves.
	SecondWave float64       `json:"secondWave,omitempty"`
	SecondFrom time.Duration `json:"secondFrom,omitempty"`
	SecondTo   time.Duration `json:"secondTo,omitempty"`
}

// ShapeOf returns the shape of lessons (one group, one target).
func ShapeOf(lessons []Lesson) Shape {
	var s Shape
	for _, l := range lessons {
		s.Reports++
		s.PeakAfter = max(s.PeakAfter, l.PeakAfter)
		if l.HalfDecay > 0 {
			s.HalfDecay, s.HalfDecays = max(s.HalfDecay, l.HalfDecay), s.HalfDecays+1
		}
		if l.SecondWave <= 0 {
			continue
		}
		if s.SecondWave == 0 || l.SecondAfter < s.SecondFrom {
			s.SecondFrom = l.SecondAfter
		}
		s.SecondTo = max(s.SecondTo, l.SecondAfter)
		s.SecondWave = max(s.SecondWave, l.SecondWave)
	}
	return s
}

// Shape returns the shape learned for window w's group on target t, and
// false while the group has fewer than MinShapeReports reports for it.
func (l *Learning) Shape(w *ground.Window, t *ground.Target) (Shape, bool) {
	ls := l.lessons[LearningKey{Group: w.LearningGroup(), Target: t.Key()}]
	if len(ls) < MinShapeReports {
		return Shape{}, false
	}
	return ShapeOf(ls), true
}

// Describe says the shape in one line, for plan and /calendar: "5
// reports: peak at +40 s, half-decay 3 min, no second wave; the floor
// follows the load down from +40 s, once it is read below its peak".
func (s Shape) Describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d reports: peak at +%s", s.Reports, formatSpan(s.PeakAfter))
	if s.HalfDecays > 0 {
		fmt.Fprintf(&b, ", half-decay %s", formatSpan(s.HalfDecay))
	}
	if s.SecondWave > 0 {
		fmt.Fprintf(&b, ", second waves up to %.1fx as high as the first from +%s to +%s", s.SecondWave, formatSpan(s.SecondFrom), formatSpan(s.SecondTo))
	} else {
		b.WriteString(", no second wave")
	}
	fmt.Fprintf(&b, "; the floor follows the load down from +%s, once it is read below its peak", formatSpan(s.PeakAfter))
	if s.SecondWave > 0 {
		b.WriteString(", and is held again for the second waves")
	}
	return b.String()
}

// Learned leads (SPEC §1, "leadTime: learned").
const (
	// LeadMargin is added to the longest time a target's pods took to be
	// ready: a quarter of it, at least MinLeadMargin.
	LeadMargin    = 0.25
	MinLeadMargin = 30 * time.Second
)

// leadLesson is how long one occurrence's floor took to be ready.
type leadLesson struct {
	window string
	start  time.Time
	// ready is the time its replicas took; absent when they were not
	// ready by the start and the time is unknown.
	ready ground.Opt[time.Duration]
}

// addLead keeps what lesson teaches of target k's lead: the last
// LearnFrom occurrences whose floor had to bring pods up.
func (l *Learning) addLead(k ground.TargetKey, lesson Lesson) {
	if lesson.ReadyAfter <= 0 && !lesson.Late {
		return
	}
	ll := leadLesson{window: lesson.Window, start: lesson.Start}
	if lesson.ReadyAfter > 0 {
		ll.ready = ground.Some(lesson.ReadyAfter)
	}
	l.putLead(k, ll)
}

// MarkLate records at once that target k's floor for the occurrence of
// window at start was not ready at its start: the learned lead is the
// longest allowed until a later occurrence shows its pods in time.
func (l *Learning) MarkLate(k ground.TargetKey, window string, start time.Time) {
	for _, o := range l.leads[k] {
		if o.window == window && o.start.Equal(start) {
			return // known: the report's figure, or already marked
		}
	}
	l.putLead(k, leadLesson{window: window, start: start})
}

func (l *Learning) putLead(k ground.TargetKey, ll leadLesson) {
	if l.leads == nil {
		l.leads = map[ground.TargetKey][]leadLesson{}
	}
	ls := l.leads[k]
	for i := range ls {
		if ls[i].window == ll.window && ls[i].start.Equal(ll.start) {
			ls = append(ls[:i], ls[i+1:]...)
			break
		}
	}
	i := len(ls)
	for i > 0 && ls[i-1].start.After(ll.start) {
		i--
	}
	ls = append(ls, leadLesson{})
	copy(ls[i+1:], ls[i:])
	ls[i] = ll
	if len(ls) > LearnFrom {
		ls = ls[len(ls)-LearnFrom:]
	}
	l.leads[k] = ls
}

// Lead returns the lead of a "leadTime: learned" target: the longest
// time its last occurrences' pods took to be ready, plus LeadMargin,
// within MinLeadTime and LeadTime (its maxLeadTime). With nothing
// learned yet, or while the last floor was not ready in time and its
// figure is not known (MarkLate), it is LeadTime, until a later floor
// shows its pods' time. A target with a fixed leadTime gets it.
func (l *Learning) Lead(t *ground.Target) time.Duration {
	if !t.LeadLearned {
		return t.LeadTime
	}
	ls := l.leads[t.Key()]
	if len(ls) == 0 {
		return t.LeadTime
	}
	if !ls[len(ls)-1].ready.OK {
		return t.LeadTime // the last floor was late, by how much is not known
	}
	need := time.Duration(0)
	for _, o := range ls {
		need = max(need, o.ready.V) // a late floor without a figure no longer pins it
	}
	lead := need + max(time.Duration(float64(need)*LeadMargin), MinLeadMargin)
	lead = lead.Round(time.Second)
	return min(max(lead, t.MinLeadTime), t.LeadTime)
}

// shapedFloor is the floor of a "shape: learned" window inside the
// window, with the load behind it, and false while it is held flat. It
// is held until the group's latest peak is past, the traffic has
// clearly arrived (ArrivedFraction of the expected rise above the usual
// load, or above the load read at the start when it was higher: another
// spot's tail is not this one's traffic; a spot that airs late or not at
// all keeps the whole floor) and the load has been read below its peak
// (PassedFraction of the rise); then it follows the load
// read last with FollowHeadroom. Where the group has shown second waves
// (from the earliest one's peak less the lead, so that pods are ready
// for it, to the window's end) the whole floor is held again: a second
// wave may come later and higher than any seen, and the window's
// expectation covers it. A load read
// SecondWaveRise of the rise above the lowest since the peak is a new
// rise: the whole floor is back at once.
func shapedFloor(t *ground.Target, o Occurrence, e *Effect, expected float64, s Shape, now time.Time, known *Known) (int32, float64, bool) {
	if known.Traffic == nil || !e.Baseline.OK || e.Demand.Kind == ground.DemandReplicas {
		return 0, 0, false
	}
	base := e.Baseline.V
	tr := known.Traffic(o)
	if expected <= base || !tr.Peak.OK || !tr.Latest.OK || now.Before(o.Start.Add(s.PeakAfter)) {
		return 0, 0, false
	}
	rise := tr.Peak.V - base
	arrived := tr.Peak.V >= max(base, tr.AtStart.Or(base))+ArrivedFraction*(expected-base)
	// Passed once the load has been read below the line since the peak:
	// a reading back above it is noise, or a new rise (below).
	lowest := tr.Latest.V
	if tr.SincePeak.OK {
		lowest = min(lowest, tr.SincePeak.V)
	}
	passed := lowest <= tr.Peak.V-PassedFraction*rise
	rising := tr.SincePeak.OK && tr.Latest.V > tr.SincePeak.V+SecondWaveRise*rise
	if !arrived || !passed || rising {
		return 0, 0, false
	}
	if s.SecondWave > 0 && !now.Before(o.Start.Add(s.SecondFrom-e.Lead)) {
		return 0, 0, false
	}
	load := tr.Latest.V * (1 + FollowHeadroom)
	return clampReplicas(ReplicasFor(load, t.CapacityPerReplica), t), load, true
}

// HoldShaped keeps the floor of occurrence j of d, when it follows its
// group's learned shape inside its window, at the highest it was over the
// target's scale-down stabilisation (behavior.scaleDown, 300 s by
// default), raising d's floor and replicas when this cycle's is lower:
// the replicas of the last minutes stay for a second wave bigger or later
// than any the group has shown. Each occurrence is held on its own, so
// another window's lower floor never drops the hold. It holds in scale
// mode (where floors are written as they are), in hpa-floor mode (where
// the HPA's stabilisation holds its metrics' recommendations, not its
// minReplicas) and in metric mode with PacePublished (the HPA has none of
// its own); in metric mode without it the HPA fed by primetime_replicas
// holds them, and holding them here too would hold them twice. Once the
// window is over the floor is no longer held so. recent are the floors
// HoldShaped returned last time for the occurrence; nil when it holds
// nothing.
func HoldShaped(d *Decision, j int, t *ground.Target, recent []Recommendation) []Recommendation {
	e := &d.Schedule.Effects[j]
	if !e.Shaped || e.Phase != PhaseActive || !e.Replicas.OK || (t.Mode == ground.ModeMetric && !t.PacePublished) {
		return nil
	}
	window := t.Behavior.ScaleDownStabilization
	kept := recent[:0:0]
	for _, r := range recent {
		if d.At.Sub(r.At) < window {
			kept = append(kept, r)
		}
	}
	kept = append(kept, Recommendation{At: d.At, Replicas: e.Replicas.V})
	held := e.Replicas.V
	for _, r := range kept {
		held = max(held, r.Replicas)
	}
	if held == e.Replicas.V {
		return kept
	}
	e.Replicas = ground.Some(held)
	e.Load = ground.Some(float64(held) * t.CapacityPerReplica)
	if e.Peak.OK && held >= e.Peak.V {
		e.Following = false // held whole: it does not follow yet
	}
	if f := &d.Schedule; !f.Floor.OK || held > f.Floor.V {
		f.Floor, f.FloorBy, f.Load = e.Replicas, j, e.Load
	}
	if v := clampReplicas(held, t); !d.Desired.OK || v > d.Desired.V {
		d.Desired, d.By = ground.Some(v), PolicyWindow
	}
	return kept
}
