package scaler

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/policies"
	"github.com/primetime-dev/primetime/sources"
)

// ConfigSource gives the entries in force (configwatch.Store does).
type ConfigSource interface {
	Snapshot() *ground.Snapshot
}

// ReplicaReader tells a target's current replicas, when known.
type ReplicaReader interface {
	Current(t *ground.Target) ground.Opt[int32]
}

// Actuator carries decisions out (the hpa-floor and scale modes,
// Events). Desire gets every cycle's decisions, one per target in the
// same order, after the engine has released its lock; it must not wait
// for the API server.
type Actuator interface {
	Desire(targets []ground.Target, decisions []policies.Decision)
}

// HistoryReader gives the load history a target's forecast needs.
type HistoryReader interface {
	History(t *ground.Target) ground.Series
}

// LoadBeforeReader gives the load of a target just before an instant,
// from its source's history, without waiting: false until fetched (the
// first call asks for it). HistoryCache is one.
type LoadBeforeReader interface {
	LoadBefore(ctx context.Context, t *ground.Target, at time.Time) (float64, bool)
}

// Engine evaluates every target every interval: load from the sources'
// cache, forecast, windows and the decision of the core policies. It keeps
// the decisions, publishes them on the Board, updates the metrics, and
// hands them to the Actuator. Only the leader runs an engine.
type Engine struct {
	Interval time.Duration
	// Cluster is --cluster: targets limited to other clusters are skipped.
	Cluster  string
	Config   ConfigSource
	Poller   *sources.Poller
	Replicas ReplicaReader // optional
	History  HistoryReader // optional
	Actuator Actuator      // optional
	Board    *Board
	Metrics  *Metrics
	Sources  *sources.Metrics
	Log      *zap.Logger
	// Reports gets a report of each window occurrence once its floor or
	// cap is released (optional).
	Reports ReportSink

	mu        sync.Mutex
	version   uint64
	configSet bool
	targets   []ground.Target
	queries   []sources.Query
	cal       *policies.Calendar
	maxLead   time.Duration
	// states holds what the engine remembers of each target; stateOf is
	// the same, aligned with targets: evaluation workers each write only
	// the states of their own targets.
	states  map[ground.TargetKey]*targetState
	stateOf []*targetState
	// imported are baselines handed over by a previous leader, by
	// occurrence (occurrenceKey.String), until an occurrence asks for its
	// own; read-only while targets are evaluated.
	imported map[string]Baseline
	// masks are the past occurrences of each window, that forecasts leave
	// out, computed up to masksTo; maskGen counts their computations.
	masks       map[*ground.Window]policies.Mask
	masksTo     time.Time
	maskGen     uint64
	maxLookback time.Duration
	// learning holds the lessons of the window reports, for "expect:
	// learned" windows; written between cycles, under mu.
	learning policies.Learning
	cycles   atomic.Int64
	changes  atomic.Int64
	// reports builds the window reports; reportsMu serialises cycles'
	// use of it.
	reportsMu sync.Mutex
	reports   policies.Reports
}

// targetState is what the engine remembers of one target between cycles.
type targetState struct {
	// last is the last desired replicas; seen once there is one.
	last ground.Opt[int32]
	seen bool
	// calm is the last load seen with no window's floor in force, and
	// calmPeak the highest of the last CalmSpan or so.
	calm, calmPeak sources.Value
	// baselines are the latched baselines of its window occurrences.
	baselines latches
	// masks are the masks of its windows, of the engine's maskGen.
	masks   policies.Masks
	maskGen uint64
}

// Baseline is the load latched for one window occurrence of one target,
// kept across restarts and failovers.
type Baseline struct {
	Load float64   `json:"load"`
	Keep time.Time `json:"keep"` // may be forgotten after this
	// Peak is the highest load measured since the occurrence's start (0:
	// none yet), that tells when its traffic came and passed.
	Peak float64 `json:"peak,omitempty"`
	// Low is the lowest load measured since the window's end, nil before.
	Low *float64 `json:"low,omitempty"`
	// Multiplier is an "expect: learned" occurrence's multiplier, latched
	// with its baseline (0: not a learned window's).
	Multiplier float64 `json:"multiplier,omitempty"`
}

// Changes returns how many times a target's desired replicas changed: a
// leader hands its decisions to the followers at once when it moves, so
// that a follower never serves an older value if the leader dies.
func (e *Engine) Changes() int64 { return e.changes.Load() }

// Cycles returns how many evaluations have completed.
func (e *Engine) Cycles() int64 { return e.cycles.Load() }

