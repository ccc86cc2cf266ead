package scaler

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/policies"
	"github.com/primetime-dev/primetime/sources"
)

// noHistory is a Source that keeps no history.
type noHistory struct{}

func (noHistory) Kind() ground.SourceKind { return ground.SourcePrometheus }
func (noHistory) Fetch(context.Context, []sources.Query, time.Time) map[string]sources.Result {
	return nil
}
func (noHistory) History(context.Context, sources.Query, time.Time, time.Time, time.Duration) (ground.Series, error) {
	return nil, sources.ErrNoHistory
}

// weekly answers History with one point a minute whose value is 1000 on
// Wednesdays at 20:xx and 100 otherwise; its second call fails.
type weekly struct {
	noHistory
	ranges [][2]time.Time
}

func (w *weekly) History(_ context.Context, _ sources.Query, from, to time.Time, step time.Duration) (ground.Series, error) {
	w.ranges = append(w.ranges, [2]time.Time{from, to})
	if len(w.ranges) == 2 {
		return nil, errors.New("timeout")
	}
	var s ground.Series
	for t := from.Truncate(step); !t.After(to); t = t.Add(step) {
		v := 100.0
		if t.Weekday() == time.Wednesday && t.Hour() == 20 {
			v = 1000
		}
		s = append(s, ground.Sample{T: t, V: v})
	}
	return s, nil
}

func historyCache(src sources.Source, horizon time.Duration) *HistoryCache {
	p := sources.NewPoller(sources.NewCache())
	p.Register(sources.Registration{Source: src, Interval: time.Minute, MaxAge: time.Minute})
	return &HistoryCache{Poller: p, Horizon: horizon}
}

func forecastTarget(name, query string, lead time.Duration, spec ground.ForecastSpec) ground.Target {
	return ground.Target{Name: name, Namespace: "shop", Load: ground.LoadSpec{Prometheus: query}, LeadTime: lead, Forecast: &spec}
}

func TestSeasonalHistoryFeedsTheForecast(t *testing.T) {
	src := &weekly{}
	at := time.Date(2026, 11, 25, 19, 55, 0, 0, time.UTC) // a Wednesday
	spec := ground.ForecastSpec{Seasonality: 168 * time.Hour, Lookback: 4}
	h := historyCache(src, 10*time.Minute)
	target := forecastTarget("web", "load", 0, spec)
	h.Refresh(context.Background(), []ground.Target{target}, at)
	if len(src.ranges) != 4 {
		t.Fatalf("%d calls, want one per season", len(src.ranges))
	}
	for _, r := range src.ranges {
		if d := r[1].Sub(r[0]); d != 20*time.Minute {
			t.Errorf("range of %s, want the 10m horizon plus 5m margins", d)
		}
	}
	// Three seasons answered: the forecast for 20:00 sees the evening rise.
	f := policies.ForecastAhead(h.History(&target), at, 10*time.Minute, time.Minute, spec, nil)
	if f.Load != ground.Some(1000.0) || f.Seasons != 3 {
		t.Errorf("forecast %v from %d seasons, want 1000 from 3", f.Load, f.Seasons)
	}
}

func TestSeasonalHistoryWithoutHistory(t *testing.T) {
	h := historyCache(noHistory{}, time.Minute)
	target := forecastTarget("web", "load", 0, ground.ForecastSpec{Seasonality: 24 * time.Hour, Lookback: 2})
	h.Refresh(context.Background(), []ground.Target{target}, time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC))
	if s := h.History(&target); s != nil {
		t.Errorf("history %v from a source that keeps none", s)
	}
}

// batchSource is a BatchHistory that records its calls and answers each
// query with a point a minute of value 1 + the number of its calls so far.
type batchSource struct {
	noHistory
	size  int
	mu    sync.Mutex
	calls []batchCall
	fail  func(from time.Time) bool
}

type batchCall struct {
	from, to time.Time
	queries  []string
}

func (b *batchSource) HistoryBatchSize() int { return b.size }

