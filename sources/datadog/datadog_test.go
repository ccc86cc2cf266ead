package datadog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/sources"
)

func ddQuery(namespace, q string) sources.Query {
	return sources.Query{Namespace: namespace, Spec: ground.LoadSpec{Datadog: q}}
}

// simClock is a settable clock.
type simClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *simClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *simClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

type harness struct {
	fake  *fakeDatadog
	srv   *httptest.Server
	src   *Source
	reg   *prometheus.Registry
	logs  *observer.ObservedLogs
	clock *simClock
}

// noJitter makes every jittered wait its upper bound: exact figures.
func noJitter(d time.Duration, f float64) time.Duration { return d + time.Duration(f*float64(d)) }

func newHarness(t *testing.T, opts ...func(*Config)) *harness {
	t.Helper()
	fake, srv := newFake(t)
	core, logs := observer.New(zapcore.DebugLevel)
	reg := prometheus.NewRegistry()
	m := sources.NewMetrics(reg)
	clock := &simClock{t: t0}
	fake.clock = clock
	cfg := Config{APIKey: testAPIKey, AppKey: testAppKey, Endpoint: srv.URL,
		Logger: zap.New(core), Observer: m, RateLimits: m, Now: clock.now, Jitter: noJitter}
	for _, o := range opts {
		o(&cfg)
	}
	src, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{fake: fake, srv: srv, src: src, reg: reg, logs: logs, clock: clock}
}

// fetch refreshes at now, with the source's clock at now.
func (h *harness) fetch(qs []sources.Query, now time.Time) map[string]sources.Result {
	h.clock.set(now)
	return h.src.Fetch(context.Background(), qs, now)
}

// metric returns the value of a gauge or counter whose labels include
// labels ("name=value"), and whether it exists.
func (h *harness) metric(t *testing.T, name string, labels ...string) (float64, bool) {
	t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for _, l := range labels {
				k, v, _ := strings.Cut(l, "=")
				if have[k] != v {
					continue next
				}
			}
			if m.Gauge != nil {
				return m.GetGauge().GetValue(), true
			}
			return m.GetCounter().GetValue(), true
		}
	}
	return 0, false
}

// requests returns primetime_source_requests_total{source="datadog",outcome}.
func (h *harness) requests(t *testing.T, outcome sources.Outcome) float64 {
	t.Helper()
	v, _ := h.metric(t, "primetime_source_requests_total", "source=datadog", "outcome="+string(outcome))
	return v
}

// logged returns the log lines with this message.
func (h *harness) logged(msg string) []observer.LoggedEntry {
	return h.logs.FilterMessage(msg).All()
}

// targetsWithQueries returns n targets sharing distinct queries round-robin.
func targetsWithQueries(n, distinct int) []sources.Query {
	qs := make([]sources.Query, n)
	for i := range qs {
		qs[i] = ddQuery(fmt.Sprintf("ns-%d", i), fmt.Sprintf("sum:trace.http.request.hits{service:svc-%d,env:prod}.as_rate()", i%distinct))
	}
	return qs
}

func TestHundredTargetsSixtyQueriesTwoCalls(t *testing.T) {
	h := newHarness(t)
	qs := targetsWithQueries(100, 60)
	res := h.fetch(qs, t0)
	if calls := h.fake.callCount(); calls != 2 {
		t.Fatalf("%d API calls for 60 distinct queries, want 2", calls)
	}
	if len(h.fake.batches[0]) != 35 || len(h.fake.batches[1]) != 25 {
		t.Errorf("batches of %d and %d queries, want 35 and 25", len(h.fake.batches[0]), len(h.fake.batches[1]))
	}
	for _, q := range qs {
		r := res[q.Key()]
		want := float64(len(q.Spec.Datadog))
		if r.Err != nil || r.Value.V != want {
			t.Fatalf("%s: %+v, want %v", q.Spec.Datadog, r, want)
		}
		// The newest bucket that ended a rollup before t0 is [19:59:00,
		// 19:59:30); the two after it, still filling (60% and 10% of the
		// load), are skipped.
		if !r.Value.At.Equal(t0.Add(-30 * time.Second)) {
			t.Fatalf("value at %s, want 19:59:30, the end of the newest complete bucket", r.Value.At)
		}
	}
}

