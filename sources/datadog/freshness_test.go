package datadog

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/primetime-dev/primetime/sources"
)

// A value is fresh when it comes from the newest bucket that can be
// complete for its width: the bucket that ended at least the settle time
// (the pinned rollup, 30 s) before the query, whatever its width. Its age
// is counted from the bucket's end and may reach the width plus the
// staleness limit. The answers have the recorded shape at every interval
// the API gives (1, 20 and 300 s picked by the window, 60 and 3,600 s
// pinned by the query), with null points.
func TestFreshnessByBucket(t *testing.T) {
	now := t0.Add(2*time.Minute + 17*time.Second) // 20:02:17, buckets aligned on the hour
	cases := []struct {
		name  string
		width time.Duration
		query string
		// null: the bucket starting at this offset from t0 holds null
		// (no host reported in it).
		null   *time.Duration
		status sources.Status
		// value is the start of the bucket read, in seconds from t0.
		value float64
		age   time.Duration
		err   string
	}{
		{name: "1 s: the 30 newest buckets still fill", width: time.Second, query: "sum:trace.http.request.hits{service:web}.as_count()",
			status: sources.StatusOK, value: 106, age: 30 * time.Second},
		{name: "20 s", width: 20 * time.Second, query: "avg:system.load.1{env:prod}",
			status: sources.StatusOK, value: 80, age: 37 * time.Second},
		{name: "60 s pinned", width: time.Minute, query: "sum:web.hits{*}.rollup(sum, 60)",
			status: sources.StatusOK, value: 0, age: 77 * time.Second},
		{name: "60 s with the newest complete bucket null", width: time.Minute, query: "sum:web.hits{*}.rollup(sum, 60)", null: ptr(0 * time.Second),
			status: sources.StatusOK, value: -60, age: 137 * time.Second},
		{name: "300 s: the bucket that ended at 20:00 is fresh", width: 5 * time.Minute, query: "avg:nginx.net.request_per_s{service:web}.rollup(avg, 300)",
			status: sources.StatusOK, value: -300, age: 137 * time.Second},
		{name: "300 s with the newest complete bucket null", width: 5 * time.Minute, query: "avg:nginx.net.request_per_s{service:web}.rollup(avg, 300)", null: ptr(-300 * time.Second),
			status: sources.StatusStale, value: -600, age: 437 * time.Second,
			err: "data is 7m17s old, older than the 7m0s limit (the 2m0s limit plus its 5m0s bucket)"},
		{name: "3600 s", width: time.Hour, query: "sum:checkout.orders{*}.as_count().rollup(sum, 3600)",
			status: sources.StatusOK, value: -3600, age: 137 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			from := now.Add(-max(4*tc.width, 200*time.Second)).Truncate(tc.width) // 200 s: the API gives 1 s buckets
			value := func(ts time.Time) float64 {
				off := ts.Sub(t0)
				if tc.null != nil && off == *tc.null {
					return -1
				}
				return off.Seconds() + 1e6 // the start of the bucket, positive
			}
			h := newReplay(t, fixture{http.StatusOK, rateHeaders(1600, 1500, 2000),
				okBody(tc.query, from, now, seriesJSON(0, tc.query, "*", from, now, tc.width, value))})
			q := ddQuery("shop", tc.query)
			r := h.fetch([]sources.Query{q}, now)[q.Key()]
			if r.Err != nil {
				t.Fatalf("fetch: %v", r.Err)
			}
			if got, want := r.Value.Span, tc.width; got != want {
				t.Errorf("span %s, want %s", got, want)
			}
			cache := sources.NewCache()
			cache.Put(q.Key(), r, now)
			rd := cache.Get(q.Key(), now, sources.DefaultMaxAgeDatadog)
			if rd.Status != tc.status || rd.Age != tc.age || rd.Value.V != tc.value+1e6 {
				t.Fatalf("reading %s, %s old, value of the bucket at %+gs (%v); want %s, %s old, the bucket at %+gs",
					rd.Status, rd.Age, rd.Value.V-1e6, rd.Err, tc.status, tc.age, tc.value)
			}
			if tc.err != "" && (rd.Err == nil || rd.Err.Error() != tc.err) {
				t.Errorf("error %v, want %q", rd.Err, tc.err)
			}
			// The value stays fresh until width + the limit after its
			// bucket's end, and not a second more.
			end := r.Value.At
			last := end.Add(tc.width + sources.DefaultMaxAgeDatadog)
			if tc.status == sources.StatusOK {
				if st := cache.Get(q.Key(), last, sources.DefaultMaxAgeDatadog).Status; st != sources.StatusOK {
					t.Errorf("at %s after the bucket's end: %s, want ok", last.Sub(end), st)
				}
			}
			if st := cache.Get(q.Key(), last.Add(time.Second), sources.DefaultMaxAgeDatadog).Status; st != sources.StatusStale {
				t.Errorf("at %s after the bucket's end: %s, want stale", last.Add(time.Second).Sub(end), st)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// An answer without an interval (or with a nonsense one) is read at the
// rollup the query was sent with: a 5-minute bucket still filling is not
// taken for a complete 30 s one.
func TestAnswerWithoutInterval(t *testing.T) {
	const query = "avg:nginx.net.request_per_s{service:web}.rollup(avg, 300)"
	now := t0.Add(2*time.Minute + 17*time.Second)
	for _, interval := range []string{`"interval":0,`, ``, `"interval":-300,`, `"interval":1099511627776,`} {
		t.Run(interval, func(t *testing.T) {
			from := t0.Add(-15 * time.Minute)
			series := seriesJSON(0, query, "*", from, now, 5*time.Minute, func(ts time.Time) float64 { return ts.Sub(t0).Seconds() + 1e6 })
			series = strings.Replace(series, `"interval":300,`, interval, 1)
			h := newReplay(t, fixture{http.StatusOK, rateHeaders(1600, 1500, 2000), okBody(query, from, now, series)})
			q := ddQuery("shop", query)
			r := h.fetch([]sources.Query{q}, now)[q.Key()]
			if r.Err != nil || r.Value.V != -300+1e6 || !r.Value.At.Equal(t0) || r.Value.Span != 5*time.Minute {
				t.Fatalf("got the bucket at %+gs ending %s, span %s (%v); want the bucket [19:55, 20:00), span 5m",
					r.Value.V-1e6, r.Value.At.Format(time.TimeOnly), r.Value.Span, r.Err)
			}
		})
	}
}
