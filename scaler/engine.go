package scaler

import (
	"context"
	"errors"
	"fmt"
	"runtime"
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

// ReadyReader is a ReplicaReader that also tells a target's ready
// replicas, without waiting: the reports learn from it how long pods
// take ("leadTime: learned").
type ReadyReader interface {
	ReadyReplicas(t *ground.Target) ground.Opt[int32]
}

// WorkloadWatcher is a ReadyReader that starts caching a target's
// workload ahead of need: the engine asks it for every target when the
// configuration changes, so that ready replicas are known at a floor's
// first cycle, though they are read only under floors.
type WorkloadWatcher interface {
	Watch(t *ground.Target)
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
	// recent are the recommendations a PacePublished target's
	// primetime_replicas is paced by.
	recent []policies.Recommendation
	// late are the occurrences found late this cycle (checkLate), that
	// learning marks once the workers are done.
	late []policies.Occurrence
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
	if w, ok := e.Replicas.(WorkloadWatcher); ok {
		for i := range e.targets {
			w.Watch(&e.targets[i])
		}
	}
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
			current, ready := ground.None[int32](), ground.None[int32]()
			if e.Replicas != nil {
				current = e.Replicas.Current(t)
			}
			occBuf = agenda.For(t.Key(), occBuf[:0])
			schedule := policies.EvaluateKnown(t, occBuf, now, policies.Known{
				Baseline: e.baselineFor(ctx, t, st, reading, history),
				Traffic:  trafficOf(st, reading),
				Learned:  e.learnedFor(t, st),
				Shape:    e.shapeFor(t, st),
				LeadTime: e.leadFor(t, st),
			})
			st.rememberCalm(reading, schedule)
			if r, ok := e.Replicas.(ReadyReader); ok && floorInForce(schedule) {
				// Only floors are checked for readiness (reports, PrescaleLate).
				ready = r.ReadyReplicas(t)
			}
			decisions[i] = policies.Decide(policies.Input{
				Target: t, Now: now, Observed: reading.Load(), Forecast: forecast, Current: current, Ready: ready, Schedule: schedule,
			})
			d := &decisions[i]
			e.holdShaped(t, st, d)
			if o, ok := checkLate(t, st, d); ok {
				st.late = append(st.late, o)
			}
			if t.Nodes != nil {
				d.Reservation = policies.Reserve(t, occBuf, now, policies.Known{
					Baseline: e.peekBaseline(t, st, reading, history),
					Learned:  e.learnedFor(t, st),
					LeadTime: e.leadFor(t, st),
				}, current)
			}
			published[i] = publish(t, d, reading, now)
			if t.PacePublished && published[i].Replicas != nil {
				v, recent := policies.Stabilize(d, t.Behavior.ScaleDownStabilization, st.recent)
				st.recent = recent
				if v.OK {
					published[i].Replicas = &v.V
				}
			}
			e.record(t, st, d)
			if samples != nil {
				samples[i] = sampleOf(t, d, reading)
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
	for i, st := range e.stateOf {
		for _, o := range st.late {
			e.learning.MarkLate(e.targets[i].Key(), o.Window.Name, o.Start)
		}
		st.late = st.late[:0]
	}
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

// parallelFrom is the number of targets from which evaluation is shared
// among CPUs.
const parallelFrom = 1000

var errNoSource = errors.New("no source")

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

// floorInForce says whether an occurrence in force puts a floor on the
// target: the only time its ready replicas are read.
func floorInForce(s policies.Schedule) bool {
	for _, eff := range s.Effects {
		if eff.Replicas.OK {
			return true
		}
	}
	return false
}
