package scaler

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/policies"
	"github.com/primetime-dev/primetime/sources"
)

// Baseline is the load latched for one window occurrence of one target,
// kept across restarts and failovers.
type Baseline struct {
	Load float64   `json:"load"`
	Keep time.Time `json:"keep"` // may be forgotten after this
	// Latched is the load first latched, that the lead's loads may raise
	// Load above by MaxBaselineRise at most (0: Load).
	Latched float64 `json:"latched,omitempty"`
	// Peak is the highest load measured since the occurrence's start (0:
	// none yet), that tells when its traffic came and passed.
	Peak float64 `json:"peak,omitempty"`
	// Low is the lowest load measured since the window's end, nil before.
	Low *float64 `json:"low,omitempty"`
	// Trough is the lowest load measured since Peak, nil before a peak.
	Trough *float64 `json:"trough,omitempty"`
	// Lead is the occurrence's lead, latched when its floor started (0:
	// not yet): a lead learned meanwhile does not move a floor in force.
	Lead time.Duration `json:"lead,omitempty"`
	// Late says the floor was not ready at the start (learning knows it
	// at once; kept so that it is checked once).
	Late bool `json:"late,omitempty"`
	// Shape is a "shape: learned" occurrence's shape, latched with its
	// baseline (nil: not yet; fewer than 3 reports: held flat).
	Shape *policies.Shape `json:"shape,omitempty"`
	// Held are the floors a shaped floor is held at (HoldShaped).
	Held []policies.Recommendation `json:"held,omitempty"`
	// AtStart is the first load measured from the start on (nil before).
	AtStart *float64 `json:"atStart,omitempty"`
	// Multiplier is an "expect: learned" occurrence's multiplier, latched
	// with its baseline (0: not a learned window's).
	Multiplier float64 `json:"multiplier,omitempty"`
}

// baselineFor returns the Baseline of "Nx" windows for target t, latched
// the first time an occurrence needs it and kept until its step-down is
// over (and across failovers): a floor never moves because the forecast
// history slid on or the window's own spike reached the source. The
// baseline is the higher of the forecast at the window's start (when the
// target has history) and the load observed before the floor started (a
// day busier than usual must not start under capacity). That load is
// never one observed after the floor started: a window first seen late
// (created during its lead, or met by a restart without saved state)
// takes the last load seen before the floor, or the source's history
// just before it, or the forecast alone; with none of them the floor
// waits, saying so.
func (e *Engine) baselineFor(ctx context.Context, t *ground.Target, st *targetState, reading sources.Reading, history ground.Series) policies.Baseline {
	return func(o policies.Occurrence, floorStart time.Time) (float64, bool) {
		key := occurrenceKey{file: o.Window.Origin.File, window: o.Window.Name, start: o.Start.Unix()}
		if b := st.baselines.get(key); b != nil {
			raiseBaseline(b, o, reading)
			return b.Load, true
		}
		if len(e.imported) > 0 {
			if b, ok := e.imported[key.String(t.Key())]; ok {
				st.baselines = st.baselines.add(latch{key, b})
				return b.Load, true
			}
		}
		forecast := ground.None[float64]()
		if t.Forecast != nil && len(history) > 0 {
			forecast = policies.ForecastAt(history, o.Start, *t.Forecast, st.masks).Load
		}
		// A value describes the time it was measured at, which for Datadog
		// is a minute before it is read: one interval after the floor
		// started is still before anything it brought.
		before := floorStart.Add(e.Interval)
		observed := ground.None[float64]()
		switch calm := st.calm; {
		case !reading.Value.At.IsZero() && !reading.Value.At.After(before):
			observed = ground.Some(reading.Value.V) // or the last good load, however old
		case !calm.At.IsZero() && !calm.At.After(before) && calm.At.After(floorStart.Add(-time.Hour)):
			observed = ground.Some(calm.V)
		case reading.Status == sources.StatusPending:
			// The source has not answered yet: its first reading comes
			// within a round, and may be from before the floor.
		default:
			if lb, ok := e.History.(LoadBeforeReader); ok {
				if v, ok := lb.LoadBefore(ctx, t, floorStart); ok {
					observed = ground.Some(v)
				}
			}
		}
		if p := st.calmPeak; observed.OK && !p.At.After(before) && !p.At.Before(floorStart.Add(-CalmSpan)) {
			// One reading is the usual load give or take its noise: the
			// highest of the last minutes is the load the floor must carry.
			observed = ground.Some(max(observed.V, p.V))
		}
		load := policies.MaxOpt(forecast, observed)
		if !load.OK {
			return 0, false
		}
		keep := o.End.Add(o.Window.Cooldown + policies.MaxStepDownSpan + time.Hour)
		b := Baseline{Load: load.V, Latched: load.V, Keep: keep}
		if t.LeadLearned {
			b.Lead = e.learning.Lead(t) // the lead this very cycle started the floor with
		}
		st.baselines = st.baselines.add(latch{key, b})
		return load.V, true
	}
}

