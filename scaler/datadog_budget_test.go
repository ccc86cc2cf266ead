package scaler_test

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/scaler"
	"github.com/primetime-dev/primetime/sources"
	"github.com/primetime-dev/primetime/sources/datadog"
)

// Issue #16 at production scale: the Datadog source, the poller and the
// forecast history cache on a simulated clock, against a local server that
// enforces Datadog's budget of the metrics query endpoint (1,600 calls per
// 3,600 s, x-ratelimit-* headers in lower case, the recorded 429 body) in
// simulated time. The live refresh is driven by the interval the source
// paces (sources.Pacer, through Poller.Interval), the history by
// HistoryCache.Spread every HistoryRefresh/HistoryShares, as the leader
// does.

// budgetClock is the simulated time the source, the cache and the server
// share.
type budgetClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *budgetClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *budgetClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// budgetServer answers GET /api/v1/query as Datadog does, within a fixed
// window budget: limit calls per period, counted from start.
type budgetServer struct {
	clock  *budgetClock
	start  time.Time
	limit  int
	period time.Duration

	mu        sync.Mutex
	window    int
	used      int
	perPeriod []int // calls answered in each period
	refused   int   // 429s
	live      int
	history   int
	rejected  int // 422s
	// bad: a call holding one of these queries (as sent) answers 422.
	bad map[string]bool
}

var rollupSuffix = regexp.MustCompile(`\.rollup\((\w+),(\d+)\)$`)

// loadOf is the load of a query, per second: a figure of its own.
func loadOf(query string) float64 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(query))
	return float64(100 + h.Sum32()%900)
}

