package scaler

import (
	"math"
	"slices"
	"time"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/policies"
)

// learnedFor returns the multipliers of target t's "expect: learned"
// occurrences: the one learned when the occurrence's baseline was latched
// (or "initially" if none was yet), kept with it, so that a report
// released while the floor is in force (its own, or another window's of
// the group) does not move it.
func (e *Engine) learnedFor(t *ground.Target, st *targetState) func(o policies.Occurrence) (float64, bool) {
	return func(o policies.Occurrence) (float64, bool) {
		key := occurrenceKey{file: o.Window.Origin.File, window: o.Window.Name, start: o.Start.Unix()}
		b := st.baselines.get(key)
		if b != nil && b.Multiplier > 0 {
			return b.Multiplier, true
		}
		m := o.Window.Demand.Value // initially
		if l, ok := e.learning.Multiplier(o.Window, t); ok {
			m = l.Multiplier
		}
		if b != nil {
			b.Multiplier = m
		}
		return m, true
	}
}

// shapeFor returns the shapes learned for target t's "shape: learned"
// occurrences: the one learned when the occurrence's baseline was latched
// (or none, and the floor is flat), kept with it, so that a report
// released while the floor is in force does not reshape it.
func (e *Engine) shapeFor(t *ground.Target, st *targetState) func(o policies.Occurrence) (policies.Shape, bool) {
	return func(o policies.Occurrence) (policies.Shape, bool) {
		if !o.Window.ShapeLearned {
			return policies.Shape{}, false
		}
		b := st.baselines.get(occurrenceKey{file: o.Window.Origin.File, window: o.Window.Name, start: o.Start.Unix()})
		if b != nil && b.Shape != nil {
			return *b.Shape, b.Shape.Reports >= policies.MinShapeReports
		}
		s, ok := e.learning.Shape(o.Window, t)
		if b != nil {
			b.Shape = &s // Reports 0: latched flat
		}
		return s, ok
	}
}

// leadFor returns the leads of target t's occurrences: for "leadTime:
// learned", the lead learned when the occurrence's floor started, kept
// with it; else the target's.
func (e *Engine) leadFor(t *ground.Target, st *targetState) func(o policies.Occurrence) time.Duration {
	return func(o policies.Occurrence) time.Duration {
		if !t.LeadLearned {
			return t.LeadTime
		}
		b := st.baselines.get(occurrenceKey{file: o.Window.Origin.File, window: o.Window.Name, start: o.Start.Unix()})
		if b != nil && b.Lead > 0 {
			return b.Lead
		}
		lead := e.learning.Lead(t)
		if b != nil {
			b.Lead = lead
		}
		return lead
	}
}

// holdShaped holds each floor of d that follows its learned shape at
// its highest of the last minutes (policies.HoldShaped), with what it
// held kept in the occurrence's latch: handed over with it.
func (e *Engine) holdShaped(t *ground.Target, st *targetState, d *policies.Decision) {
	for j := range d.Schedule.Effects {
		o := d.Schedule.Effects[j].Occurrence
		if !d.Schedule.Effects[j].Shaped {
			continue
		}
		if b := st.baselines.get(occurrenceKey{file: o.Window.Origin.File, window: o.Window.Name, start: o.Start.Unix()}); b != nil {
			b.Held = policies.HoldShaped(d, j, t, b.Held)
		}
	}
}

// checkLate notes, at the first cycles of an occurrence's window, a
// floor whose replicas are not ready (a PrescaleLate): the target's
// learned lead widens at once. It returns the occurrence to mark, once.
func checkLate(t *ground.Target, st *targetState, d *policies.Decision) (policies.Occurrence, bool) {
	e, ok := d.Schedule.FloorWindow()
	if !ok || !t.LeadLearned || e.Phase != policies.PhaseActive || !d.Ready.OK || d.Ready.V >= e.Replicas.V || d.At.Sub(e.Occurrence.Start) > LateCheckSpan {
		return policies.Occurrence{}, false
	}
	o := e.Occurrence
	b := st.baselines.get(occurrenceKey{file: o.Window.Origin.File, window: o.Window.Name, start: o.Start.Unix()})
	if b == nil || b.Late {
		return policies.Occurrence{}, false
	}
	b.Late = true
	return o, true
}