func TestChunksRespectTheURLLimit(t *testing.T) {
	long := strings.Repeat("x", 3000)
	queries := []string{"sum:a{" + long + "}", "sum:b{" + long + "}", "sum:c{" + long + "}", "sum:d{x}"}
	chunks := Chunks(queries, 35, DefaultMaxQueryLength)
	if len(chunks) != 2 || len(chunks[0]) != 2 || len(chunks[1]) != 2 {
		t.Fatalf("chunks of sizes %v", func() []int {
			var s []int
			for _, c := range chunks {
				s = append(s, len(c))
			}
			return s
		}())
	}
	if got := Chunks([]string{strings.Repeat("y", 9000)}, 35, DefaultMaxQueryLength); len(got) != 1 {
		t.Errorf("a query longer than the limit still goes alone in one call, got %d chunks", len(got))
	}
}

// TestRateLimitBackoff: a 429 that says when the period resets pauses every
// call until then; one that does not backs off 30 s, 1, 2, 4, 5, 5 minutes
// (wait.Backoff, capped at 5 minutes, jittered by up to 20%), one call per
// step and none while waiting; a clean answer starts again at 30 s.
func TestRateLimitBackoff(t *testing.T) {
	qs := targetsWithQueries(3, 3)
	t.Run("until x-ratelimit-reset", func(t *testing.T) {
		h := newHarness(t)
		h.fake.failNext(fixture429)
		res := h.fetch(qs, t0)
		var rl *sources.RateLimitError
		if !errors.As(res[qs[0].Key()].Err, &rl) || !rl.RetryAt.Equal(t0.Add(1200*time.Second)) {
			t.Fatalf("after a 429 with x-ratelimit-reset 1200: %v, want rate-limited until 20:20", res[qs[0].Key()].Err)
		}
		if v, ok := h.metric(t, "primetime_datadog_ratelimit_remaining", "name=query"); !ok || v != 0 {
			t.Errorf("remaining budget gauge %v (present %v), want 0 as the 429 said", v, ok)
		}
		if v, _ := h.metric(t, "primetime_datadog_backoff_seconds"); v != 1200 {
			t.Errorf("back-off gauge %v, want 1200", v)
		}
		h.fetch(qs, t0.Add(1199*time.Second))
		if h.fake.callCount() != 1 {
			t.Fatalf("%d calls during the pause, want none", h.fake.callCount()-1)
		}
		if r := h.fetch(qs, t0.Add(1200*time.Second))[qs[0].Key()]; r.Err != nil {
			t.Errorf("at the reset: %v", r.Err)
		}
		if h.requests(t, sources.OutcomeRateLimited) != 1 || h.requests(t, sources.OutcomeSuccess) != 1 {
			t.Errorf("requests: %v rate_limited, %v success; want 1 and 1", h.requests(t, sources.OutcomeRateLimited), h.requests(t, sources.OutcomeSuccess))
		}
	})
	t.Run("a reset sent as a Unix time pauses an hour at most", func(t *testing.T) {
		h := newHarness(t)
		epoch := fixture{http.StatusTooManyRequests, rateHeaders(600, 0, 1765100000), fixture429.body}
		h.fake.failNext(epoch)
		res := h.fetch(qs, t0)
		var rl *sources.RateLimitError
		if !errors.As(res[qs[0].Key()].Err, &rl) || !rl.RetryAt.Equal(t0.Add(time.Hour)) {
			t.Fatalf("after a 429 with x-ratelimit-reset 1765100000: %v, want rate-limited until 21:00", res[qs[0].Key()].Err)
		}
		if r := h.fetch(qs, t0.Add(time.Hour))[qs[0].Key()]; r.Err != nil {
			t.Errorf("an hour later: %v, want Datadog called again", r.Err)
		}
	})
	noReset := fixture{http.StatusTooManyRequests, map[string]string{"x-ratelimit-limit": "600", "x-ratelimit-period": "3600", "x-ratelimit-remaining": "0"}, fixture429.body}
	t.Run("back-off without a reset", func(t *testing.T) {
		h := newHarness(t, func(c *Config) { c.Jitter = func(d time.Duration, _ float64) time.Duration { return d } })
		now := t0
		want := []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 5 * time.Minute, 5 * time.Minute}
		for i, w := range want {
			h.fake.failNext(noReset)
			before := h.fake.callCount()
			res := h.fetch(qs, now)
			var rl *sources.RateLimitError
			if h.fake.callCount() != before+1 || !errors.As(res[qs[0].Key()].Err, &rl) {
				t.Fatalf("429 #%d: %d calls, %v; want 1 call and a rate-limit error", i+1, h.fake.callCount()-before, res[qs[0].Key()].Err)
			}
			if got := rl.RetryAt.Sub(now); got != w {
				t.Fatalf("429 #%d: back-off %s, want %s", i+1, got, w)
			}
			if res := h.fetch(qs, rl.RetryAt.Add(-time.Second)); h.fake.callCount() != before+1 || !errors.As(res[qs[1].Key()].Err, &rl) {
				t.Fatalf("429 #%d: called Datadog during the back-off, or %v", i+1, res[qs[1].Key()].Err)
			}
			now = rl.RetryAt
		}
		if r := h.fetch(qs, now)[qs[0].Key()]; r.Err != nil {
			t.Fatalf("after the back-off: %v", r.Err)
		}
		if v, _ := h.metric(t, "primetime_datadog_ratelimit_remaining", "name=query"); v != float64(1600-h.fake.callCount()) {
			t.Errorf("budget gauge %v, want %d", v, 1600-h.fake.callCount())
		}
		h.fake.failNext(noReset)
		var rl *sources.RateLimitError
		if res := h.fetch(qs, now); !errors.As(res[qs[0].Key()].Err, &rl) || rl.RetryAt.Sub(now) != 30*time.Second {
			t.Errorf("after a clean answer the back-off starts again at 30s, got %v", res[qs[0].Key()].Err)
		}
	})
	t.Run("jittered", func(t *testing.T) {
		h := newHarness(t, func(c *Config) { c.Jitter = nil }) // wait.Jitter
		h.fake.failNext(noReset)
		var rl *sources.RateLimitError
		if res := h.fetch(qs, t0); !errors.As(res[qs[0].Key()].Err, &rl) || rl.RetryAt.Before(t0.Add(30*time.Second)) || rl.RetryAt.After(t0.Add(36*time.Second)) {
			t.Errorf("first back-off %v, want between 30 s and 36 s", res[qs[0].Key()].Err)
		}
	})
}

