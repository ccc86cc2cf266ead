package datadog

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"

	"github.com/primetime-dev/primetime/sources"
)

// Tests of issue #16, "Datadog at production scale, as Datadog really
// answers", item by item.

// refuseWith answers every call that holds query bad with fx.
func refuseWith(bad string, fx fixture) func([]string) (fixture, bool) {
	return func(batch []string) (fixture, bool) {
		for _, q := range batch {
			if b, _ := unpin(q); b == bad {
				return fx, true
			}
		}
		return fixture{}, false
	}
}

// timeoutFor is a transport whose calls holding query bad time out; it
// counts them (they never reach the fake).
type timeoutFor struct {
	bad      string
	next     http.RoundTripper
	timeouts *atomic.Int64
}

func (tr timeoutFor) RoundTrip(r *http.Request) (*http.Response, error) {
	for _, q := range splitQueries(r.URL.Query().Get("query")) {
		if b, _ := unpin(q); b == tr.bad {
			tr.timeouts.Add(1)
			return nil, context.DeadlineExceeded
		}
	}
	return tr.next.RoundTrip(r)
}

// Item 1: a 422, 5xx, timeout or "status": "error" on one batch stays with
// that batch: the batch is split within the refresh, the bad query
// quarantined alone after failing alone twice, and every healthy query of
// the other batch and of its own reads fresh data at every refresh (before:
// 7 of 60 refreshes).
func TestFailuresStayWithTheirBatch(t *testing.T) {
	qs := targetsWithQueries(40, 40) // 2 batches: 35 + 5
	bad := qs[3].Spec.Datadog        // in the first batch
	cases := []struct {
		name    string
		fx      *fixture // nil: a timeout
		message string
		outcome sources.Outcome
	}{
		{"422", &fixture422, "datadog query API: HTTP 422: Query too expensive: the query returns too many points, narrow its scope", sources.OutcomeError},
		{"500", &fixture{http.StatusInternalServerError, nil, `{"errors":["Internal Server Error"]}`}, "datadog query API: HTTP 500: Internal Server Error", sources.OutcomeError},
		{"503", &fixture503, "datadog query API: HTTP 503: Service Unavailable", sources.OutcomeError},
		{"status error", &fixtureStatusError, `datadog query API: HTTP 200 with status "error": Internal error while evaluating the query, please retry`, sources.OutcomeError},
		{"timeout", nil, "context deadline exceeded", sources.OutcomeTimeout},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var timeouts atomic.Int64
			h := newHarness(t, func(c *Config) {
				if tc.fx == nil {
					c.HTTPClient = &http.Client{Transport: timeoutFor{bad, http.DefaultTransport, &timeouts}}
				}
			})
			callCount := func() int { return h.fake.callCount() + int(timeouts.Load()) }
			if tc.fx != nil {
				h.fake.refuse = refuseWith(bad, *tc.fx)
			}
			fresh, calls := 0, []int{}
			for i := range 60 { // 30 minutes at 30 s
				now := t0.Add(time.Duration(i) * 30 * time.Second)
				before := callCount()
				res := h.fetch(qs, now)
				calls = append(calls, callCount()-before)
				ok := true
				for j, q := range qs {
					r := res[q.Key()]
					if j == 3 {
						if r.Err == nil || !strings.Contains(r.Err.Error(), tc.message) {
							t.Fatalf("refresh %d: the bad query got %v, want %q", i+1, r.Err, tc.message)
						}
						continue
					}
					if r.Err != nil || !r.Value.At.Equal(now.Add(-30*time.Second)) {
						ok = false
					}
				}
				if ok {
					fresh++
				}
			}
			if fresh != 60 {
				t.Errorf("the healthy queries read fresh data in %d of 60 refreshes, want 60", fresh)
			}
			// Refresh 1: both batches, then the failed one split down to the
			// bad query; 2: it goes alone (a suspect), fails again and is
			// quarantined, the 39 others in 35 + 4; then 2 calls, and 3 when
			// it is retried alone every 10 minutes (refreshes 22 and 42).
			if calls[0] > 14 || calls[1] != 3 {
				t.Errorf("calls of refreshes 1 and 2: %d and %d, want at most 14 and 3", calls[0], calls[1])
			}
			for i := 2; i < 60; i++ {
				want := 2
				if i == 21 || i == 41 {
					want = 3
				}
				if calls[i] != want {
					t.Errorf("refresh %d: %d calls, want %d", i+1, calls[i], want)
				}
			}
			h.src.mu.Lock()
			paused, down := h.src.pauseUntil.After(t0), h.src.outage != nil
			h.src.mu.Unlock()
			if paused || down {
				t.Errorf("one bad batch paused the source (%v) or counts as an outage (%v)", paused, down)
			}
			if n := h.requests(t, tc.outcome); n < 3 {
				t.Errorf("%v requests counted %s, want the failures", n, tc.outcome)
			}
			if got := len(h.logged("datadog: query refused; it is answered with its error and retried alone every 10m0s")); got != 3 {
				t.Errorf("%d quarantine warnings, want 3 (refresh 2, and the two failed retries)", got)
			}
		})
	}
}

