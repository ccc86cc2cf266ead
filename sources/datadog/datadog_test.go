package datadog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/primetime-dev/primetime/policies/config"
	"github.com/primetime-dev/primetime/sources"
)

func ddQuery(namespace, q string) sources.Query {
	return sources.Query{Namespace: namespace, Spec: config.LoadSpec{Datadog: q}}
}

type harness struct {
	fake    *fakeDatadog
	src     *Source
	reg     *prometheus.Registry
	logs    *observer.ObservedLogs
	metrics *sources.Metrics
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	fake, srv := newFake(t)
	core, logs := observer.New(zapcore.DebugLevel)
	reg := prometheus.NewRegistry()
	m := sources.NewMetrics(reg)
	src, err := New(Config{APIKey: testAPIKey, AppKey: testAppKey, Endpoint: srv.URL,
		Logger: zap.New(core), Observer: m, RateLimits: m})
	if err != nil {
		t.Fatal(err)
	}
	return &harness{fake: fake, src: src, reg: reg, logs: logs, metrics: m}
}

// gauge returns the value of a gauge without labels.
func (h *harness) gauge(t *testing.T, name string) float64 {
	t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// targetsWithQueries returns n targets sharing distinct queries round-robin.
func targetsWithQueries(n, distinct int) []sources.Query {
	qs := make([]sources.Query, n)
	for i := range qs {
		qs[i] = ddQuery(fmt.Sprintf("ns-%d", i), fmt.Sprintf("sum:trace.http.request.hits{service:svc-%d,env:prod}.as_rate()", i%distinct))
	}
	return qs
}

var t0 = time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)