func (b *batchSource) HistoryBatch(_ context.Context, qs []sources.Query, from, to time.Time, step time.Duration) map[string]sources.HistoryResult {
	b.mu.Lock()
	defer b.mu.Unlock()
	c := batchCall{from: from, to: to}
	out := map[string]sources.HistoryResult{}
	for _, q := range qs {
		c.queries = append(c.queries, q.Spec.Prometheus)
		if b.fail != nil && b.fail(from) {
			out[q.Key()] = sources.HistoryResult{Err: errors.New("HTTP 503")}
			continue
		}
		var s ground.Series
		for t := from; !t.After(to); t = t.Add(step) {
			s = append(s, ground.Sample{T: t, V: float64(1 + len(b.calls))})
		}
		out[q.Key()] = sources.HistoryResult{Series: s}
	}
	b.calls = append(b.calls, c)
	return out
}

var _ sources.BatchHistory = (*batchSource)(nil)

// targetsOver returns n forecast targets over distinct queries, with lead
// times of 0, 5 and 10 minutes in turn.
func targetsOver(n, distinct int) []ground.Target {
	var ts []ground.Target
	for i := range n {
		ts = append(ts, forecastTarget(fmt.Sprintf("t-%d", i), fmt.Sprintf("q%d", i%distinct), time.Duration(i%3)*5*time.Minute,
			ground.ForecastSpec{Seasonality: 168 * time.Hour, Lookback: 4}))
	}
	return ts
}

// Item 2 of issue #16: 60 targets over 40 distinct queries with lookback 4
// cost 4 batch calls (one per season, each query once, up to the latest
// end the lead times need), not 240 calls (one per target per season).
func TestHistoryCacheBatchesSeasonsAndQueries(t *testing.T) {
	src := &batchSource{size: 35}
	h := historyCache(src, HistoryHorizon)
	targets := targetsOver(60, 40)
	now := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
	h.Refresh(context.Background(), targets, now)
	if len(src.calls) != 4 {
		t.Fatalf("%d calls, want 4 (one per season)", len(src.calls))
	}
	for k, c := range src.calls {
		season := 4 - k // the oldest first
		wantFrom := now.Add(-time.Duration(season)*168*time.Hour - policies.SampleTolerance)
		wantTo := now.Add(-time.Duration(season)*168*time.Hour + HistoryHorizon + 10*time.Minute + policies.SampleTolerance)
		if !c.from.Equal(wantFrom) || !c.to.Equal(wantTo) || len(c.queries) != 40 {
			t.Errorf("call %d: %d queries over [%s, %s], want 40 over [%s, %s]", k, len(c.queries), c.from, c.to, wantFrom, wantTo)
		}
		if sorted := slices.Clone(c.queries); len(slices.Compact(sorted)) != 40 {
			t.Errorf("call %d repeats a query", k)
		}
	}
	for i := range targets {
		if s := h.History(&targets[i]); len(s) != 4*(60+10+10+1) {
			t.Fatalf("%s: %d points, want 4 seasons of 81", targets[i].Name, len(s))
		}
	}
}

// A season that fails for every query keeps the others; when every season
// fails, the last history stays.
func TestHistoryKeptWhenEverySeasonFails(t *testing.T) {
	src := &batchSource{size: 35}
	h := historyCache(src, HistoryHorizon)
	targets := targetsOver(3, 3)
	now := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
	h.Refresh(context.Background(), targets, now)
	before := h.History(&targets[0])
	src.fail = func(time.Time) bool { return true }
	h.Refresh(context.Background(), targets, now.Add(10*time.Minute))
	if got := h.History(&targets[0]); !slices.Equal(got, before) {
		t.Errorf("history after a failed refresh: %d points, want the %d of before", len(got), len(before))
	}
	src.fail = func(from time.Time) bool { return from.Before(now.Add(-3 * 168 * time.Hour)) } // season -4
	h.Refresh(context.Background(), targets, now.Add(20*time.Minute))
	if got := h.History(&targets[0]); len(got) != 3*81 {
		t.Errorf("%d points with season -4 failing, want 3 seasons of 81", len(got))
	}
	// A target that goes away takes its history with it.
	h.Refresh(context.Background(), targets[1:], now.Add(30*time.Minute))
	if got := h.History(&targets[0]); got != nil {
		t.Errorf("a removed target keeps %d points", len(got))
	}
}