// raiseBaseline raises a latched baseline to a load measured after the
// floor started but before the window's start, when it is higher but no
// rise (within MaxBaselineRise of the baseline first latched): the multiplier applies to the usual load
// when the spot airs, and the lunch or evening rise may go on during the
// lead. It is never lowered, and never raised by a load measured from
// the start on (the spike itself).
func raiseBaseline(b *Baseline, o policies.Occurrence, reading sources.Reading) {
	if b.Latched == 0 {
		b.Latched = b.Load // a baseline handed over by an older leader
	}
	v := reading.Value
	if reading.Status == sources.StatusOK && v.At.Before(o.Start) && v.V > b.Load && v.V <= b.Latched*(1+MaxBaselineRise) {
		b.Load = v.V
	}
}

// MaxBaselineRise bounds how far the loads read during the lead raise a
// latched baseline, in all: the usual load drifts a few percent in a
// lead, while a spot airing early, or a source's rate window smoothing
// its step, would ratchet it up reading after reading.
const MaxBaselineRise = 0.1

// trafficOf returns what each occurrence's traffic did so far on a
// target: the highest load measured since its start (kept with its
// latched baseline, across failovers) and the load measured last.
func trafficOf(st *targetState, reading sources.Reading) func(o policies.Occurrence) policies.Traffic {
	return func(o policies.Occurrence) policies.Traffic {
		key := occurrenceKey{file: o.Window.Origin.File, window: o.Window.Name, start: o.Start.Unix()}
		b := st.baselines.get(key)
		if b == nil {
			return policies.Traffic{}
		}
		var tr policies.Traffic
		if at := reading.Value.At; reading.Status == sources.StatusOK && !at.Before(o.Start) {
			v := reading.Value.V
			tr.Latest = ground.Some(v)
			if b.AtStart == nil {
				b.AtStart = &v
			}
			if at.Before(o.End.Add(o.Window.Cooldown)) {
				switch {
				case v > b.Peak:
					b.Peak, b.Trough = v, &v
				case b.Trough == nil || v < *b.Trough:
					b.Trough = &v
				}
			}
			if !at.Before(o.End) && (b.Low == nil || v < *b.Low) {
				b.Low = &v
			}
		}
		if b.Peak > 0 {
			tr.Peak = ground.Some(b.Peak)
		}
		if b.Low != nil {
			tr.Lowest = ground.Some(*b.Low)
		}
		if b.Trough != nil {
			tr.SincePeak = ground.Some(*b.Trough)
		}
		if b.AtStart != nil {
			tr.AtStart = ground.Some(*b.AtStart)
		}
		return tr
	}
}

// peekBaseline is the baseline a floor would latch if it started now,
// without latching it: the latched one when there is one, else the higher
// of the forecast at the window's start and the highest calm load of the
// last CalmSpan (placeholders reserve for a floor ahead of its start).
func (e *Engine) peekBaseline(t *ground.Target, st *targetState, reading sources.Reading, history ground.Series) policies.Baseline {
	return func(o policies.Occurrence, _ time.Time) (float64, bool) {
		if b := st.baselines.get(occurrenceKey{file: o.Window.Origin.File, window: o.Window.Name, start: o.Start.Unix()}); b != nil {
			return b.Load, true
		}
		forecast := ground.None[float64]()
		if t.Forecast != nil && len(history) > 0 {
			forecast = policies.ForecastAt(history, o.Start, *t.Forecast, st.masks).Load
		}
		observed := reading.Load()
		if p := st.calmPeak; observed.OK && !p.At.IsZero() && reading.Value.At.Sub(p.At) <= CalmSpan {
			observed = ground.Some(max(observed.V, p.V))
		}
		load := policies.MaxOpt(forecast, observed)
		return load.V, load.OK
	}
}

// rememberCalm keeps the last load seen while no window's floor was in
// force on the target: the baseline of a window first seen after its
// floor started.
func (st *targetState) rememberCalm(reading sources.Reading, s policies.Schedule) {
	if reading.Status != sources.StatusOK {
		return
	}
	for _, eff := range s.Effects {
		if eff.Phase != policies.PhaseQuiet {
			return
		}
	}
	st.calm = reading.Value
	if p := st.calmPeak; p.At.IsZero() || reading.Value.V >= p.V || reading.Value.At.Sub(p.At) > CalmSpan {
		st.calmPeak = reading.Value
	}
}