func splitTop(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, c := range s {
		switch c {
		case '{', '(':
			depth++
		case '}', ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

func (s *budgetServer) headers(w http.ResponseWriter, now time.Time, remaining int) {
	end := s.start.Add(time.Duration(s.window+1) * s.period)
	for k, v := range map[string]string{
		"x-ratelimit-limit":     strconv.Itoa(s.limit),
		"x-ratelimit-period":    strconv.Itoa(int(s.period / time.Second)),
		"x-ratelimit-remaining": strconv.Itoa(remaining),
		"x-ratelimit-reset":     strconv.Itoa(int(end.Sub(now).Seconds())),
		"x-ratelimit-name":      "query",
	} {
		w.Header()[k] = []string{v}
	}
	w.Header().Set("Content-Type", "application/json")
}

func (s *budgetServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := s.clock.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if win := int(now.Sub(s.start) / s.period); win != s.window {
		s.window, s.used = win, 0
	}
	for len(s.perPeriod) <= s.window {
		s.perPeriod = append(s.perPeriod, 0)
	}
	if s.used >= s.limit {
		s.refused++
		s.headers(w, now, 0)
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprintf(w, `{"errors":["Rate limit of %d requests in %d seconds reached. Please try again later."]}`, s.limit, int(s.period/time.Second))
		return
	}
	s.used++
	s.perPeriod[s.window]++
	q := r.URL.Query()
	from, _ := strconv.ParseInt(q.Get("from"), 10, 64)
	to, _ := strconv.ParseInt(q.Get("to"), 10, 64)
	if to >= now.Unix()-60 {
		s.live++
	} else {
		s.history++
	}
	queries := splitTop(q.Get("query"))
	s.headers(w, now, s.limit-s.used)
	if slices.ContainsFunc(queries, func(q string) bool { return s.bad[q] }) {
		s.rejected++
		w.WriteHeader(http.StatusUnprocessableEntity)
		fmt.Fprint(w, `{"errors":["Query too expensive: the query returns too many points, narrow its scope"]}`)
		return
	}
	var series []map[string]any
	for i, query := range queries {
		m := rollupSuffix.FindStringSubmatch(query)
		interval := int64(20)
		if m != nil {
			interval, _ = strconv.ParseInt(m[2], 10, 64)
		}
		v := loadOf(strings.TrimSuffix(query, m[0]))
		var points [][]any
		for ts := from - from%interval; ts <= to; ts += interval {
			val := v
			switch {
			case ts+interval > now.Unix(): // still open
				val = v / 10
			case ts+interval > now.Unix()-30: // hosts still reporting
				val = v * 6 / 10
			}
			points = append(points, []any{float64(ts * 1000), val})
		}
		series = append(series, map[string]any{"query_index": i, "interval": interval, "expression": query, "scope": "*",
			"metric": "trace.http.request.hits", "aggr": "sum", "pointlist": points, "length": len(points), "tag_set": []string{}})
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"status": "ok", "res_type": "time_series", "resp_version": 1, "series": series,
		"from_date": from * 1000, "to_date": to * 1000, "query": q.Get("query"), "values": []any{}, "times": []any{}, "message": "", "group_by": []any{}})
}

// budgetScenario is one run.
type budgetScenario struct {
	targets, distinct, forecasts int
	span                         time.Duration
	// bad picks the queries (as the user wrote them, sorted) that answer
	// 422 wherever they are sent.
	bad func(sorted []string) []string
}

// budgetFigures is what a run measured.
type budgetFigures struct {
	calls, live, history, refused, rejected int
	// perPeriod: the calls answered in each period of 3,600 s.
	perPeriod []int
	// darkMinutes: minutes in which a healthy target's load was not fresh
	// (checked every 10 s).
	darkMinutes int
	// staleRefreshes: live refreshes after which a healthy query's value
	// was not from that refresh (older than two rollups).
	staleRefreshes int
	// noHistoryMinutes: minutes in which a healthy forecast target had no
	// history for the instant one season ago.
	noHistoryMinutes int
	maxAge           time.Duration
	// intervals is the live refresh interval after each change.
	intervals            []time.Duration
	settled              time.Duration
	refreshes            int
	historyRefreshes     int
	healthy, quarantined int
}

func runBudget(t testing.TB, sc budgetScenario) budgetFigures {
	t.Helper()
	start := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	clock := &budgetClock{t: start}
	srv := &budgetServer{clock: clock, start: start, limit: 1600, period: time.Hour, bad: map[string]bool{}}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	src, err := datadog.New(datadog.Config{APIKey: "api", AppKey: "app", Endpoint: hs.URL, Now: clock.now, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	poller := sources.NewPoller(sources.NewCache())
	every, maxAge := sources.DefaultTiming(ground.SourceDatadog, 15*time.Second)
	poller.Register(sources.Registration{Source: src, Interval: every, MaxAge: maxAge})
	history := &scaler.HistoryCache{Poller: poller, Horizon: scaler.HistoryHorizon, Log: zap.NewNop(), Now: clock.now}

	text := func(i int) string {
		return fmt.Sprintf("sum:trace.http.request.hits{service:svc-%03d,env:prod}.as_rate()", i%sc.distinct)
	}
	var targets []ground.Target
	var queries []sources.Query
	for i := range sc.targets {
		tg := ground.Target{Name: fmt.Sprintf("t-%d", i), Namespace: fmt.Sprintf("ns-%d", i%20),
			Load: ground.LoadSpec{Datadog: text(i)}, LeadTime: time.Duration(i%4) * 3 * time.Minute}
		if i < sc.forecasts {
			tg.Forecast = &ground.ForecastSpec{Seasonality: 168 * time.Hour, Lookback: 4}
		}
		targets = append(targets, tg)
		queries = append(queries, sources.Query{Namespace: tg.Namespace, Spec: tg.Load})
	}
	poller.SetQueries(queries)
	bad := map[string]bool{}
	if sc.bad != nil {
		var sorted []string
		for i := range sc.distinct {
			sorted = append(sorted, text(i))
		}
		slices.Sort(sorted)
		for _, q := range sc.bad(sorted) {
			bad[q] = true
			srv.bad[datadog.PinRollup(q, datadog.DefaultRollup)] = true
		}
	}

	var f budgetFigures
	ctx := context.Background()
	nextLive, nextHistory := start, start
	darkMinute, noHistoryMinute := -1, -1
	for now := start; now.Before(start.Add(sc.span)); now = now.Add(time.Second) {
		clock.set(now)
		if !now.Before(nextLive) {
			poller.Refresh(ctx, ground.SourceDatadog, now)
			f.refreshes++
			for i := range targets {
				if r := poller.Reading(queries[i], now); !bad[targets[i].Load.Datadog] && (r.Status != sources.StatusOK || r.Age > 2*datadog.DefaultRollup) {
					f.staleRefreshes++
					break
				}
			}
			d := poller.Interval(ground.SourceDatadog)
			if len(f.intervals) == 0 || f.intervals[len(f.intervals)-1] != d {
				f.intervals = append(f.intervals, d)
			}
			nextLive = now.Add(d)
		}
		if !now.Before(nextHistory) {
			history.Spread(ctx, targets, now)
			f.historyRefreshes++
			nextHistory = now.Add(scaler.HistoryRefresh / scaler.HistoryShares)
		}
		if now.Sub(start)%(10*time.Second) != 0 {
			continue
		}
		minute := int(now.Sub(start) / time.Minute)
		for i := range targets {
			tg := &targets[i]
			if bad[tg.Load.Datadog] {
				continue
			}
			r := poller.Reading(queries[i], now)
			if r.Status != sources.StatusOK || r.Value.V != loadOf(tg.Load.Datadog) {
				if darkMinute != minute {
					darkMinute = minute
					f.darkMinutes++
					t.Logf("%s: %s reads %+v", now.Format("15:04:05"), tg.Key(), r)
				}
			} else {
				f.maxAge = max(f.maxAge, r.Age)
			}
			if tg.Forecast != nil {
				if _, ok := history.History(tg).At(now.Add(-tg.Forecast.Seasonality), 5*time.Minute); !ok && noHistoryMinute != minute {
					noHistoryMinute = minute
					f.noHistoryMinutes++
				}
			}
		}
	}
	f.settled = f.intervals[len(f.intervals)-1]
	srv.mu.Lock()
	f.calls, f.live, f.history, f.refused, f.rejected, f.perPeriod = srv.live+srv.history+srv.refused, srv.live, srv.history, srv.refused, srv.rejected, srv.perPeriod
	srv.mu.Unlock()
	f.healthy = sc.distinct - len(bad)
	f.quarantined = len(bad)
	return f
}

func (f budgetFigures) String() string {
	return fmt.Sprintf("%d calls (%d live in %d refreshes, %d history in %d history turns), %d refused with 429, %d answered 422, %v in each period of 3,600 s; "+
		"%d minutes without fresh live load for the %d healthy queries (oldest value served %s), %d refreshes that did not refresh them all; %d minutes without history; live interval %v, settled at %s",
		f.calls, f.live, f.refreshes, f.history, f.historyRefreshes, f.refused, f.rejected, f.perPeriod,
		f.darkMinutes, f.healthy, f.maxAge, f.staleRefreshes, f.noHistoryMinutes, f.intervals, f.settled)
}

// The scenarios of the issue: 1,000 targets over 300 distinct queries, half
// of them with forecast: {lookback: 4}, for 3 simulated hours, healthy and
// with one batch of 35 queries answering 422 wherever its queries are sent
// (and with one query that does, poisoning its batch).
var budgetScenarios = []struct {
	name string
	sc   budgetScenario
}{
	{"healthy", budgetScenario{targets: 1000, distinct: 300, forecasts: 500, span: 3 * time.Hour}},
	{"one batch answering 422", budgetScenario{targets: 1000, distinct: 300, forecasts: 500, span: 3 * time.Hour,
		bad: func(sorted []string) []string { return sorted[105:140] }}},
	{"one query answering 422", budgetScenario{targets: 1000, distinct: 300, forecasts: 500, span: 3 * time.Hour,
		bad: func(sorted []string) []string { return sorted[120:121] }}},
}

func TestDatadogBudgetAtScale(t *testing.T) {
	for _, s := range budgetScenarios {
		t.Run(s.name, func(t *testing.T) {
			f := runBudget(t, s.sc)
			t.Log(f)
			if f.refused != 0 {
				t.Errorf("%d calls refused with 429, want 0", f.refused)
			}
			if slices.Max(f.perPeriod) > 1600 {
				t.Errorf("calls per period %v, over the 1,600 budget", f.perPeriod)
			}
			if f.darkMinutes != 0 || f.staleRefreshes != 0 {
				t.Errorf("%d minutes without fresh live load and %d refreshes that missed a healthy query, want 0 and 0", f.darkMinutes, f.staleRefreshes)
			}
			if f.noHistoryMinutes != 0 {
				t.Errorf("%d minutes in which a forecast target had no history, want 0", f.noHistoryMinutes)
			}
			if f.historyRefreshes != 180 || f.history == 0 {
				t.Errorf("%d history turns and %d history calls, want 180 turns (one a minute)", f.historyRefreshes, f.history)
			}
			if f.settled <= sources.DatadogMinInterval || f.settled > 2*time.Minute {
				t.Errorf("the live interval settled at %s, want above the 30 s base (300 queries do not fit at 30 s) and at most 2 minutes", f.settled)
			}
			// Within primetime's 50% share (800 calls an hour), with the
			// first hour's start-up (a full history refresh) and the one-off
			// splits of the 422 scenarios on top.
			if perHour := float64(f.calls) / 3; perHour > 900 {
				t.Errorf("%.0f calls an hour, want about primetime's share of 800", perHour)
			}
		})
	}
}

// Item 2 of the issue: 100 queries and 60 forecast targets with lookback 4
// used to cost ~1,740 calls an hour against a 1,600 budget (history one call
// per target per season every 10 minutes); batched, deduplicated and spread
// they fit in primetime's share with the live interval at its 30 s base.
func TestHistoryAndLiveShareOneBudget(t *testing.T) {
	f := runBudget(t, budgetScenario{targets: 100, distinct: 100, forecasts: 60, span: time.Hour})
	t.Log(f)
	if f.refused != 0 || f.darkMinutes != 0 || f.noHistoryMinutes != 0 {
		t.Errorf("%d refused, %d minutes without fresh load, %d without history; want 0, 0, 0", f.refused, f.darkMinutes, f.noHistoryMinutes)
	}
	if fmt.Sprint(f.intervals) != "[30s]" {
		t.Errorf("live intervals %v, want the 30 s base throughout", f.intervals)
	}
	// Live: 3 calls every 30 s = 360; history: 4 seasons of 60 queries at
	// the start (8 calls), then a share of 30 queries every 5 minutes, 4
	// calls each (11 turns in the hour: 44).
	if f.live != 360 || f.history != 52 {
		t.Errorf("%d live and %d history calls in the hour, want 360 and 52", f.live, f.history)
	}
}

// BenchmarkDatadogBudget reports the figures of the scenarios (run it with
// -benchtime 1x: each iteration is 3 simulated hours).
func BenchmarkDatadogBudget(b *testing.B) {
	for _, s := range budgetScenarios {
		b.Run(s.name, func(b *testing.B) {
			var f budgetFigures
			for b.Loop() {
				f = runBudget(b, s.sc)
			}
			b.ReportMetric(float64(f.refused), "refused-429")
			b.ReportMetric(float64(f.darkMinutes), "dark-minutes")
			b.ReportMetric(f.settled.Seconds(), "interval-s")
			b.ReportMetric(float64(f.calls)/3, "calls/h")
			b.ReportMetric(float64(f.historyRefreshes), "history-turns")
			b.Log(f)
		})
	}
}