// RefreshShare refreshes one share of the queries, evenly cut, and leaves
// the others' history alone.
func TestRefreshShareRefreshesOnlyItsShare(t *testing.T) {
	src := &batchSource{size: 35}
	h := historyCache(src, HistoryHorizon)
	targets := targetsOver(150, 100) // targets sharing a query are in one share
	now := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
	seen := map[string]int{}
	for turn := range 10 {
		before := len(src.calls)
		h.RefreshShare(context.Background(), targets, now, turn, 10)
		calls := src.calls[before:]
		if len(calls) != 4 || len(calls[0].queries) != 10 {
			t.Fatalf("turn %d: %d calls of %d queries, want 4 of 10", turn, len(calls), len(calls[0].queries))
		}
		for _, q := range calls[0].queries {
			seen[q]++
		}
		refreshed, want := 0, 0
		for i := range targets {
			if h.History(&targets[i]) != nil {
				refreshed++
			}
			if seen[targets[i].Load.Prometheus] > 0 {
				want++
			}
		}
		if refreshed != want {
			t.Errorf("after turn %d: %d targets with history, want the %d whose query was refreshed", turn, refreshed, want)
		}
	}
	if len(seen) != 100 {
		t.Errorf("%d queries refreshed over the 10 turns, want each of the 100", len(seen))
	}
	for q, n := range seen {
		if n != 1 {
			t.Errorf("%s refreshed %d times, want once", q, n)
		}
	}
}

// Spread: everything at the first call, then, at one call a minute, every
// query once per 10 minutes, in as few shares as 35-query calls need (300
// queries: 9 shares of 33 or 34, one call per season each), and a source
// without batches in 10 shares.
func TestSpreadRefreshesEveryQueryOncePerPeriod(t *testing.T) {
	cases := []struct {
		name     string
		src      sources.Source
		distinct int
		perTurn  []int // distinct queries per turn 1..10 (10 is turn 0)
	}{
		{"batches of 35", &batchSource{size: 35}, 300, []int{33, 33, 34, 33, 33, 34, 33, 33, 0, 34}},
		{"60 queries", &batchSource{size: 35}, 60, []int{0, 0, 0, 0, 30, 0, 0, 0, 0, 30}},
		{"one query per call", &oneByOne{}, 50, []int{5, 5, 5, 5, 5, 5, 5, 5, 5, 5}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := historyCache(tc.src, HistoryHorizon)
			targets := targetsOver(tc.distinct, tc.distinct)
			now := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
			h.Spread(context.Background(), targets, now)
			if got := queriesAsked(tc.src); len(got) != tc.distinct {
				t.Fatalf("first call: %d queries, want all %d", len(got), tc.distinct)
			}
			reset(tc.src)
			var perTurn []int
			all := map[string]int{}
			for tick := 1; tick <= 10; tick++ {
				h.Spread(context.Background(), targets, now.Add(time.Duration(tick)*time.Minute))
				asked := queriesAsked(tc.src)
				perTurn = append(perTurn, len(asked))
				for _, q := range asked {
					all[q]++
				}
				reset(tc.src)
			}
			if fmt.Sprint(perTurn) != fmt.Sprint(tc.perTurn) {
				t.Errorf("queries per turn %v, want %v", perTurn, tc.perTurn)
			}
			for q, n := range all {
				if n != 1 {
					t.Errorf("%s refreshed %d times in 10 turns, want once", q, n)
				}
			}
			if len(all) != tc.distinct {
				t.Errorf("%d queries refreshed in 10 turns, want %d", len(all), tc.distinct)
			}
		})
	}
}

// oneByOne is a History source without batches, recording its queries.
type oneByOne struct {
	noHistory
	mu   sync.Mutex
	asks []string
}

func (o *oneByOne) History(_ context.Context, q sources.Query, from, to time.Time, _ time.Duration) (ground.Series, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.asks = append(o.asks, q.Spec.Prometheus)
	return ground.Series{{T: from, V: 1}, {T: to, V: 1}}, nil
}

// queriesAsked returns the distinct queries a recording source was asked.
func queriesAsked(src sources.Source) []string {
	var all []string
	switch s := src.(type) {
	case *batchSource:
		for _, c := range s.calls {
			all = append(all, c.queries...)
		}
	case *oneByOne:
		all = s.asks
	}
	slices.Sort(all)
	return slices.Compact(all)
}

func reset(src sources.Source) {
	switch s := src.(type) {
	case *batchSource:
		s.calls = nil
	case *oneByOne:
		s.asks = nil
	}
}