// Item 2 (the source's part): the history of many targets is one call per
// 35 distinct queries over the same range, pinned to the live rollup, each
// series mapped back by query_index, and counted as history in the budget.
func TestHistoryBatchSendsEachQueryOnce(t *testing.T) {
	h := newHarness(t)
	qs := targetsWithQueries(100, 60)
	from, to := t0.Add(-7*24*time.Hour-5*time.Minute), t0.Add(-7*24*time.Hour+70*time.Minute)
	res := h.src.HistoryBatch(context.Background(), qs, from, to, time.Minute)
	sent := h.fake.sent()
	if len(sent) != 2 || len(sent[0]) != 35 || len(sent[1]) != 25 {
		t.Fatalf("%d calls, want 2 of 35 and 25 queries", len(sent))
	}
	for i, r := range h.fake.ranges {
		if r != [2]int64{from.Unix(), to.Unix()} {
			t.Errorf("call %d over %v, want [%d, %d]", i, r, from.Unix(), to.Unix())
		}
	}
	for _, q := range sent[0] {
		if !strings.HasSuffix(q, ".as_rate().rollup(avg,30)") {
			t.Fatalf("sent %q, want the rollup pinned", q)
		}
	}
	for _, q := range qs {
		r := res[q.Key()]
		// 75 minutes of 30 s buckets, both ends included: 151.
		if r.Err != nil || len(r.Series) != 151 || r.Series[0].V != float64(len(q.Spec.Datadog)) || r.Series[150].V != r.Series[0].V {
			t.Fatalf("%s: %d points, %v", q.Key(), len(r.Series), r.Err)
		}
	}
	h.src.mu.Lock()
	history, extra := h.src.budget.spentBesides()
	h.src.mu.Unlock()
	if history != 2 || extra != 0 {
		t.Errorf("budget: %d history and %d other calls, want 2 and 0", history, extra)
	}
}