// LateCheckSpan is how long after a window's start a floor not ready
// still counts as late (a floor met later by a takeover is not).
const LateCheckSpan = time.Minute

// Lead returns the lead target t's coming floors start with: the learned
// one for "leadTime: learned", else its leadTime.
func (e *Engine) Lead(t *ground.Target) time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.learning.Lead(t)
}

// Learned returns the multiplier learned for window w on target t, with
// the lessons it comes from; false while there is none.
func (e *Engine) Learned(w *ground.Window, t *ground.Target) (policies.Learned, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	l, ok := e.learning.Multiplier(w, t)
	if ok {
		l.From = slices.Clone(l.From)
	}
	return l, ok
}

// refreshMasks computes, about once an hour, the spans of every window's
// occurrences that forecasts may look back to.
func (e *Engine) refreshMasks(now time.Time) {
	if e.maxLookback == 0 || (e.masks != nil && now.Add(e.maxLead+policies.SampleTolerance).Before(e.masksTo)) {
		return
	}
	from := now.Add(-e.maxLookback - policies.SampleTolerance - time.Hour)
	e.masksTo = now.Add(e.maxLead + policies.SampleTolerance + time.Hour)
	e.masks = map[*ground.Window]policies.Mask{}
	for _, w := range e.cal.Windows() {
		if m := policies.WindowMask(w, from, e.masksTo); len(m) > 0 {
			e.masks[w] = m
		}
	}
	e.maskGen++
}

// masksOf returns the masks of target t's windows.
//
// Only the spans the target's forecast can ask about until the masks are
// next computed (about an hour) are kept: the instants at now + [0,
// leadTime] one to lookback seasons back, an hour's slack on each side.
// A daily spot at another time of day then costs the target nothing, in
// memory or at each cycle (10,000 targets under 50 windows ask 18
// instants each a cycle).
func (e *Engine) masksOf(t *ground.Target, st *targetState, now time.Time) policies.Masks {
	if st.maskGen == e.maskGen {
		return st.masks
	}
	st.masks, st.maskGen = nil, e.maskGen
	spec := t.Forecast
	if spec == nil {
		return nil
	}
	var ranges []policies.Span
	for k := 1; k <= spec.Lookback; k++ {
		back := now.Add(-time.Duration(k) * spec.Seasonality)
		ranges = append(ranges, policies.Span{From: back.Add(-time.Hour - policies.SampleTolerance), To: back.Add(t.LeadTime + time.Hour + policies.SampleTolerance)})
	}
	for _, w := range e.cal.Matching(t.Key()) {
		m, ok := e.masks[w]
		if !ok {
			continue
		}
		var kept policies.Mask
		for _, span := range m {
			for _, r := range ranges {
				if span.From.Before(r.To) && r.From.Before(span.To) {
					kept = append(kept, span)
					break
				}
			}
		}
		if len(kept) > 0 {
			st.masks = append(st.masks, kept)
		}
	}
	return st.masks
}

// ExportLessons returns what the window reports taught, by learning group
// and target (policies.LearningKey's String), to hand over to the next
// leader: a failover must not make "expect: learned" windows forget.
func (e *Engine) ExportLessons() map[string][]policies.Lesson {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string][]policies.Lesson, e.learning.Len())
	e.learning.Range(func(k policies.LearningKey, ls []policies.Lesson) bool {
		out[k.String()] = slices.Clone(ls)
		return true
	})
	return out
}

// ImportLessons takes over the lessons handed over by a previous leader;
// a key that does not parse is skipped.
func (e *Engine) ImportLessons(lessons map[string][]policies.Lesson) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for k, ls := range lessons {
		key, ok := policies.ParseLearningKey(k)
		if !ok {
			continue
		}
		for _, l := range ls {
			if l.Ratio > 0 && !math.IsInf(l.Ratio, 0) { // NaN fails the first test
				e.learning.Add(key, l)
			}
		}
	}
}