// Run evaluates every Interval, and as soon as the poller has stored new
// readings, until ctx ends: a change of load reaches the board one source
// round after it happened, not up to one interval later. after, when not
// nil, runs after each evaluation.
func (e *Engine) Run(ctx context.Context, clock func() time.Time, after func(now time.Time)) {
	t := time.NewTicker(e.Interval)
	defer t.Stop()
	for {
		now := clock()
		e.Cycle(ctx, now)
		if after != nil {
			after(now)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-e.Poller.Updated():
		}
	}
}

// SyncConfig takes the current configuration into use and tells the
// poller which queries to fetch. Call it before starting the pollers, so
// that their first round already fetches; Cycle calls it too.
func (e *Engine) SyncConfig() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.syncConfig()
}

func (e *Engine) syncConfig() {
	snap := e.Config.Snapshot()
	if e.configSet && snap.Version == e.version {
		return
	}
	e.configSet, e.version = true, snap.Version
	e.targets = nil // a new slice: the actuator keeps the last one
	e.queries = nil
	e.maxLead, e.maxLookback = 0, 0
	for _, t := range snap.Targets {
		if !t.InCluster(e.Cluster) {
			continue
		}
		e.targets = append(e.targets, t)
		e.queries = append(e.queries, sources.Query{Namespace: t.Namespace, Spec: t.Load})
		e.maxLead = max(e.maxLead, t.LeadTime)
		if t.Nodes != nil {
			e.maxLead = max(e.maxLead, t.LeadTime+t.Nodes.LeadTime)
		}
		if t.Forecast != nil {
			e.maxLookback = max(e.maxLookback, time.Duration(t.Forecast.Lookback)*t.Forecast.Seasonality)
		}
	}
	e.masks, e.masksTo = nil, time.Time{} // computed again for the new windows
	e.cal = policies.NewCalendar(snap.Windows)
	states := make(map[ground.TargetKey]*targetState, len(e.targets))
	e.stateOf = make([]*targetState, len(e.targets))
	for i := range e.targets {
		k := e.targets[i].Key()
		st := e.states[k]
		if st == nil {
			st = &targetState{}
		}
		states[k], e.stateOf[i] = st, st
	}
	e.states = states // a removed target's state goes
	if e.Poller != nil {
		e.Poller.SetQueries(e.queries)
	}
	if e.Metrics != nil {
		m := e.Metrics.configEntries
		m.WithLabelValues("targets", "valid").Set(float64(snap.ValidTargets))
		m.WithLabelValues("targets", "invalid").Set(float64(snap.InvalidTargets))
		m.WithLabelValues("windows", "valid").Set(float64(snap.ValidWindows))
		m.WithLabelValues("windows", "invalid").Set(float64(snap.InvalidWindows))
	}
}

// Cycle evaluates every target once at now and publishes the decisions.
func (e *Engine) Cycle(ctx context.Context, now time.Time) []policies.Decision {
	start := time.Now()
	targets, decisions := e.decide(ctx, now)
	// The actuator and the window reports only read the decisions: on a
	// large fleet each takes a CPU (a quarter of a cycle at 10,000 targets).
	var wg sync.WaitGroup
	if e.Actuator != nil && ctx.Err() == nil { // a leader that lost the Lease writes nothing more
		wg.Go(func() { e.Actuator.Desire(targets, decisions) })
	}
	if ctx.Err() == nil {
		e.reportsMu.Lock()
		done := e.reports.Observe(targets, decisions)
		e.reportsMu.Unlock()
		if len(done) > 0 {
			e.mu.Lock()
			for i := range done {
				e.learning.Learn(&done[i])
			}
			e.mu.Unlock()
		}
		if e.Reports != nil {
			for _, r := range done {
				e.Reports.Report(r)
			}
		}
	}
	wg.Wait()
	e.cycles.Add(1)
	if e.Metrics != nil {
		e.Metrics.cycle.Observe(time.Since(start).Seconds())
	}
	return decisions
}