// Item 3: live reads and history pin the same rollup in the query, so that
// a count (.as_count(): a sum per 30 s bucket) has one unit in both: 10
// requests a second read live and from history are 300 per 30 s in both.
func TestOneRollupForLiveAndHistory(t *testing.T) {
	h := newHarness(t)
	h.fake.value = func(string) float64 { return 10 }
	queries := []string{
		"sum:trace.http.request.hits{service:web}.as_count()",
		"sum:trace.http.request.hits{service:web}.as_rate()",
		"avg:system.cpu.idle{*}",
		"max:trace.http.request.hits{service:web}.rollup(max,60)",
	}
	var qs []sources.Query
	for _, q := range queries {
		qs = append(qs, ddQuery("shop", q))
	}
	live := h.fetch(qs, t0)
	hist := h.src.HistoryBatch(context.Background(), qs, t0.Add(-7*24*time.Hour), t0.Add(-7*24*time.Hour+10*time.Minute), time.Minute)
	sent := h.fake.sent()
	wantSent := []string{
		"sum:trace.http.request.hits{service:web}.as_count().rollup(sum,30)",
		"sum:trace.http.request.hits{service:web}.as_rate().rollup(avg,30)",
		"avg:system.cpu.idle{*}.rollup(avg,30)",
		"max:trace.http.request.hits{service:web}.rollup(max,60)",
	}
	for i, call := range sent {
		if strings.Join(call, ",") != strings.Join(wantSent, ",") {
			t.Errorf("call %d sent %q, want %q", i, call, wantSent)
		}
	}
	cases := []struct {
		query string
		want  float64
	}{
		{queries[0], 300}, // a count per 30 s
		{queries[1], 10},  // per second
		{queries[2], 10},
		{queries[3], 10},
	}
	for _, tc := range cases {
		t.Run(tc.query, func(t *testing.T) {
			k := ddQuery("shop", tc.query).Key()
			if r := live[k]; r.Err != nil || r.Value.V != tc.want {
				t.Errorf("live: %+v, want %v", r, tc.want)
			}
			if r := hist[k]; r.Err != nil || len(r.Series) == 0 || r.Series[0].V != tc.want {
				t.Errorf("history: %v, %v, want %v", r.Series, r.Err, tc.want)
			}
		})
	}
	// The user's own 60 s rollup: the window reaches three of its buckets,
	// and the newest complete one ended at 19:59:00.
	if r := live[qs[3].Key()]; !r.Value.At.Equal(t0.Add(-time.Minute)) {
		t.Errorf("a 60 s rollup's newest complete bucket ends at %s, want 19:59:00", r.Value.At)
	}
}

// replay is a server answering every call with one fixture.
func replay(t *testing.T, fx fixture) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fx.write(w) }))
	t.Cleanup(srv.Close)
	return srv
}

func newReplay(t *testing.T, fx fixture, opts ...func(*Config)) *harness {
	t.Helper()
	srv := replay(t, fx)
	return newHarness(t, append([]func(*Config){func(c *Config) { c.Endpoint = srv.URL }}, opts...)...)
}

// Items 4, 6 and 7 on the shapes of real answers: the last bucket skipped
// by time whatever the interval (at 1 s the old guard dropped 1 s and read
// a bucket still filling), nulls skipped, an empty list is no data, several
// series for one query say how to aggregate, and each error says what
// Datadog said.
func TestRealAnswerShapes(t *testing.T) {
	cases := []struct {
		name  string
		fx    fixture
		query string
		value float64
		at    time.Time
		err   string
	}{
		{"interval 1 s", fixtureInterval1, "sum:trace.http.request.hits{service:web}.as_count()", 41, t0.Add(-30 * time.Second), ""},
		{"interval 20 s", fixtureInterval20, "avg:system.load.1{env:prod}", 2.5, t0.Add(-40 * time.Second), ""},
		{"interval 300 s", fixtureInterval300, "sum:trace.http.request.hits{service:web}.as_rate()", 1250, t0.Add(-5 * time.Minute), ""},
		{"null points", fixtureNulls, "avg:nginx.net.request_per_s{service:web}", 310, t0.Add(-2 * time.Minute), ""},
		{"empty series list", fixtureEmpty, "sum:checkout.orders{env:staging}.as_count()", 0, time.Time{}, "no data"},
		{"several series for one query", fixtureGrouped, "avg:kubernetes.cpu.usage.total{kube_deployment:web} by {pod_name}", 0, time.Time{},
			`datadog query "avg:kubernetes.cpu.usage.total{kube_deployment:web} by {pod_name}" returns 3 series (one per group), want one: primetime needs one number per target; drop its "by {...}" to aggregate them (sum: for a total, avg: for a mean)`},
		{"400", fixture400, "sum:trace.http.request.hits{service:web}.rate_per_sec()", 0, time.Time{},
			"datadog query API: HTTP 400: Error parsing query: \n unable to parse sum:trace.http.request.hits{service:web}.rate_per_sec(): Rule 'scope_expr' didn't match at '.rate_per_sec()'"},
		{"403", fixture403, "sum:a{*}", 0, time.Time{}, "datadog query API: HTTP 403: Forbidden"},
		{"422", fixture422, "sum:a{*}", 0, time.Time{}, "datadog query API: HTTP 422: Query too expensive: the query returns too many points, narrow its scope"},
		{"429", fixture429, "sum:a{*}", 0, time.Time{}, "rate limited until 2026-11-25T20:20:00Z"},
		{"200 with status error", fixtureStatusError, "sum:a{*}", 0, time.Time{},
			`datadog query API: HTTP 200 with status "error": Internal error while evaluating the query, please retry`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newReplay(t, tc.fx)
			q := ddQuery("shop", tc.query)
			r := h.fetch([]sources.Query{q}, t0)[q.Key()]
			if tc.err != "" {
				if r.Err == nil || r.Err.Error() != tc.err {
					t.Fatalf("got %+v, want the error %q", r, tc.err)
				}
				return
			}
			if r.Err != nil || r.Value.V != tc.value || !r.Value.At.Equal(tc.at) {
				t.Fatalf("got %v at %s (%v), want %v at %s", r.Value.V, r.Value.At, r.Err, tc.value, tc.at)
			}
		})
	}
}

