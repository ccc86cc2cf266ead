package scaler

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/semaphore"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/policies"
	"github.com/primetime-dev/primetime/sources"
)

// How the daemon refreshes forecast history: every HistoryRefresh, the
// past seasons from now to HistoryHorizon (plus the target's lead time)
// ahead, at HistoryStep.
const (
	HistoryRefresh = 10 * time.Minute
	HistoryHorizon = time.Hour
	HistoryStep    = time.Minute
)

// HistoryShares is how many turns the daemon spreads one HistoryRefresh
// over: Spread, called every HistoryRefresh/HistoryShares, refreshes one
// share of the targets at a time, so that a source with a rate limit
// (Datadog) never gets the whole history at once.
const HistoryShares = 10

// HistoryCache keeps, for every target with a forecast, the load of its
// past seasons around now, refreshed in the background so that an
// evaluation never waits for a source.
//
// A refresh asks each source once per distinct query and range: the
// targets' ranges (policies.HistoryRanges) are grouped by source kind and
// start, each group fetched up to its latest end, in calls of many queries
// when the source is a sources.BatchHistory (Datadog), one History call
// per query otherwise.
type HistoryCache struct {
	Poller *sources.Poller
	// Horizon is how far ahead of the refresh time the history reaches
	// (HistoryHorizon in the daemon).
	Horizon time.Duration
	Log     *zap.Logger
	// Now is the clock of LoadBefore's retries; time.Now when nil.
	Now func() time.Time

	mu     sync.RWMutex
	series map[ground.TargetKey]ground.Series
	before map[beforeKey]*beforeLoad
	// fetches bounds the LoadBefore fetches in flight.
	fetches *semaphore.Weighted
	// ticks counts the calls of Spread.
	ticks int
}

// beforeKey names a load asked for by LoadBefore.
type beforeKey struct {
	query string // sources.Query.Key: targets sharing a query share the fetch
	at    time.Time
}

// beforeLoad is the answer to one LoadBefore, once fetched.
type beforeLoad struct {
	v       float64
	ok      bool
	pending bool
	asked   time.Time
}

func (h *HistoryCache) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// History implements HistoryReader.
func (h *HistoryCache) History(t *ground.Target) ground.Series {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.series[t.Key()]
}

// Refresh fetches the seasonal history of every target with a forecast.
func (h *HistoryCache) Refresh(ctx context.Context, targets []ground.Target, now time.Time) {
	h.refresh(ctx, targets, now, func(ground.SourceKind, sources.Source, int) (int, func(int) bool) {
		return 1, func(int) bool { return true }
	})
}

// RefreshShare fetches the seasonal history of one share of the targets
// with a forecast: turn of of shares. A target's share is its load query's
// (targets sharing a query share its calls) rank, by a stable hash, among
// the distinct queries of its source kind, cut in of blocks of equal size.
// Targets outside the share keep their history.
func (h *HistoryCache) RefreshShare(ctx context.Context, targets []ground.Target, now time.Time, turn, of int) {
	h.refresh(ctx, targets, now, func(ground.SourceKind, sources.Source, int) (int, func(int) bool) {
		return max(of, 1), func(share int) bool { return share == turn }
	})
}

// Spread refreshes the forecast history a share at a time: the first call
// every target, then each call the shares of its turn (the calls' count
// modulo HistoryShares), so that called every HistoryRefresh/HistoryShares
// it refreshes every target once per HistoryRefresh. A source of
// sources.BatchHistory is cut in as few shares as its calls need (one call
// per season per HistoryBatchSize distinct queries, up to HistoryShares
// shares), spread evenly over the turns; other sources in HistoryShares.
func (h *HistoryCache) Spread(ctx context.Context, targets []ground.Target, now time.Time) {
	h.mu.Lock()
	tick := h.ticks
	h.ticks++
	h.mu.Unlock()
	if tick == 0 {
		h.Refresh(ctx, targets, now)
		return
	}
	turn := tick % HistoryShares
	h.refresh(ctx, targets, now, func(_ ground.SourceKind, src sources.Source, distinct int) (int, func(int) bool) {
		of := min(HistoryShares, max(distinct, 1))
		if b, ok := src.(sources.BatchHistory); ok && b.HistoryBatchSize() > 0 {
			of = min(HistoryShares, max((distinct+b.HistoryBatchSize()-1)/b.HistoryBatchSize(), 1))
		}
		return of, func(share int) bool { return share*HistoryShares/of == turn }
	})
}