func TestSpentBudgetWaitsForTheReset(t *testing.T) {
	h := newHarness(t)
	h.fake.limit = 1 // this call spends the whole budget
	qs := targetsWithQueries(2, 2)
	if r := h.fetch(qs, t0)[qs[0].Key()]; r.Err != nil {
		t.Fatal(r.Err)
	}
	res := h.fetch(qs, t0.Add(5*time.Minute))
	var rl *sources.RateLimitError
	if h.fake.callCount() != 1 || !errors.As(res[qs[0].Key()].Err, &rl) || !rl.RetryAt.Equal(t0.Add(10*time.Minute)) {
		t.Errorf("with 0 calls left and a reset in 600s: %d calls, %v", h.fake.callCount(), res[qs[0].Key()].Err)
	}
}

func TestSeriesShapes(t *testing.T) {
	h := newHarness(t)
	now := t0
	pt := func(age time.Duration, v any) []any { return []any{float64(now.Add(-age).UnixMilli()), v} }
	h.fake.series = func(query string, i int, from, to int64) []map[string]any {
		s := func(points ...[]any) map[string]any {
			return map[string]any{"pointlist": points, "interval": 30, "query_index": i, "expression": query, "scope": "*"}
		}
		switch bare, _ := unpin(query); bare {
		case "sum:old{*}":
			return []map[string]any{s(pt(5*time.Minute, 100.0), pt(4*time.Minute+30*time.Second, 100.0))}
		case "sum:nulls{*}":
			return []map[string]any{s(pt(90*time.Second, 7.0), pt(60*time.Second, nil), pt(30*time.Second, 1.0))}
		case "sum:grouped{*} by {host}":
			return []map[string]any{s(pt(90*time.Second, 1.0)), s(pt(90*time.Second, 2.0))}
		case "sum:empty{*}":
			return nil
		case "sum:zero{*}":
			return []map[string]any{s(pt(90*time.Second, 0.0))}
		}
		return nil
	}
	cases := []struct {
		query  string
		status sources.Status
		value  float64
		words  string
	}{
		{"sum:old{*}", sources.StatusStale, 0, "data is 4m0s old, older than the 2m30s limit (the 2m0s limit plus its 30s bucket)"},
		{"sum:nulls{*}", sources.StatusOK, 7, ""}, // nulls skipped, the bucket still filling ignored
		{"sum:grouped{*} by {host}", sources.StatusError, 0, `datadog query "sum:grouped{*} by {host}" returns 2 series (one per group), want one`},
		{"sum:empty{*}", sources.StatusNoData, 0, "no data"},
		{"sum:zero{*}", sources.StatusOK, 0, ""},
	}
	var qs []sources.Query
	for _, tc := range cases {
		qs = append(qs, ddQuery("shop", tc.query))
	}
	res := h.fetch(qs, now)
	if h.fake.callCount() != 1 {
		t.Fatalf("%d calls, want 1", h.fake.callCount())
	}
	cache := sources.NewCache()
	for i, tc := range cases {
		t.Run(tc.query, func(t *testing.T) {
			cache.Put(qs[i].Key(), res[qs[i].Key()], now)
			r := cache.Get(qs[i].Key(), now, sources.DefaultMaxAgeDatadog)
			if r.Status != tc.status {
				t.Fatalf("status %s (%v), want %s", r.Status, r.Err, tc.status)
			}
			if tc.status == sources.StatusOK {
				if r.Value.V != tc.value {
					t.Errorf("value %v, want %v", r.Value.V, tc.value)
				}
				return
			}
			if r.Load().OK || !strings.Contains(r.Err.Error(), tc.words) {
				t.Errorf("reading %+v, want an error saying %q", r, tc.words)
			}
		})
	}
}

