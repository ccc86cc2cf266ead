package datadog

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
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
// answers one series per query, tagged with query_index, at the interval
// the query's .rollup(fn,N) pins, and reports its rate limit in lower-case
// x-ratelimit-* headers, as recorded answers do. Buckets that ended in the
// last 30 s before to are still filling: they hold part of the load.
type fakeDatadog struct {
	t      testing.TB
	mu     sync.Mutex
	prefix string // the path before /api/v1/query
	calls  int
	// batches holds the queries of each call as received (rollup pinned).
	batches [][]string
	ranges  [][2]int64
	limit   int
	used    int
	reset   int // x-ratelimit-reset, seconds
	// fail answers the next calls with these fixtures.
	fail []fixture
	// refuse, when it returns a fixture, answers the call with it instead,
	// as Datadog refuses a whole comma-joined call for one bad query.
	refuse func(queries []string) (fixture, bool)
	// value gives each query's load per second (queries without their
	// pinned rollup); series overrides the whole answer.
	value  func(query string) float64
	series func(query string, index int, from, to int64) []map[string]any
	// clock, when set, is "now" for the buckets still filling (else to).
	clock *simClock
}

func newFake(t testing.TB) (*fakeDatadog, *httptest.Server) {
	f := &fakeDatadog{t: t, limit: 1600, reset: 600, value: func(q string) float64 { return float64(len(q)) }}
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

var pinned = regexp.MustCompile(`\.rollup\((\w+),(\d+)\)$`)

// unpin returns a query without its final .rollup(fn,N), and N (0 when it
// has none).
func unpin(q string) (string, int64) {
	m := pinned.FindStringSubmatch(q)
	if m == nil {
		return q, 0
	}
	n, _ := strconv.ParseInt(m[2], 10, 64)
	return strings.TrimSuffix(q, m[0]), n
}

func (f *fakeDatadog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.URL.Path != f.prefix+"/api/v1/query" || r.Method != http.MethodGet {
		fixture{http.StatusNotFound, nil, `{"errors":["Not found"]}`}.write(w)
		return
	}
	if r.Header.Get("DD-API-KEY") != testAPIKey || r.Header.Get("DD-APPLICATION-KEY") != testAppKey {
		fixture403.write(w)
		return
	}
	f.calls++
	f.used++
	headers := func(fx fixture) fixture {
		if fx.header == nil {
			fx.header = rateHeaders(f.limit, max(f.limit-f.used, 0), f.reset)
		}
		return fx
	}
	if len(f.fail) > 0 {
		fx := f.fail[0]
		f.fail = f.fail[1:]
		headers(fx).write(w)
		return
	}
	q := r.URL.Query()
	from, err1 := strconv.ParseInt(q.Get("from"), 10, 64)
	to, err2 := strconv.ParseInt(q.Get("to"), 10, 64)
	if err1 != nil || err2 != nil || q.Get("query") == "" {
		headers(fixture{http.StatusBadRequest, nil, `{"errors":["from, to and query are required"]}`}).write(w)
		return
	}
	queries := splitQueries(q.Get("query"))
	f.batches = append(f.batches, queries)
	f.ranges = append(f.ranges, [2]int64{from, to})
	if f.refuse != nil {
		if fx, ok := f.refuse(queries); ok {
			headers(fx).write(w)
			return
		}
	}
	var series []map[string]any
	for i, query := range queries {
		if f.series != nil {
			series = append(series, f.series(query, i, from, to)...)
			continue
		}
		series = append(series, f.rollup(query, i, from, to))
	}
	body, err := json.Marshal(map[string]any{
		"status": "ok", "res_type": "time_series", "resp_version": 1, "series": series,
		"from_date": from * 1000, "to_date": to * 1000, "query": q.Get("query"),
		"values": []any{}, "times": []any{}, "message": "", "group_by": []any{},
	})
	if err != nil {
		f.t.Errorf("fake: %v", err)
	}
	headers(fixture{http.StatusOK, nil, string(body)}).write(w)
}

// rollup returns the query's load at its pinned interval over [from, to]
// (20 s when it pins none): per second for avg, per bucket for a sum of
// .as_count(). Buckets that ended less than 30 s before now hold 60% of it,
// the one still open 10%.
func (f *fakeDatadog) rollup(query string, index int, from, to int64) map[string]any {
	bare, interval := unpin(query)
	if interval == 0 {
		interval = 20
	}
	now := to
	if f.clock != nil {
		now = f.clock.now().Unix()
	}
	v := f.value(bare)
	if strings.Contains(bare, ".as_count()") {
		v *= float64(interval)
	}
	var points [][]any
	start := from - from%interval
	for ts := start; ts <= to; ts += interval {
		val := v
		switch {
		case ts+interval > now:
			val = v / 10
		case ts+interval > now-30:
			val = v * 6 / 10
		}
		points = append(points, []any{float64(ts * 1000), val})
	}
	return map[string]any{
		"metric": "trace.http.request.hits", "display_name": bare, "expression": query,
		"scope": "service:web", "aggr": "sum", "interval": interval, "length": len(points),
		"start": start * 1000, "end": to * 1000, "pointlist": points, "query_index": index,
		"tag_set": []string{}, "attributes": map[string]any{},
	}
}

func (f *fakeDatadog) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func (f *fakeDatadog) failNext(fx ...fixture) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = append(f.fail, fx...)
}

// sent returns every query of every call so far, as received.
func (f *fakeDatadog) sent() [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]string(nil), f.batches...)
}