// CalmSpan is how far back before a floor starts the highest calm load is
// looked for, as its baseline: one reading is the usual load give or take
// its noise (±5% on a busy site), and a floor computed from a low one
// starts under capacity.
const CalmSpan = 5 * time.Minute

// occurrenceKey names one occurrence of one window (of one target's).
type occurrenceKey struct {
	file, window string
	start        int64 // Unix seconds
}

// latches are the latched baselines of one target's window occurrences,
// a handful, searched in order. A map per target cost 14 MB at 10,000
// targets with ten windows each (a Go map of 8 entries grows into a
// table at any write, even of a key it holds).
type latches []latch

// latch is one occurrence's latched baseline.
type latch struct {
	key occurrenceKey
	b   Baseline
}

// get returns the baseline latched for key, to read or update in place;
// nil when there is none.
func (ls latches) get(key occurrenceKey) *Baseline {
	for i := range ls {
		if ls[i].key == key {
			return &ls[i].b
		}
	}
	return nil
}

// add appends l, growing by a quarter rather than append's doubling:
// floors start one after another, and a target latching its tenth
// baseline would otherwise keep room for sixteen.
func (ls latches) add(l latch) latches {
	if len(ls) == cap(ls) {
		grown := make(latches, len(ls), len(ls)+len(ls)/4+1)
		copy(grown, ls)
		ls = grown
	}
	return append(ls, l)
}

// String is the key's form in the handed-over state, for target.
func (k occurrenceKey) String(target ground.TargetKey) string {
	return target.String() + "|" + k.file + "|" + k.window + "|" + time.Unix(k.start, 0).UTC().Format(time.RFC3339)
}

func (e *Engine) forgetBaselines(now time.Time) {
	for k, b := range e.imported {
		if now.After(b.Keep) {
			delete(e.imported, k)
		}
	}
	for _, st := range e.states {
		st.baselines = slices.DeleteFunc(st.baselines, func(l latch) bool { return now.After(l.b.Keep) })
	}
}

// ExportBaselines returns the latched baselines, to hand over to the next
// leader.
func (e *Engine) ExportBaselines() map[string]Baseline {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string]Baseline, len(e.imported))
	for k, v := range e.imported {
		out[k] = v
	}
	for target, st := range e.states {
		for _, l := range st.baselines {
			out[l.key.String(target)] = l.b
		}
	}
	return out
}

// RangeBaselines calls yield with each latched baseline, as
// ExportBaselines returns them, without building the map (10,000 targets
// with ten Nx windows each latch 100,000 baselines, handed over at every
// cycle). The engine is locked until it returns: yield must not call the
// engine. A key handed over and latched again is yielded twice, the
// latched value last.
func (e *Engine) RangeBaselines(yield func(key string, b Baseline) bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for k, v := range e.imported {
		if !yield(k, v) {
			return
		}
	}
	for target, st := range e.states {
		for _, l := range st.baselines {
			if !yield(l.key.String(target), l.b) {
				return
			}
		}
	}
}

// ImportBaselines takes over baselines latched by a previous leader.
func (e *Engine) ImportBaselines(b map[string]Baseline) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.imported == nil {
		e.imported = map[string]Baseline{}
	}
	for k, v := range b {
		if _, ok := e.imported[k]; !ok {
			e.imported[k] = v
		}
		if v.Late {
			// The previous leader found that floor late: the learned
			// lead stays the longest here too until a floor in time.
			if target, window, start, ok := parseOccurrenceKey(k); ok {
				e.learning.MarkLate(target, window, start)
			}
		}
	}
}

// parseOccurrenceKey reads the target, window and start of a key written
// by occurrenceKey.String ("ns/name|file|window|start").
func parseOccurrenceKey(k string) (ground.TargetKey, string, time.Time, bool) {
	target, rest, ok := strings.Cut(k, "|")
	i := strings.LastIndex(rest, "|")
	key, ok2 := ground.ParseTargetKey(target)
	if !ok || !ok2 || i < 0 {
		return ground.TargetKey{}, "", time.Time{}, false
	}
	start, err := time.Parse(time.RFC3339, rest[i+1:])
	_, window, ok3 := strings.Cut(rest[:i], "|")
	if err != nil || !ok3 {
		return ground.TargetKey{}, "", time.Time{}, false
	}
	return key, window, start, true
}