// TestKeysNeverLeak plants the keys and looks for them everywhere primetime
// writes: logs, errors and metrics, including error bodies that echo them.
func TestKeysNeverLeak(t *testing.T) {
	h := newHarness(t)
	echo := `{"errors":["invalid key ` + testAPIKey + ` / ` + testAppKey + `"]}`
	qs := targetsWithQueries(5, 5)
	ctx := context.Background()
	var texts []string
	collect := func(res map[string]sources.Result) {
		for _, r := range res {
			if r.Err != nil {
				texts = append(texts, r.Err.Error(), fmt.Sprintf("%+v", r.Err))
			}
		}
	}
	collect(h.fetch(qs, t0))
	for _, status := range []int{http.StatusForbidden, http.StatusInternalServerError, http.StatusBadRequest, http.StatusUnprocessableEntity, http.StatusTooManyRequests} {
		h.fake.failNext(fixture{status, nil, echo})
	}
	for i := 1; i <= 6; i++ {
		collect(h.fetch(qs, t0.Add(time.Duration(i)*time.Minute)))
	}
	collect(h.fetch(qs, t0.Add(time.Hour)))
	h.fake.failNext(fixture{http.StatusOK, nil, `{"status":"error","error":"bad key ` + testAPIKey + `"}`})
	collect(h.fetch(qs, t0.Add(2*time.Hour)))
	h.clock.set(t0.Add(3 * time.Hour))
	if _, err := h.src.History(ctx, qs[0], t0.Add(-time.Hour), t0, time.Minute); err != nil {
		texts = append(texts, err.Error())
	}
	for _, e := range h.logs.All() {
		texts = append(texts, e.Message)
		for k, v := range e.ContextMap() {
			texts = append(texts, fmt.Sprintf("%s=%v", k, v))
		}
	}
	mfs, _ := h.reg.Gather()
	var buf bytes.Buffer
	for _, mf := range mfs {
		_, _ = expfmt.MetricFamilyToText(&buf, mf)
	}
	texts = append(texts, buf.String())
	if len(h.logs.All()) < 5 || !strings.Contains(strings.Join(texts, "\n"), "[redacted]") {
		t.Fatalf("the test saw too little output to prove anything: %d log lines", len(h.logs.All()))
	}
	for _, s := range texts {
		for _, key := range []string{testAPIKey, testAppKey} {
			if strings.Contains(s, key) {
				t.Fatalf("a key leaked: %s", s)
			}
		}
	}
}