// shareChooser returns, for a source kind with distinct forecast queries,
// how many shares to cut them in and which shares to refresh now.
type shareChooser func(kind ground.SourceKind, src sources.Source, distinct int) (of int, pick func(share int) bool)

// historyGroup is the queries whose ranges start at one instant, for one
// source: fetched together up to the latest end.
type historyGroup struct {
	kind    ground.SourceKind
	from    time.Time
	to      time.Time
	queries map[string]sources.Query
}

type historyGroupKey struct {
	kind ground.SourceKind
	from time.Time
}

// historyJob is one target to refresh.
type historyJob struct {
	t      *ground.Target
	q      sources.Query
	ranges []policies.HistoryRange
}

func (h *HistoryCache) refresh(ctx context.Context, targets []ground.Target, now time.Time, choose shareChooser) {
	// The distinct queries of each kind, and their shares.
	byKind := map[ground.SourceKind][]string{}
	seen := map[string]bool{}
	keep := map[ground.TargetKey]bool{}
	for i := range targets {
		t := &targets[i]
		if t.Forecast == nil {
			continue
		}
		keep[t.Key()] = true
		q := sources.Query{Namespace: t.Namespace, Spec: t.Load}
		if _, ok := h.Poller.Registered(q.Kind()); ok && !seen[q.Key()] {
			seen[q.Key()] = true
			byKind[q.Kind()] = append(byKind[q.Kind()], q.Key())
		}
	}
	picked := map[string]bool{}
	for kind, keys := range byKind {
		reg, _ := h.Poller.Registered(kind)
		of, pick := choose(kind, reg.Source, len(keys))
		slices.SortFunc(keys, func(a, b string) int { return cmp.Or(cmp.Compare(stableHash(a), stableHash(b)), cmp.Compare(a, b)) })
		for rank, k := range keys {
			if pick(rank * of / len(keys)) {
				picked[k] = true
			}
		}
	}
	// The ranges of the picked targets, grouped.
	var jobs []historyJob
	groups := map[historyGroupKey]*historyGroup{}
	for i := range targets {
		t := &targets[i]
		q := sources.Query{Namespace: t.Namespace, Spec: t.Load}
		if t.Forecast == nil || !picked[q.Key()] {
			continue
		}
		ranges := policies.HistoryRanges(now, *t.Forecast, h.Horizon+t.LeadTime)
		jobs = append(jobs, historyJob{t: t, q: q, ranges: ranges})
		for _, r := range ranges {
			k := historyGroupKey{kind: q.Kind(), from: r.From}
			g := groups[k]
			if g == nil {
				g = &historyGroup{kind: q.Kind(), from: r.From, to: r.To, queries: map[string]sources.Query{}}
				groups[k] = g
			}
			if r.To.After(g.to) {
				g.to = r.To
			}
			g.queries[q.Key()] = q
		}
	}
	results := h.fetchGroups(ctx, groups)
	h.mu.Lock()
	defer h.mu.Unlock()
	next := make(map[ground.TargetKey]ground.Series, len(keep))
	for k, s := range h.series {
		if keep[k] {
			next[k] = s // not refreshed this time
		}
	}
	for _, j := range jobs {
		s, err := mergeSeasons(j.ranges, func(r policies.HistoryRange) (sources.HistoryResult, bool) {
			res, ok := results[historyGroupKey{kind: j.q.Kind(), from: r.From}][j.q.Key()]
			return res, ok
		})
		if err != nil {
			if h.Log != nil {
				h.Log.Debug("no history for the forecast", zap.String("target", j.t.Key().String()), zap.Error(err))
			}
			continue // keep what we had
		}
		next[j.t.Key()] = s
	}
	h.series = next
	for k, b := range h.before {
		if !b.pending && k.at.Before(now.Add(-2*time.Hour)) {
			delete(h.before, k)
		}
	}
}

