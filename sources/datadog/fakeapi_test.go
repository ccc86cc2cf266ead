package datadog

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
)

const (
	testAPIKey = "dd-api-0123456789abcdef0123456789abcdef"
	testAppKey = "dd-app-fedcba9876543210fedcba9876543210fedcba98"
)

// fakeDatadog follows Datadog's documented v1 query API: GET /api/v1/query
// with from, to (seconds) and query (one or more comma-joined queries),
// authenticated by the DD-API-KEY and DD-APPLICATION-KEY headers. It
// answers one series per query with a 20 s rollup, tagged with query_index,
// and reports its rate limit in X-RateLimit-* headers.
type fakeDatadog struct {
	t        testing.TB
	mu       sync.Mutex
	calls    int
	batches  [][]string
	limit    int
	used     int
	fail     []int // HTTP statuses to answer the next calls with
	failBody string
	// reject makes a call holding this query fail with HTTP 400, as
	// Datadog refuses a whole comma-joined call for one bad query.
	reject func(query string) bool
	// value gives each query's load; series overrides the whole answer.
	value  func(query string) float64
	series func(query string, index int, from, to int64) []map[string]any
}

func newFake(t testing.TB) (*fakeDatadog, *httptest.Server) {
	f := &fakeDatadog{t: t, limit: 1600, value: func(q string) float64 { return float64(len(q)) }}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

// splitQueries splits a comma-joined query string at top-level commas.
func splitQueries(s string) []string {
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

func (f *fakeDatadog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.URL.Path != "/api/v1/query" || r.Method != http.MethodGet {
		http.Error(w, `{"errors":["Not found"]}`, http.StatusNotFound)
		return
	}
	if r.Header.Get("DD-API-KEY") != testAPIKey || r.Header.Get("DD-APPLICATION-KEY") != testAppKey {
		http.Error(w, `{"errors":["Forbidden"]}`, http.StatusForbidden)
		return
	}
	f.calls++
	f.used++
	w.Header().Set("X-RateLimit-Limit", strconv.Itoa(f.limit))
	w.Header().Set("X-RateLimit-Period", "3600")
	w.Header().Set("X-RateLimit-Remaining", strconv.Itoa(max(f.limit-f.used, 0)))
	w.Header().Set("X-RateLimit-Reset", "600")
	w.Header().Set("Content-Type", "application/json")
	if len(f.fail) > 0 {
		status := f.fail[0]
		f.fail = f.fail[1:]
		if status == http.StatusTooManyRequests {
			w.Header().Set("X-RateLimit-Remaining", "0")
			w.Header().Set("X-RateLimit-Reset", "5")
		}
		w.WriteHeader(status)
		body := f.failBody
		if body == "" {
			body = fmt.Sprintf(`{"errors":["status %d"]}`, status)
		}
		fmt.Fprint(w, body)
		return
	}
	q := r.URL.Query()
	from, err1 := strconv.ParseInt(q.Get("from"), 10, 64)
	to, err2 := strconv.ParseInt(q.Get("to"), 10, 64)
	if err1 != nil || err2 != nil || q.Get("query") == "" {
		http.Error(w, `{"errors":["from, to and query are required"]}`, http.StatusBadRequest)
		return
	}
	queries := splitQueries(q.Get("query"))
	f.batches = append(f.batches, queries)
	if f.reject != nil && slices.ContainsFunc(queries, f.reject) {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"errors":["Error parsing query: unknown function 'rate_per_sec'"]}`)
		return
	}
	var series []map[string]any
	for i, query := range queries {
		if f.series != nil {
			series = append(series, f.series(query, i, from, to)...)
			continue
		}
		series = append(series, f.rollup(query, i, from, to, f.value(query)))
	}
	_ = json.NewEncoder(w).Encode(map[string]any{
		"status": "ok", "res_type": "time_series", "series": series,
		"from_date": from * 1000, "to_date": to * 1000, "query": q.Get("query"),
	})
}

// rollup returns a 20 s rollup of a constant value over [from, to]; the
// last bucket, still filling, holds a tenth of it as real partial buckets do.
func (f *fakeDatadog) rollup(query string, index int, from, to int64, v float64) map[string]any {
	const interval = 20
	var points [][]any
	start := from - from%interval
	for ts := start; ts <= to; ts += interval {
		val := v
		if ts+interval > to {
			val = v / 10
		}
		points = append(points, []any{float64(ts * 1000), val})
	}
	return map[string]any{
		"metric": "trace.http.request.hits", "display_name": query, "expression": query,
		"scope": "service:web", "aggr": "sum", "interval": interval, "length": len(points),
		"start": start * 1000, "end": to * 1000, "pointlist": points, "query_index": index,
	}
}

func (f *fakeDatadog) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func (f *fakeDatadog) failNext(statuses ...int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = append(f.fail, statuses...)
}