// Item 5: the live refresh interval follows primetime's share of the budget
// the headers announce (x-ratelimit-limit per x-ratelimit-period, read in
// lower case), counting history; and what is left of the organisation's
// period (x-ratelimit-remaining until x-ratelimit-reset).
func TestPacingFollowsTheBudgetHeaders(t *testing.T) {
	cases := []struct {
		name      string
		distinct  int
		share     float64
		history   int // history calls in the last period
		used      int // calls the organisation spent in this period before
		reset     int
		want      time.Duration
		reason    string
		warnCount int
	}{
		{"fits at the base interval", 60, 0.5, 0, 0, 3000, 30 * time.Second,
			"within budget at the base interval: 2 calls per refresh; 0 history and 0 retry or split calls in the last 1h0m0s, of primetime's 800 calls per 1h0m0s (50% of x-ratelimit-limit 1600)", 0},
		{"300 queries", 300, 0.5, 0, 0, 3000, 41 * time.Second, // 3600 × 9 / 800 = 40.5 s
			"primetime's share of the Datadog budget: 9 calls per refresh; 0 history and 0 retry or split calls in the last 1h0m0s, of primetime's 800 calls per 1h0m0s (50% of x-ratelimit-limit 1600)", 0},
		{"300 queries and history", 300, 0.5, 216, 0, 3000, 56 * time.Second, // 3600 × 9 / 584 = 55.5 s
			"primetime's share of the Datadog budget: 9 calls per refresh; 216 history and 0 retry or split calls in the last 1h0m0s, of primetime's 800 calls per 1h0m0s (50% of x-ratelimit-limit 1600)", 0},
		{"a quarter share", 300, 0.25, 0, 0, 3000, 81 * time.Second, // 3600 × 9 / 400
			"primetime's share of the Datadog budget: 9 calls per refresh; 0 history and 0 retry or split calls in the last 1h0m0s, of primetime's 400 calls per 1h0m0s (25% of x-ratelimit-limit 1600)", 0},
		{"history spends the share", 70, 0.5, 799, 0, 3000, time.Hour,
			"history and retries alone leave less than one refresh of primetime's 800 calls per 1h0m0s (50% of x-ratelimit-limit 1600) (2 calls per refresh; 799 history and 0 retry or split calls in the last 1h0m0s): one refresh per period, loads up to 1h0m0s old; lower the forecasts' lookback, share queries between targets, or raise --datadog-budget-share", 1},
		{"other tools spent the organisation's budget", 300, 0.5, 0, 1541, 1800, 324 * time.Second, // 50 left for 1,800 s: 1800 × 9 / 50
			"the organisation's budget: 50 calls left (x-ratelimit-remaining) for the 30m0s until x-ratelimit-reset, 9 per refresh", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(c *Config) { c.BudgetShare = tc.share })
			h.fake.used, h.fake.reset = tc.used, tc.reset
			for i := range tc.history {
				h.src.History(context.Background(), ddQuery("shop", fmt.Sprintf("sum:h%d{*}", i)), t0.Add(-24*time.Hour), t0.Add(-23*time.Hour), time.Minute)
			}
			h.fetch(targetsWithQueries(tc.distinct, tc.distinct), t0)
			if got := h.src.RefreshInterval(30 * time.Second); got != tc.want {
				t.Errorf("interval %s, want %s", got, tc.want)
			}
			if v, ok := h.metric(t, "primetime_datadog_refresh_interval_seconds"); !ok || v != tc.want.Seconds() {
				t.Errorf("primetime_datadog_refresh_interval_seconds %v (present %v), want %v", v, ok, tc.want.Seconds())
			}
			lines := h.logged("datadog: live refresh interval")
			if len(lines) != 1 || lines[0].ContextMap()["reason"] != tc.reason {
				t.Fatalf("logged %v, want one line with the reason %q", lines, tc.reason)
			}
			if warns := h.logs.FilterMessage("datadog: live refresh interval").FilterLevelExact(zapcore.WarnLevel).Len(); warns != tc.warnCount {
				t.Errorf("%d warnings, want %d", warns, tc.warnCount)
			}
			// Asked again with nothing new: the same, not logged again.
			if got := h.src.RefreshInterval(30 * time.Second); got != tc.want || len(h.logged("datadog: live refresh interval")) != 1 {
				t.Errorf("asked again: %s, %d log lines", got, len(h.logged("datadog: live refresh interval")))
			}
		})
	}
}