// fetchGroups asks each group's source for its queries, in few calls when
// it is a BatchHistory.
func (h *HistoryCache) fetchGroups(ctx context.Context, groups map[historyGroupKey]*historyGroup) map[historyGroupKey]map[string]sources.HistoryResult {
	keys := make([]historyGroupKey, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b historyGroupKey) int { return cmp.Or(cmp.Compare(a.kind, b.kind), a.from.Compare(b.from)) })
	out := make(map[historyGroupKey]map[string]sources.HistoryResult, len(groups))
	for _, k := range keys {
		g := groups[k]
		reg, ok := h.Poller.Registered(g.kind)
		if !ok {
			continue
		}
		qs := make([]sources.Query, 0, len(g.queries))
		for _, q := range g.queries {
			qs = append(qs, q)
		}
		slices.SortFunc(qs, func(a, b sources.Query) int { return cmp.Compare(a.Key(), b.Key()) })
		if b, ok := reg.Source.(sources.BatchHistory); ok {
			out[k] = b.HistoryBatch(ctx, qs, g.from, g.to, HistoryStep)
			continue
		}
		res := make(map[string]sources.HistoryResult, len(qs))
		for _, q := range qs {
			s, err := reg.Source.History(ctx, q, g.from, g.to, HistoryStep)
			res[q.Key()] = sources.HistoryResult{Series: s, Err: err}
			if errors.Is(err, sources.ErrNoHistory) {
				// The source keeps none: ask no further query of it.
				for _, other := range qs {
					res[other.Key()] = sources.HistoryResult{Err: err}
				}
				break
			}
		}
		out[k] = res
	}
	return out
}

// stableHash spreads query keys over the shares the same way in every
// process and every run.
func stableHash(s string) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(s))
	return h.Sum32()
}

// mergeSeasons merges the seasons a forecast needs into one series.
// Seasons the source cannot answer are skipped; ErrNoHistory is returned
// as is, and an error when no season answered.
func mergeSeasons(ranges []policies.HistoryRange, result func(policies.HistoryRange) (sources.HistoryResult, bool)) (ground.Series, error) {
	var out ground.Series
	var errs []error
	for _, r := range ranges {
		res, ok := result(r)
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("season -%d: no answer", r.Season))
			continue
		case errors.Is(res.Err, sources.ErrNoHistory):
			return nil, res.Err
		case res.Err != nil:
			errs = append(errs, fmt.Errorf("season -%d: %w", r.Season, res.Err))
			continue
		}
		out = append(out, res.Series...)
	}
	slices.SortFunc(out, func(a, b ground.Sample) int { return a.T.Compare(b.T) })
	out = slices.CompactFunc(out, func(a, b ground.Sample) bool { return a.T.Equal(b.T) })
	if len(out) == 0 && len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// LoadBefore implements LoadBeforeReader: the last load the source's
// history holds in the 10 minutes up to at. The first call fetches it in
// the background and answers false; a failed fetch is tried again a
// minute later.
func (h *HistoryCache) LoadBefore(ctx context.Context, t *ground.Target, at time.Time) (float64, bool) {
	q := sources.Query{Namespace: t.Namespace, Spec: t.Load}
	k := beforeKey{query: q.Key(), at: at}
	now := h.now()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.before == nil {
		h.before = map[beforeKey]*beforeLoad{}
	}
	b := h.before[k]
	switch {
	case b != nil && b.ok:
		return b.v, true
	case b != nil && (b.pending || now.Sub(b.asked) < time.Minute):
		return 0, false
	}
	reg, ok := h.Poller.Registered(t.Load.Kind())
	if !ok {
		return 0, false
	}
	b = &beforeLoad{pending: true, asked: now}
	h.before[k] = b
	if h.fetches == nil {
		h.fetches = semaphore.NewWeighted(4)
	}
	fetches := h.fetches
	go func() {
		// At most a few such fetches at once: a fleet of targets whose
		// windows all began before a restart asks for many.
		if err := fetches.Acquire(ctx, 1); err != nil {
			h.mu.Lock()
			b.pending = false
			h.mu.Unlock()
			return
		}
		defer fetches.Release(1)
		s, err := reg.Source.History(ctx, q, at.Add(-10*time.Minute), at, HistoryStep)
		v, found := 0.0, false
		for _, p := range s {
			if !p.T.After(at) {
				v, found = p.V, true
			}
		}
		if err != nil && h.Log != nil {
			h.Log.Debug("no history before the floor", zap.String("target", t.Key().String()), zap.Error(err))
		}
		h.mu.Lock()
		b.v, b.ok, b.pending = v, found, false
		h.mu.Unlock()
	}()
	return 0, false
}
