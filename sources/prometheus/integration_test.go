package prometheus

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/primetime-dev/primetime/e2e/testbed"
	"github.com/primetime-dev/primetime/sources"
)

// exporter serves a counter that grows at exactly rate per second.
func exporter(t *testing.T, rate float64) *httptest.Server {
	t.Helper()
	t0 := time.Now()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintf(w, "# TYPE test_requests_total counter\ntest_requests_total %f\n", rate*time.Since(t0).Seconds())
	}))
	t.Cleanup(srv.Close)
	return srv
}

// backfill returns an hour and ten minutes of a gauge, one point a minute,
// whose value is the minute's index: history the test can check exactly.
func backfill(now time.Time) (string, time.Time) {
	var b strings.Builder
	b.WriteString("# HELP test_history A known history.\n# TYPE test_history gauge\n")
	start := now.Add(-70 * time.Minute).Truncate(time.Minute)
	for i := 0; i <= 65; i++ {
		fmt.Fprintf(&b, "test_history %d %d\n", i, start.Add(time.Duration(i)*time.Minute).Unix())
	}
	b.WriteString("# EOF\n")
	return b.String(), start
}

func TestAgainstRealPrometheus(t *testing.T) {
	const rate = 120.0
	exp := exporter(t, rate)
	now := time.Now()
	history, historyStart := backfill(now)
	prom := testbed.StartPrometheus(t, testbed.PrometheusOptions{
		Targets:  []string{strings.TrimPrefix(exp.URL, "http://")},
		Backfill: history,
	})
	src, err := New(Config{URL: prom.URL, Timeout: 2 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cache := sources.NewCache()
	read := func(q sources.Query) sources.Reading {
		at := time.Now()
		cache.Put(q.Key(), src.Fetch(ctx, []sources.Query{q}, at)[q.Key()], at)
		return cache.Get(q.Key(), at, sources.DefaultMaxAgePrometheus)
	}

	load := query(`sum(rate(test_requests_total[5s]))`)
	t.Run("instant value within 1% of the truth", func(t *testing.T) {
		var last sources.Reading
		testbed.Eventually(t, 30*time.Second, 500*time.Millisecond, func() (bool, string) {
			last = read(load)
			return last.Status == sources.StatusOK && math.Abs(last.Value.V-rate)/rate < 0.01,
				fmt.Sprintf("reading %s %v (%v), want %v ± 1%%", last.Status, last.Value.V, last.Err, rate)
		})
	})

	t.Run("an hour of history", func(t *testing.T) {
		series, err := src.History(ctx, query("test_history"), now.Add(-65*time.Minute), now.Add(-5*time.Minute), time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if len(series) != 61 {
			t.Fatalf("got %d points over an hour at 1m steps, want 61", len(series))
		}
		for _, s := range series {
			want := math.Floor(s.T.Sub(historyStart).Minutes())
			if s.V != want {
				t.Fatalf("at %s: %v, want the backfilled %v", s.T, s.V, want)
			}
		}
	})

	t.Run("an empty result is no data", func(t *testing.T) {
		r := read(query(`test_requests_total{job="no-such-job"}`))
		if r.Status != sources.StatusNoData || r.Load().OK {
			t.Fatalf("got %s %v", r.Status, r.Err)
		}
	})

	t.Run("Prometheus killed: an error within the timeout, never 0", func(t *testing.T) {
		prom.Kill()
		start := time.Now()
		res := src.Fetch(ctx, []sources.Query{load}, time.Now())[load.Key()]
		took := time.Since(start)
		if res.Err == nil {
			t.Fatalf("no error from a dead Prometheus: %+v", res)
		}
		if took > 2*time.Second+500*time.Millisecond {
			t.Errorf("the error took %s, more than the 2s timeout", took)
		}
		if res.Value.V != 0 || !res.Value.At.IsZero() {
			t.Errorf("a failed fetch carries a value: %+v", res.Value)
		}
		// Through the cache: the last good value serves until it is a
		// minute old, then the reading is stale — never 0.
		at := time.Now()
		cache.Put(load.Key(), res, at)
		if r := cache.Get(load.Key(), at, sources.DefaultMaxAgePrometheus); r.Status != sources.StatusOK || math.Abs(r.Value.V-rate)/rate > 0.05 {
			t.Errorf("within the staleness limit the last good value serves: %s %v", r.Status, r.Value.V)
		}
		later := at.Add(sources.DefaultMaxAgePrometheus + time.Second)
		r := cache.Get(load.Key(), later, sources.DefaultMaxAgePrometheus)
		if r.Status != sources.StatusStale || r.Load().OK || !strings.Contains(r.Err.Error(), "connection refused") {
			t.Errorf("after the limit: %s %v, want stale caused by the refused connection", r.Status, r.Err)
		}
	})
}
