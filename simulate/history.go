package simulate

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/policies"
	"github.com/primetime-dev/primetime/scaler"
	"github.com/primetime-dev/primetime/sources"
)

// History is a replay of targets' past windows over their load history
// (primetime report): the engine decides at every Step as serve would
// have, from the load the source recorded, and writes the window reports
// serve would have written.
type History struct {
	Targets []ground.Target
	Windows []ground.Window
	// From and To bound the starts of the occurrences to report on.
	From, To time.Time
	// Step is the replay's clock step and the history's resolution.
	Step time.Duration
	// Now is the end of the history: an occurrence not over by then has no
	// report yet.
	Now time.Time
	// Cluster is the daemon's --cluster whose decisions are replayed;
	// empty: each target as one of the clusters it names would.
	Cluster string
	// SourceOf returns the source of a target's load history, or why there
	// is none.
	SourceOf func(t *ground.Target) (sources.Source, error)
}

// HistoryResult is what a replay of the history found.
type HistoryResult struct {
	// Reports are the window reports of the occurrences, by start, then
	// target, then window.
	Reports []policies.WindowReport
	// Notes are lines for a person: a target with no history, an
	// occurrence without a report and why, in the order met.
	Notes []string
	// Problems counts the targets whose history could not be read.
	Problems int
}

// HistoryWarmUp is how long before the first floor of a span the replay
// starts: the load observed before a floor is its "Nx" baseline.
const HistoryWarmUp = time.Hour

// timeLayout is how the notes write an instant.
const timeLayout = "2006-01-02 15:04 MST"

// ReplayHistory replays each target's spans (an hour before each of its
// occurrences starting in [From, To) until its step-down is surely over,
// overlapping ones merged) in order through one engine per target, so
// that what one occurrence's report taught ("expect: learned") is known to
// the next, as in the daemon.
func ReplayHistory(ctx context.Context, h History) HistoryResult {
	var res HistoryResult
	cal := policies.NewCalendar(h.Windows)
	occurrences := 0
	for i := range h.Targets {
		t := &h.Targets[i]
		spans := historySpans(t, cal, h.From, h.To)
		if len(spans) == 0 {
			continue
		}
		occurrences += len(spans)
		src, err := h.SourceOf(t)
		if err != nil {
			res.Notes = append(res.Notes, fmt.Sprintf("%s: %v", t.Key(), err))
			res.Problems++
			continue
		}
		r := newReplay(t, h.Windows, h.Step, h.Cluster)
		for _, sp := range spans {
			got, err := r.span(ctx, src, sp, h.Now)
			if err != nil {
				res.Notes = append(res.Notes, fmt.Sprintf("%s: %v", t.Key(), err))
				res.Problems++
				break
			}
			res.Reports = append(res.Reports, got...)
			for _, occ := range sp.occurrences {
				if slices.ContainsFunc(got, func(r policies.WindowReport) bool { return sameOccurrence(r, occ) }) {
					continue
				}
				loc := cmp.Or(occ.Window.Location, time.UTC)
				if sp.to.After(h.Now) {
					res.Notes = append(res.Notes, fmt.Sprintf("%s: %s on %s: not over by %s, no report yet", t.Key(), occ.Window.Name,
						occ.Start.In(loc).Format(timeLayout), h.Now.In(loc).Format(timeLayout)))
				} else {
					res.Notes = append(res.Notes, fmt.Sprintf("%s: %s on %s: never in force on this target in the replay, no report", t.Key(), occ.Window.Name,
						occ.Start.In(loc).Format(timeLayout)))
				}
			}
		}
	}
	if occurrences == 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("no window of the targets starts between %s and %s", h.From.UTC().Format(timeLayout), h.To.UTC().Format(timeLayout)))
	}
	slices.SortStableFunc(res.Reports, func(a, b policies.WindowReport) int {
		return cmp.Or(a.Start.Compare(b.Start), cmp.Compare(a.Target.String(), b.Target.String()), cmp.Compare(a.Window, b.Window))
	})
	return res
}

// historySpan is a stretch of one target's time to replay, and the
// occurrences starting in [From, To) whose reports it gives.
type historySpan struct {
	from, to    time.Time
	occurrences []policies.Occurrence
}

