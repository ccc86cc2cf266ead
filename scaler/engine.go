package scaler

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/primetime-dev/primetime/policies"
	"github.com/primetime-dev/primetime/policies/config"
	"github.com/primetime-dev/primetime/scaler/configwatch"
	"github.com/primetime-dev/primetime/sources"
)

// ConfigSource gives the entries in force (configwatch.Store does).
type ConfigSource interface {
	Snapshot() *configwatch.Snapshot
}

// ReplicaReader tells a target's current replicas, when known.
type ReplicaReader interface {
	Current(t *config.Target) policies.Opt[int32]
}

// Actuator acts on a decision (the hpa-floor and scale modes, Events).
type Actuator interface {
	Act(ctx context.Context, t *config.Target, d *policies.Decision)
}

// HistoryReader gives the load history a target's forecast needs.
type HistoryReader interface {
	History(t *config.Target) policies.Series
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

	mu        sync.Mutex
	version   uint64
	configSet bool
	targets   []config.Target
	queries   []sources.Query
	cal       *policies.Calendar
	maxLead   time.Duration
	baselines map[string]Baseline
	last      map[config.TargetKey]policies.Decision
	occBuf    []policies.Occurrence
	cycles    atomic.Int64
	changes   atomic.Int64
}

// Baseline is the load latched for one window occurrence of one target,
// kept across restarts and failovers.
type Baseline struct {
	Load float64   `json:"load"`
	Keep time.Time `json:"keep"` // may be forgotten after this
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
	e.targets = e.targets[:0]
	e.queries = e.queries[:0]
	e.maxLead = 0
	for _, t := range snap.Targets {
		if !t.InCluster(e.Cluster) {
			continue
		}
		e.targets = append(e.targets, t)
		e.queries = append(e.queries, sources.Query{Namespace: t.Namespace, Spec: t.Load})
		e.maxLead = max(e.maxLead, t.LeadTime)
	}
	e.cal = policies.NewCalendar(snap.Windows)
	if e.Poller != nil {
		e.Poller.SetQueries(e.queries)
	}
	if e.Metrics != nil {
		// Targets and windows may have gone: start their series afresh.
		e.Metrics.load.Reset()
		e.Metrics.replicas.Reset()
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
	e.mu.Lock()
	defer e.mu.Unlock()
	e.syncConfig()
	if e.baselines == nil {
		e.baselines = map[string]Baseline{}
	}
	if e.last == nil {
		e.last = map[config.TargetKey]policies.Decision{}
	}
	agenda := e.cal.Agenda(now, e.maxLead)
	decisions := make([]policies.Decision, len(e.targets))
	published := make([]Published, len(e.targets))
	if e.Metrics != nil {
		e.Metrics.windowActive.Reset()
	}
	for i := range e.targets {
		t := &e.targets[i]
		reading := sources.Reading{Status: sources.StatusError, Err: fmt.Errorf("no source")}
		if e.Poller != nil {
			reading = e.Poller.Reading(e.queries[i], now)
		}
		var history policies.Series
		forecast := policies.None[float64]()
		if t.Forecast != nil && e.History != nil {
			history = e.History.History(t)
			forecast = policies.ForecastAhead(history, now, t.LeadTime, time.Minute, *t.Forecast).Load
		}
		current := policies.None[int32]()
		if e.Replicas != nil {
			current = e.Replicas.Current(t)
		}
		e.occBuf = agenda.For(t.Key(), e.occBuf[:0])
		schedule := policies.Evaluate(t, e.occBuf, now, e.baselineFor(t, reading, history))
		d := policies.Decide(policies.Input{
			Target: t, Now: now, Observed: reading.Load(), Forecast: forecast, Current: current, Schedule: schedule,
		})
		decisions[i] = d
		published[i] = publish(t, &d, reading, now)
		e.record(t, &d, reading, now)
		if e.Actuator != nil {
			e.Actuator.Act(ctx, t, &decisions[i])
		}
	}
	e.forgetBaselines(now)
	if e.Board != nil {
		e.Board.Replace(published, now)
	}
	e.cycles.Add(1)
	if e.Metrics != nil {
		e.Metrics.cycle.Observe(time.Since(start).Seconds())
	}
	return decisions
}

// publish turns a decision into what the external metrics API serves. A
// value is published only when it rests on fresh load data or on a
// window's floor; otherwise the API answers with the reason, never a
// made-up value and never 0, and the HPA holds its replicas.
func publish(t *config.Target, d *policies.Decision, reading sources.Reading, now time.Time) Published {
	p := Published{Namespace: t.Namespace, Name: t.Name, At: now, Floor: d.Schedule.Floor.OK}
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
// target has history) and the load observed before the window started (a
// day busier than usual must not start under capacity); during a source
// outage, the last good load.
func (e *Engine) baselineFor(t *config.Target, reading sources.Reading, history policies.Series) policies.Baseline {
	return func(o policies.Occurrence, floorStart time.Time) (float64, bool) {
		key := baselineKey(t, o)
		if b, ok := e.baselines[key]; ok {
			return b.Load, true
		}
		forecast := policies.None[float64]()
		if t.Forecast != nil && len(history) > 0 {
			forecast = policies.ForecastAt(history, o.Start, *t.Forecast).Load
		}
		observed := policies.None[float64]()
		switch {
		case forecast.OK && !reading.Value.At.Before(o.Start):
			// The reading may hold the window's own spike: the forecast
			// alone is the baseline.
		case reading.Status == sources.StatusOK, !reading.Value.At.IsZero():
			observed = policies.Some(reading.Value.V) // or the last good load, however old
		}
		load := policies.MaxOpt(forecast, observed)
		if !load.OK {
			return 0, false
		}
		keep := o.End.Add(o.Window.Cooldown + policies.MaxStepDownSpan + time.Hour)
		e.baselines[key] = Baseline{Load: load.V, Keep: keep}
		return load.V, true
	}
}

func baselineKey(t *config.Target, o policies.Occurrence) string {
	return t.Namespace + "/" + t.Name + "|" + o.Window.Origin.File + "|" + o.Window.Name + "|" + o.Start.UTC().Format(time.RFC3339)
}

func (e *Engine) forgetBaselines(now time.Time) {
	for k, b := range e.baselines {
		if now.After(b.Keep) {
			delete(e.baselines, k)
		}
	}
}

// record logs changes of desired replicas and updates the metrics.
func (e *Engine) record(t *config.Target, d *policies.Decision, reading sources.Reading, now time.Time) {
	key := t.Key()
	prev, seen := e.last[key]
	e.last[key] = *d
	changed := !seen || prev.Desired != d.Desired
	if changed {
		e.changes.Add(1)
	}
	if changed && e.Log != nil {
		from := "none"
		if seen && prev.Desired.OK {
			from = fmt.Sprint(prev.Desired.V)
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
	if e.Sources != nil {
		if reading.Value.At.IsZero() {
			e.Sources.DeleteDataAge(t.Load.Kind(), t.Namespace, t.Name)
		} else {
			e.Sources.SetDataAge(t.Load.Kind(), t.Namespace, t.Name, now.Sub(reading.Value.At))
		}
	}
	m := e.Metrics
	if m == nil {
		return
	}
	setOpt := func(v *targetGauge, kind string, o policies.Opt[float64]) {
		if o.OK {
			v.set(t.Namespace, t.Name, kind, o.V)
		} else {
			v.del(t.Namespace, t.Name, kind)
		}
	}
	load, replicas := &targetGauge{m.load}, &targetGauge{m.replicas}
	setOpt(load, "observed", d.Load.Observed)
	setOpt(load, "forecast", d.Load.Forecast)
	setOpt(load, "scheduled", d.Load.Scheduled)
	setOpt(load, "effective", d.Load.Effective)
	setOpt(replicas, "current", toFloat(d.Current))
	setOpt(replicas, "desired", toFloat(d.Desired))
	setOpt(replicas, "floor", toFloat(d.Schedule.Floor))
	setOpt(replicas, "cap", toFloat(d.Schedule.Cap))
	for _, eff := range d.Schedule.Effects {
		w := eff.Occurrence.Window
		cm, _, _ := strings.Cut(w.Origin.File, "[")
		m.windowActive.WithLabelValues(t.Namespace, cm, w.Name, t.Name, string(eff.Phase)).Set(1)
	}
}

func toFloat(o policies.Opt[int32]) policies.Opt[float64] {
	return policies.Opt[float64]{V: float64(o.V), OK: o.OK}
}

// ExportBaselines returns the latched baselines, to hand over to the next
// leader.
func (e *Engine) ExportBaselines() map[string]Baseline {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string]Baseline, len(e.baselines))
	for k, v := range e.baselines {
		out[k] = v
	}
	return out
}

// ImportBaselines takes over baselines latched by a previous leader.
func (e *Engine) ImportBaselines(b map[string]Baseline) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.baselines == nil {
		e.baselines = map[string]Baseline{}
	}
	for k, v := range b {
		if _, ok := e.baselines[k]; !ok {
			e.baselines[k] = v
		}
	}
}