// decide evaluates every target at now and publishes the decisions on the
// board; it returns the targets it evaluated with their decisions.
func (e *Engine) decide(ctx context.Context, now time.Time) ([]ground.Target, []policies.Decision) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.syncConfig()
	e.refreshMasks(now)
	agenda := e.cal.Agenda(now, e.maxLead)
	decisions := make([]policies.Decision, len(e.targets))
	published := make([]Published, len(e.targets))
	var samples []targetSample
	if e.Metrics != nil {
		samples = make([]targetSample, len(e.targets))
	}
	evaluate := func(from, to int, inForce map[inForceKey]int) {
		var occBuf []policies.Occurrence
		for i := from; i < to; i++ {
			t, st := &e.targets[i], e.stateOf[i]
			reading := sources.Reading{Status: sources.StatusError, Err: errNoSource}
			if e.Poller != nil {
				reading = e.Poller.Reading(e.queries[i], now)
			}
			var history ground.Series
			forecast := ground.None[float64]()
			if t.Forecast != nil && e.History != nil {
				history = e.History.History(t)
				forecast = policies.ForecastAhead(history, now, t.LeadTime, time.Minute, *t.Forecast, e.masksOf(t, st, now)).Load
			}
			current := ground.None[int32]()
			if e.Replicas != nil {
				current = e.Replicas.Current(t)
			}
			occBuf = agenda.For(t.Key(), occBuf[:0])
			schedule := policies.EvaluateKnown(t, occBuf, now, policies.Known{
				Baseline: e.baselineFor(ctx, t, st, reading, history),
				Traffic:  trafficOf(st, reading),
				Learned:  e.learnedFor(t, st),
			})
			st.rememberCalm(reading, schedule)
			decisions[i] = policies.Decide(policies.Input{
				Target: t, Now: now, Observed: reading.Load(), Forecast: forecast, Current: current, Schedule: schedule,
			})
			d := &decisions[i]
			if t.Nodes != nil {
				d.Reservation = policies.Reserve(t, occBuf, now, policies.Known{
					Baseline: e.peekBaseline(t, st, reading, history),
					Learned:  e.learnedFor(t, st),
				}, current)
			}
			published[i] = publish(t, d, reading, now)
			e.record(t, st, d)
			if samples != nil {
				samples[i] = sampleOf(t, d, reading.Value.At)
				countInForce(inForce, d)
			}
		}
	}
	// Targets are independent: on a large fleet, one worker per CPU each
	// takes a contiguous share.
	workers := min(runtime.GOMAXPROCS(0), len(e.targets)/parallelFrom+1)
	inForce := make([]map[inForceKey]int, workers)
	var wg sync.WaitGroup
	for w := range workers {
		from, to := w*len(e.targets)/workers, (w+1)*len(e.targets)/workers
		inForce[w] = map[inForceKey]int{}
		wg.Go(func() { evaluate(from, to, inForce[w]) })
	}
	wg.Wait()
	e.forgetBaselines(now)
	if e.Board != nil {
		e.Board.Replace(published, now)
	}
	if samples != nil {
		e.Metrics.targets.publish(&cycleSamples{targets: samples, inForce: namedInForce(inForce)})
	}
	return e.targets, decisions
}

// publish turns a decision into what the external metrics API serves. A
// value is published only when it rests on fresh load data or on a
// window's floor; otherwise the API answers with the reason, never a
// made-up value and never 0, and the HPA holds its replicas.
func publish(t *ground.Target, d *policies.Decision, reading sources.Reading, now time.Time) Published {
	p := Published{Namespace: t.Namespace, Name: t.Name, At: now, Floor: d.Schedule.Floor.OK}
	if d.Schedule.Floor.OK {
		f := d.Schedule.Floor.V
		p.FloorReplicas = &f
	}
	if d.Desired.OK && (d.Load.Observed.OK || d.Schedule.Floor.OK) {
		v := d.Desired.V
		p.Replicas = &v
		if d.Load.Effective.OK {
			l := d.Load.Effective.V
			p.Load = &l
		}
		return p
	}
	if !reading.Load().OK && reading.Err != nil {
		p.Error = fmt.Sprintf("load of %s is %s: %v", t.Key(), reading.Status, reading.Err)
	} else {
		p.Error = d.Reason()
	}
	return p
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
		st.baselines = st.baselines.add(latch{key, Baseline{Load: load.V, Keep: keep}})
		return load.V, true
	}
}

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
			if at.Before(o.End.Add(o.Window.Cooldown)) && v > b.Peak {
				b.Peak = v
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
		return tr
	}
}

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

// parallelFrom is the number of targets from which evaluation is shared
// among CPUs.
const parallelFrom = 1000

var errNoSource = errors.New("no source")

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

// record logs changes of desired replicas and counts them.
func (e *Engine) record(t *ground.Target, st *targetState, d *policies.Decision) {
	prev, seen := st.last, st.seen
	st.last, st.seen = d.Desired, true
	changed := !seen || prev != d.Desired
	if changed {
		e.changes.Add(1)
	}
	if changed && e.Log != nil {
		from := "none"
		if seen && prev.OK {
			from = fmt.Sprint(prev.V)
		}
		to := "none"
		if d.Desired.OK {
			to = fmt.Sprint(d.Desired.V)
		}
		e.Log.Info("desired replicas changed",
			zap.String("namespace", t.Namespace), zap.String("target", t.Name),
			zap.String("from", from), zap.String("to", to),
			zap.String("policy", string(d.By)), zap.String("reason", d.Reason()))
		if e.Metrics != nil {
			e.Metrics.changes.WithLabelValues(string(d.By)).Inc()
		}
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
	}
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