func TestHundredTargetsSixtyQueriesTwoCalls(t *testing.T) {
	h := newHarness(t)
	qs := targetsWithQueries(100, 60)
	res := h.src.Fetch(context.Background(), qs, t0)
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
		// The last complete bucket [19:59:40, 20:00:00) ends at t0; the one
		// still filling (holding a tenth of the value) is ignored.
		if !r.Value.At.Equal(t0) {
			t.Fatalf("value at %s, want the end of the last complete bucket", r.Value.At)
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

// TestRateLimitBackoff: each 429 doubles the pause from 30s up to 30 min
// (the 429's own reset, 5s, is shorter), and no call is made meanwhile.
func TestRateLimitBackoff(t *testing.T) {
	h := newHarness(t)
	qs := targetsWithQueries(3, 3)
	ctx := context.Background()
	now := t0
	wantBackoff := []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute,
		16 * time.Minute, 30 * time.Minute, 30 * time.Minute}
	for i, want := range wantBackoff {
		h.fake.failNext(http.StatusTooManyRequests)
		before := h.fake.callCount()
		res := h.src.Fetch(ctx, qs, now)
		if h.fake.callCount() != before+1 {
			t.Fatalf("429 #%d: %d calls, want 1", i+1, h.fake.callCount()-before)
		}
		var rl *sources.RateLimitError
		if !errors.As(res[qs[0].Key()].Err, &rl) {
			t.Fatalf("429 #%d: error %v, want a rate-limit error", i+1, res[qs[0].Key()].Err)
		}
		if got := rl.RetryAt.Sub(now); got != want {
			t.Fatalf("429 #%d: back-off %s, want %s", i+1, got, want)
		}
		if remaining := h.gauge(t, "primetime_datadog_ratelimit_remaining"); remaining != 0 {
			t.Errorf("remaining budget gauge %v, want 0", remaining)
		}
		// No call at all while backing off.
		if res := h.src.Fetch(ctx, qs, rl.RetryAt.Add(-time.Second)); h.fake.callCount() != before+1 {
			t.Fatalf("called Datadog during the back-off")
		} else if !errors.As(res[qs[1].Key()].Err, &rl) {
			t.Fatalf("during the back-off: %v, want rate-limited", res[qs[1].Key()].Err)
		}
		now = rl.RetryAt
	}
	// Recovery resets the back-off and reads the budget again.
	res := h.src.Fetch(ctx, qs, now)
	if r := res[qs[0].Key()]; r.Err != nil {
		t.Fatalf("after the back-off: %v", r.Err)
	}
	if remaining := h.gauge(t, "primetime_datadog_ratelimit_remaining"); remaining != float64(1600-h.fake.callCount()) {
		t.Errorf("budget gauge %v, want %d", remaining, 1600-h.fake.callCount())
	}
	h.fake.failNext(http.StatusTooManyRequests)
	res = h.src.Fetch(ctx, qs, now)
	var rl *sources.RateLimitError
	if !errors.As(res[qs[0].Key()].Err, &rl) || rl.RetryAt.Sub(now) != 30*time.Second {
		t.Errorf("after a clean refresh the back-off starts again at 30s, got %v", res[qs[0].Key()].Err)
	}
}

func TestSpentBudgetWaitsForTheReset(t *testing.T) {
	h := newHarness(t)
	h.fake.limit = 1 // this call spends the whole budget
	qs := targetsWithQueries(2, 2)
	if r := h.src.Fetch(context.Background(), qs, t0)[qs[0].Key()]; r.Err != nil {
		t.Fatal(r.Err)
	}
	res := h.src.Fetch(context.Background(), qs, t0.Add(5*time.Minute))
	var rl *sources.RateLimitError
	if h.fake.callCount() != 1 || !errors.As(res[qs[0].Key()].Err, &rl) || !rl.RetryAt.Equal(t0.Add(10*time.Minute)) {
		t.Errorf("with 0 calls left and a reset in 600s: %d calls, %v", h.fake.callCount(), res[qs[0].Key()].Err)
	}
}

func TestRepeatedErrorsBackOff(t *testing.T) {
	h := newHarness(t)
	qs := targetsWithQueries(2, 2)
	ctx := context.Background()
	h.fake.failNext(http.StatusInternalServerError, http.StatusBadGateway)
	r1 := h.src.Fetch(ctx, qs, t0)[qs[0].Key()]
	if r1.Err == nil || !strings.Contains(r1.Err.Error(), "HTTP 500") {
		t.Fatalf("first failure: %v", r1.Err)
	}
	h.src.Fetch(ctx, qs, t0.Add(15*time.Second))
	calls := h.fake.callCount()
	r3 := h.src.Fetch(ctx, qs, t0.Add(30*time.Second))[qs[0].Key()]
	var rl *sources.RateLimitError
	if h.fake.callCount() != calls || !errors.As(r3.Err, &rl) {
		t.Fatalf("after two failed refreshes calls must back off: %d new calls, %v", h.fake.callCount()-calls, r3.Err)
	}
}

func TestSeriesShapes(t *testing.T) {
	h := newHarness(t)
	now := t0
	pt := func(age time.Duration, v any) []any { return []any{float64(now.Add(-age).UnixMilli()), v} }
	h.fake.series = func(query string, i int, from, to int64) []map[string]any {
		s := func(points ...[]any) map[string]any {
			return map[string]any{"pointlist": points, "interval": 20, "query_index": i, "expression": query, "scope": "*"}
		}
		switch query {
		case "sum:old{*}":
			return []map[string]any{s(pt(5*time.Minute, 100.0), pt(4*time.Minute+40*time.Second, 100.0))}
		case "sum:nulls{*}":
			return []map[string]any{s(pt(80*time.Second, 7.0), pt(60*time.Second, nil), pt(40*time.Second, nil), pt(10*time.Second, 1.0))}
		case "sum:grouped{*} by {host}":
			return []map[string]any{s(pt(60*time.Second, 1.0)), s(pt(60*time.Second, 2.0))}
		case "sum:empty{*}":
			return nil
		case "sum:zero{*}":
			return []map[string]any{s(pt(60*time.Second, 0.0))}
		}
		return nil
	}
	cases := []struct {
		query  string
		status sources.Status
		value  float64
		words  string
	}{
		{"sum:old{*}", sources.StatusStale, 0, "older than the 2m0s limit"},
		{"sum:nulls{*}", sources.StatusOK, 7, ""}, // nulls skipped, the partial last bucket ignored
		{"sum:grouped{*} by {host}", sources.StatusError, 0, "2 series"},
		{"sum:empty{*}", sources.StatusNoData, 0, "no data"},
		{"sum:zero{*}", sources.StatusOK, 0, ""},
	}
	var qs []sources.Query
	for _, tc := range cases {
		qs = append(qs, ddQuery("shop", tc.query))
	}
	res := h.src.Fetch(context.Background(), qs, now)
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
// writes: logs, errors and metrics, including an error body that echoes them.
func TestKeysNeverLeak(t *testing.T) {
	h := newHarness(t)
	h.fake.failBody = `{"errors":["invalid key ` + testAPIKey + ` / ` + testAppKey + `"]}`
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
	collect(h.src.Fetch(ctx, qs, t0))
	h.fake.failNext(http.StatusForbidden, http.StatusInternalServerError, http.StatusTooManyRequests)
	collect(h.src.Fetch(ctx, qs, t0.Add(time.Minute)))
	collect(h.src.Fetch(ctx, qs, t0.Add(2*time.Minute)))
	collect(h.src.Fetch(ctx, qs, t0.Add(3*time.Minute)))
	collect(h.src.Fetch(ctx, qs, t0.Add(time.Hour)))
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
	if len(h.logs.All()) == 0 || len(texts) < 10 {
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
	if len(series) != 180 { // an hour of 20 s buckets, the partial last one dropped
		t.Fatalf("%d points, want 180", len(series))
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
}

// One query Datadog refuses among 50 targets: the other 49 get their load
// at every refresh, the bad one gets Datadog's error, the source never
// backs off, and once the bad query is known it costs no call until it is
// tried again alone (scenario 6 of docs/reliability.md).
func TestOneRefusedQueryAmongFifty(t *testing.T) {
	h := newHarness(t)
	qs := targetsWithQueries(50, 50)
	bad := qs[17].Spec.Datadog
	h.fake.reject = func(q string) bool { return q == bad }
	for cycle := range 8 {
		now := t0.Add(time.Duration(cycle) * 30 * time.Second)
		before := h.fake.callCount()
		res := h.src.Fetch(context.Background(), qs, now)
		for i, q := range qs {
			r := res[q.Key()]
			if i == 17 {
				if r.Err == nil || !strings.Contains(r.Err.Error(), "HTTP 400") || !strings.Contains(r.Err.Error(), "Error parsing query") {
					t.Fatalf("cycle %d: the refused query got %+v, want Datadog's HTTP 400 error", cycle, r)
				}
				continue
			}
			if r.Err != nil || r.Value.V != float64(len(q.Spec.Datadog)) {
				t.Fatalf("cycle %d: target %d got %+v, want its load", cycle, i, r)
			}
		}
		calls := h.fake.callCount() - before
		// First refresh: the failed batch of 35 is halved down to the bad
		// query (1 + 2 per level); then 2 calls (35 + 14 good queries).
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
	if until, waiting := h.src.waiting(t0.Add(4 * time.Minute)); waiting {
		t.Errorf("the source backs off until %s for one bad query", until)
	}

	// Ten minutes later it is tried again, alone; fixed, it rejoins.
	h.fake.reject = nil
	before := h.fake.callCount()
	res := h.src.Fetch(context.Background(), qs, t0.Add(11*time.Minute))
	if r := res[qs[17].Key()]; r.Err != nil {
		t.Errorf("after the retry: %+v, want its load", r)
	}
	if calls := h.fake.callCount() - before; calls != 3 {
		t.Errorf("%d calls, want 3 (the retried query alone, then 49 in 2 batches)", calls)
	}
	res = h.src.Fetch(context.Background(), qs, t0.Add(11*time.Minute+30*time.Second))
	if r := res[qs[17].Key()]; r.Err != nil {
		t.Errorf("once accepted: %+v", r)
	}
}