// Item 5, over time: with 300 distinct queries and 1,600 calls per hour,
// refreshes paced by RefreshInterval spend 50% of the budget (before: every
// 30 s until empty, 1,080 calls an hour for these queries alone).
func TestPacedRefreshesSpendTheShare(t *testing.T) {
	h := newHarness(t)
	qs := targetsWithQueries(1000, 300)
	now := t0
	for now.Before(t0.Add(time.Hour)) {
		h.fetch(qs, now)
		h.clock.set(now)
		now = now.Add(h.src.RefreshInterval(30 * time.Second))
	}
	if calls := h.fake.callCount(); calls > 800 || calls < 700 {
		t.Errorf("%d calls in an hour, want between 700 and 800 (50%% of 1,600)", calls)
	}
	t.Logf("%d calls in an hour, interval %s", h.fake.callCount(), h.src.RefreshInterval(30*time.Second))
}

// Item 7: a 200 with "status": "error" on every call is Datadog failing,
// not 35 bad queries: no split, no quarantine, one probe call per refresh,
// and every query read at the first refresh where Datadog answers (before:
// 69 calls, then every query refused for 10 minutes).
func TestStatusErrorOnEveryCallIsAnOutage(t *testing.T) {
	h := newHarness(t)
	qs := targetsWithQueries(40, 40)
	down := true
	h.fake.refuse = func([]string) (fixture, bool) { return fixtureStatusError, down }
	var calls []int
	for i := range 6 {
		before := h.fake.callCount()
		res := h.fetch(qs, t0.Add(time.Duration(i)*30*time.Second))
		calls = append(calls, h.fake.callCount()-before)
		for _, q := range qs {
			if r := res[q.Key()]; r.Err == nil || !strings.Contains(r.Err.Error(), `HTTP 200 with status "error"`) {
				t.Fatalf("refresh %d: %+v", i+1, r)
			}
		}
	}
	if fmt.Sprint(calls) != "[2 1 1 1 1 1]" {
		t.Errorf("calls per refresh %v, want [2 1 1 1 1 1]: both batches, then one probe each", calls)
	}
	r := h.fetch(qs, t0.Add(3*time.Minute))[qs[10].Key()]
	if want := `datadog query API: HTTP 200 with status "error": Internal error while evaluating the query, please retry (Datadog has failed every call since 2026-11-25T20:00:00Z; one probe call per refresh until it answers)`; r.Err == nil || r.Err.Error() != want {
		t.Errorf("an unprobed query: %v, want %q", r.Err, want)
	}
	h.src.mu.Lock()
	quarantined := len(h.src.states)
	h.src.mu.Unlock()
	if quarantined != 0 {
		t.Errorf("%d queries quarantined, want 0", quarantined)
	}
	down = false
	before := h.fake.callCount()
	res := h.fetch(qs, t0.Add(3*time.Minute+30*time.Second))
	for _, q := range qs {
		if r := res[q.Key()]; r.Err != nil {
			t.Fatalf("Datadog answers again: %+v", r)
		}
	}
	if calls := h.fake.callCount() - before; calls != 3 {
		t.Errorf("%d calls when Datadog answers again, want 3 (the probe, then 39 in 35 + 4)", calls)
	}
	if n := len(h.logged("datadog: every call failed; one probe call per refresh until Datadog answers")); n != 1 {
		t.Errorf("%d outage warnings, want 1", n)
	}
	if n := len(h.logged("datadog: answers again")); n != 1 {
		t.Errorf("%d recovery lines, want 1", n)
	}
}