// historySpans returns, for target t, the spans to replay: each occurrence
// of its windows that starts in [from, to), from an hour before its floor
// (or cap) until its step-down is surely over, overlapping ones merged.
func historySpans(t *ground.Target, cal *policies.Calendar, from, to time.Time) []historySpan {
	var spans []historySpan
	for _, w := range cal.Matching(t.Key()) {
		for _, o := range policies.Occurrences(w, from, to) {
			start := o.Start
			if !w.Quiet {
				start = start.Add(-t.LeadTime)
			}
			spans = append(spans, historySpan{from: start.Add(-HistoryWarmUp), to: o.End.Add(w.Cooldown + policies.MaxStepDownSpan + time.Minute),
				occurrences: []policies.Occurrence{o}})
		}
	}
	slices.SortFunc(spans, func(a, b historySpan) int { return a.from.Compare(b.from) })
	var merged []historySpan
	for _, s := range spans {
		if n := len(merged); n > 0 && !s.from.After(merged[n-1].to) {
			last := &merged[n-1]
			if s.to.After(last.to) {
				last.to = s.to
			}
			last.occurrences = append(last.occurrences, s.occurrences...)
			continue
		}
		merged = append(merged, s)
	}
	return merged
}

func sameOccurrence(r policies.WindowReport, o policies.Occurrence) bool {
	return r.Window == o.Window.Name && r.Origin.File == o.Window.Origin.File && r.Start.Equal(o.Start)
}

// replay is one target's engine on a simulated clock, fed by its load
// history.
type replay struct {
	t           *ground.Target
	step        time.Duration
	src         *traceSource
	poller      *sources.Poller
	history     *scaler.HistoryCache
	engine      *scaler.Engine
	reports     reportList
	clock       time.Time
	nextHistory time.Time
}

func newReplay(t *ground.Target, windows []ground.Window, step time.Duration, cluster string) *replay {
	r := &replay{t: t, step: step, src: &traceSource{kind: t.Load.Kind(), points: true}, poller: sources.NewPoller(sources.NewCache())}
	_, maxAge := sources.DefaultTiming(r.src.kind, step)
	r.poller.Register(sources.Registration{Source: r.src, Interval: step, MaxAge: maxAge})
	r.history = &scaler.HistoryCache{Poller: r.poller, Horizon: scaler.HistoryHorizon, Log: zap.NewNop(), Now: func() time.Time { return r.clock }}
	snap := &ground.Snapshot{Version: 1, Targets: []ground.Target{*t}, Windows: windows, ValidTargets: 1, ValidWindows: len(windows)}
	r.engine = &scaler.Engine{Interval: step, Config: staticConfig{snap}, Poller: r.poller, History: r.history, Reports: &r.reports}
	switch {
	case cluster != "":
		r.engine.Cluster = cluster
	case len(t.Clusters) > 0:
		r.engine.Cluster = t.Clusters[0] // a report speaks of every target, whichever daemon acts on it
	}
	r.engine.SyncConfig()
	return r
}

// span fetches the load history of span sp (up to now) from src, replays
// it as serve would have decided, and returns the reports of the span's
// occurrences.
func (r *replay) span(ctx context.Context, src sources.Source, sp historySpan, now time.Time) ([]policies.WindowReport, error) {
	t, step := r.t, r.step
	from, to := sp.from.Truncate(step), sp.to
	if to.After(now) {
		to = now
	}
	if !from.Before(to) {
		return nil, nil
	}
	q := sources.Query{Namespace: t.Namespace, Spec: t.Load}
	series, err := sources.FetchHistory(ctx, src, q, from, to, step)
	if err != nil {
		return nil, err
	}
	if len(series) == 0 {
		return nil, fmt.Errorf("no load history from %s to %s: the query returned no data", from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339))
	}
	if t.Forecast != nil {
		// The past seasons the forecast reads, shifted by whole seasons.
		for k := 1; k <= t.Forecast.Lookback; k++ {
			shift := time.Duration(k) * t.Forecast.Seasonality
			s, err := sources.FetchHistory(ctx, src, q, from.Add(-shift-policies.SampleTolerance), to.Add(-shift+scaler.HistoryHorizon+t.LeadTime+policies.SampleTolerance), step)
			if err != nil {
				return nil, fmt.Errorf("forecast season -%d: %w", k, err)
			}
			series = append(series, s...)
		}
	}
	r.src.add(series)
	first := len(r.reports)
	for r.clock = from; !r.clock.After(to); r.clock = r.clock.Add(step) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		r.src.setNow(r.clock)
		if t.Forecast != nil && !r.clock.Before(r.nextHistory) {
			r.nextHistory = r.clock.Add(scaler.HistoryRefresh)
			r.history.Refresh(ctx, []ground.Target{*t}, r.clock)
		}
		r.poller.Refresh(ctx, r.src.kind, r.clock)
		r.engine.Cycle(ctx, r.clock)
	}
	var out []policies.WindowReport
	for _, rep := range r.reports[first:] {
		if slices.ContainsFunc(sp.occurrences, func(o policies.Occurrence) bool { return sameOccurrence(rep, o) }) {
			out = append(out, rep)
		}
	}
	return out, nil
}