func TestHistory(t *testing.T) {
	h := newHarness(t)
	series, err := h.src.History(context.Background(), ddQuery("shop", "sum:a{*}"), t0.Add(-time.Hour), t0, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	// An hour of 30 s buckets from 19:00, up to the one that ended at
	// 19:59:30, a rollup before now: 119 points, each the full load.
	if len(series) != 119 || !series[0].T.Equal(t0.Add(-time.Hour+30*time.Second)) || !series[118].T.Equal(t0.Add(-30*time.Second)) {
		t.Fatalf("%d points from %s to %s, want 119 from 19:00:30 to 19:59:30", len(series), series[0].T, series[len(series)-1].T)
	}
	for _, p := range series {
		if p.V != float64(len("sum:a{*}")) {
			t.Fatalf("point %v at %s, want the full load 8", p.V, p.T)
		}
	}
}

func TestNewNeedsKeys(t *testing.T) {
	if _, err := New(Config{APIKey: "x"}); err == nil || !strings.Contains(err.Error(), "DD_APP_KEY") {
		t.Errorf("want an error naming the missing key, got %v", err)
	}
	cfg := ConfigFromEnv(func(k string) string {
		return map[string]string{"DD_SITE": "datadoghq.eu", "DD_API_KEY": "a", "DD_APP_KEY": "b"}[k]
	})
	if cfg.Site != "datadoghq.eu" || cfg.APIKey != "a" || cfg.AppKey != "b" {
		t.Errorf("from env: %+v", cfg)
	}
	if _, err := New(Config{APIKey: "a", AppKey: "b", BudgetShare: 1.5}); err == nil || err.Error() != "datadog: the budget share 1.5 is not in (0, 1]; 0.5 leaves half of the organisation's query budget to other tools" {
		t.Errorf("a share of 1.5: %v", err)
	}
}

// One query Datadog refuses among 50 targets: the other 49 get their load
// at every refresh, the bad one gets Datadog's error, the source never
// backs off, and once the bad query is known it costs no call until it is
// tried again alone (scenario 6 of docs/reliability.md).
func TestOneRefusedQueryAmongFifty(t *testing.T) {
	h := newHarness(t)
	qs := targetsWithQueries(50, 50)
	bad := qs[17].Spec.Datadog
	h.fake.refuse = func(batch []string) (fixture, bool) {
		for _, q := range batch {
			if b, _ := unpin(q); b == bad {
				return fixture400, true
			}
		}
		return fixture{}, false
	}
	for cycle := range 8 {
		now := t0.Add(time.Duration(cycle) * 30 * time.Second)
		before := h.fake.callCount()
		res := h.fetch(qs, now)
		for i, q := range qs {
			r := res[q.Key()]
			if i == 17 {
				if r.Err == nil || !strings.HasPrefix(r.Err.Error(), "datadog query API: HTTP 400: Error parsing query:") {
					t.Fatalf("cycle %d: the refused query got %+v, want Datadog's HTTP 400 error", cycle, r)
				}
				continue
			}
			if r.Err != nil || r.Value.V != float64(len(q.Spec.Datadog)) {
				t.Fatalf("cycle %d: target %d got %+v, want its load", cycle, i, r)
			}
		}
		calls := h.fake.callCount() - before
		// First refresh: both batches, then the failed one of 35 halved
		// down to the bad query (2 calls per level); then 2 calls (35 + 14
		// good queries).
		if cycle > 0 && calls != 2 {
			t.Errorf("cycle %d: %d calls, want 2: the known bad query costs none", cycle, calls)
		}
		if cycle == 0 && calls > 14 {
			t.Errorf("first refresh: %d calls to isolate one bad query among 50, want at most 14", calls)
		}
		if cycle <= 1 {
			t.Logf("refresh %d: %d calls, 49 loads and the refused query's error", cycle+1, calls)
		}
	}
	h.src.mu.Lock()
	paused, down := h.src.pauseUntil.After(t0), h.src.outage != nil
	h.src.mu.Unlock()
	if paused || down {
		t.Errorf("one bad query paused the source (%v) or counts as an outage (%v)", paused, down)
	}

	// Ten minutes later it is tried again, alone; fixed, it rejoins.
	h.fake.refuse = nil
	before := h.fake.callCount()
	res := h.fetch(qs, t0.Add(11*time.Minute))
	if r := res[qs[17].Key()]; r.Err != nil {
		t.Errorf("after the retry: %+v, want its load", r)
	}
	if calls := h.fake.callCount() - before; calls != 3 {
		t.Errorf("%d calls, want 3 (the retried query alone, then 49 in 2 batches)", calls)
	}
	if got := len(h.logged("datadog: a quarantined query is accepted again")); got != 1 {
		t.Errorf("%d log lines saying the query is accepted again, want 1", got)
	}
	res = h.fetch(qs, t0.Add(11*time.Minute+30*time.Second))
	if r := res[qs[17].Key()]; r.Err != nil {
		t.Errorf("once accepted: %+v", r)
	}
}