// Item 8: after a 10-minute outage (503 on every call), the load is read
// again at the first refresh after Datadog answers, at most 37.5 s later
// (the 30 s interval jittered by up to 25%), with one probe call per
// refresh meanwhile (before: 6 minutes later, back-off 30 s … 16 min).
func TestOutageRecoversWithinOneRefresh(t *testing.T) {
	for _, jitter := range []struct {
		name string
		fn   func(time.Duration, float64) time.Duration
	}{{"the longest jitter", noJitter}, {"wait.Jitter", nil}} {
		t.Run(jitter.name, func(t *testing.T) {
			h := newHarness(t, func(c *Config) { c.Jitter = jitter.fn })
			qs := targetsWithQueries(100, 60)
			back := t0.Add(10*time.Minute + 10*time.Second)
			var mu sync.Mutex
			now := t0
			h.fake.refuse = func([]string) (fixture, bool) {
				mu.Lock()
				defer mu.Unlock()
				return fixture503, now.Before(back)
			}
			var readAgain time.Time
			outageCalls, refreshes := 0, 0
			for now.Before(t0.Add(15 * time.Minute)) {
				before := h.fake.callCount()
				res := h.fetch(qs, now)
				if now.After(t0) && now.Before(back) {
					outageCalls += h.fake.callCount() - before
					refreshes++
				}
				if readAgain.IsZero() && !now.Before(back) && res[qs[0].Key()].Err == nil && res[qs[59].Key()].Err == nil {
					readAgain = now
				}
				d := h.src.RefreshInterval(30 * time.Second)
				if d < 30*time.Second || d > 37500*time.Millisecond {
					t.Fatalf("interval %s during the outage, want between 30 s and 37.5 s", d)
				}
				mu.Lock()
				now = now.Add(d)
				mu.Unlock()
			}
			if outageCalls != refreshes {
				t.Errorf("%d calls in %d refreshes during the outage, want one probe each", outageCalls, refreshes)
			}
			if readAgain.IsZero() || readAgain.Sub(back) > 37500*time.Millisecond {
				t.Errorf("the load is read again %s after Datadog answers, want within one refresh (37.5 s)", readAgain.Sub(back))
			}
			t.Logf("%d probe calls in %d refreshes; load read again %s after Datadog answers", outageCalls, refreshes, readAgain.Sub(back))
		})
	}
}

// Item 9: the path of --datadog-url is kept.
func TestEndpointKeepsItsPath(t *testing.T) {
	fake, srv := newFake(t)
	fake.prefix = "/datadog-proxy"
	src, err := New(Config{APIKey: testAPIKey, AppKey: testAppKey, Endpoint: srv.URL + "/datadog-proxy/"})
	if err != nil {
		t.Fatal(err)
	}
	if src.BaseURL() != srv.URL+"/datadog-proxy" {
		t.Errorf("base URL %s, want %s/datadog-proxy", src.BaseURL(), srv.URL)
	}
	q := ddQuery("shop", "sum:a{*}")
	if r := src.Fetch(context.Background(), []sources.Query{q}, t0)[q.Key()]; r.Err != nil {
		t.Errorf("through /datadog-proxy/api/v1/query: %v", r.Err)
	}
}

// Item 9: series without query_index in a call of several queries are
// dropped with one warning per series, not silently.
func TestSeriesWithoutQueryIndexWarnsOnce(t *testing.T) {
	h := newReplay(t, fixtureUnindexed)
	qs := []sources.Query{ddQuery("shop", "sum:a{*}"), ddQuery("shop", "sum:b{*}")}
	for i := range 3 {
		res := h.fetch(qs, t0.Add(time.Duration(i)*time.Second))
		if r := res[qs[0].Key()]; r.Err != nil || r.Value.V != 11 {
			t.Errorf("the indexed series: %+v", r)
		}
		if r := res[qs[1].Key()]; !errors.Is(r.Err, sources.ErrNoData) {
			t.Errorf("the query whose series has no index: %v, want no data", r.Err)
		}
	}
	lines := h.logged("datadog: a series without query_index in a call of several queries was dropped: it cannot be told which query it answers")
	if len(lines) != 1 || lines[0].ContextMap()["expression"] != "sum:b{*}.rollup(avg,30)" {
		t.Errorf("logged %v, want one warning naming sum:b{*}.rollup(avg,30)", lines)
	}
}

// Item 9: the budget gauge is absent until an answer carried the header,
// then labelled with x-ratelimit-name.
func TestRateLimitGaugeAbsentBeforeAnAnswer(t *testing.T) {
	h := newHarness(t)
	if _, ok := h.metric(t, "primetime_datadog_ratelimit_remaining"); ok {
		t.Fatal("primetime_datadog_ratelimit_remaining exists before any answer")
	}
	if _, ok := h.metric(t, "primetime_datadog_refresh_interval_seconds"); ok {
		t.Fatal("primetime_datadog_refresh_interval_seconds exists before any refresh")
	}
	h.fetch(targetsWithQueries(2, 2), t0)
	if v, ok := h.metric(t, "primetime_datadog_ratelimit_remaining", "name=query"); !ok || v != 1599 {
		t.Errorf(`primetime_datadog_ratelimit_remaining{name="query"} %v (present %v), want 1599`, v, ok)
	}
}

// Item 9: a 429 during history counts as rate_limited.
func TestHistory429CountsAsRateLimited(t *testing.T) {
	h := newHarness(t)
	h.fake.failNext(fixture429)
	_, err := h.src.History(context.Background(), ddQuery("shop", "sum:a{*}"), t0.Add(-time.Hour), t0, time.Minute)
	var rl *sources.RateLimitError
	if !errors.As(err, &rl) || !rl.RetryAt.Equal(t0.Add(1200*time.Second)) {
		t.Fatalf("history after a 429: %v, want rate-limited until 20:20", err)
	}
	if got, errs := h.requests(t, sources.OutcomeRateLimited), h.requests(t, sources.OutcomeError); got != 1 || errs != 0 {
		t.Errorf(`requests_total: %v rate_limited, %v error; want 1 and 0`, got, errs)
	}
}
