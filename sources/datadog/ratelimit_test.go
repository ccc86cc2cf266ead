package datadog

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// rateLimitGauges are the gauges of the figures Datadog announces.
var rateLimitGauges = []string{
	"primetime_datadog_ratelimit_limit",
	"primetime_datadog_ratelimit_period_seconds",
	"primetime_datadog_ratelimit_remaining",
	"primetime_datadog_ratelimit_reset_seconds",
}

const rateLimitHelp = `# HELP primetime_datadog_ratelimit_limit Datadog query API calls the organisation may make per rate-limit period (x-ratelimit-limit), by rate limit (x-ratelimit-name); absent before the first answer carrying it.
# TYPE primetime_datadog_ratelimit_limit gauge
primetime_datadog_ratelimit_limit{name="metric_query"} 1600
# HELP primetime_datadog_ratelimit_period_seconds Length of the Datadog query API's rate-limit period (x-ratelimit-period), by rate limit (x-ratelimit-name); absent before the first answer carrying it.
# TYPE primetime_datadog_ratelimit_period_seconds gauge
primetime_datadog_ratelimit_period_seconds{name="metric_query"} 3600
# HELP primetime_datadog_ratelimit_remaining Datadog query API calls left in the current rate-limit period (x-ratelimit-remaining), by rate limit (x-ratelimit-name); absent before the first answer carrying it.
# TYPE primetime_datadog_ratelimit_remaining gauge
primetime_datadog_ratelimit_remaining{name="metric_query"} REMAINING
# HELP primetime_datadog_ratelimit_reset_seconds Seconds until the Datadog query API's rate-limit period resets, as the last answer announced it (x-ratelimit-reset), by rate limit (x-ratelimit-name); absent before the first answer carrying it.
# TYPE primetime_datadog_ratelimit_reset_seconds gauge
primetime_datadog_ratelimit_reset_seconds{name="metric_query"} RESET
`

// TestRateLimitGaugesFromTheHeaders: the x-ratelimit-* headers of Datadog's
// answers, lower-case as recorded, become one gauge each, labelled by
// x-ratelimit-name; none exists before the first answer, and a figure an
// answer does not carry keeps the value last announced.
func TestRateLimitGaugesFromTheHeaders(t *testing.T) {
	var mu sync.Mutex
	header := map[string]string{
		"x-ratelimit-limit":     "1600",
		"x-ratelimit-period":    "3600",
		"x-ratelimit-remaining": "1599",
		"x-ratelimit-reset":     "2712",
		"x-ratelimit-name":      "metric_query",
	}
	status := http.StatusOK
	body := okBody("sum:a{*}.rollup(avg,30)", t0.Add(-5*time.Minute), t0,
		seriesJSON(0, "sum:a{*}.rollup(avg,30)", "*", t0.Add(-5*time.Minute), t0, 30*time.Second, lateBuckets(11, 11)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		fixture{status, header, body}.write(w)
	}))
	t.Cleanup(srv.Close)
	h := newHarness(t, func(c *Config) { c.Endpoint = srv.URL })
	answer := func(set func()) {
		mu.Lock()
		set()
		mu.Unlock()
	}
	want := func(remaining, reset string) string {
		return strings.NewReplacer("REMAINING", remaining, "RESET", reset).Replace(rateLimitHelp)
	}
	qs := targetsWithQueries(1, 1)

	for _, name := range rateLimitGauges {
		if n, err := testutil.GatherAndCount(h.reg, name); err != nil || n != 0 {
			t.Errorf("%s: %d series before any answer (%v), want none", name, n, err)
		}
	}

	h.fetch(qs, t0)
	if err := testutil.GatherAndCompare(h.reg, strings.NewReader(want("1599", "2712")), rateLimitGauges...); err != nil {
		t.Errorf("after the first answer: %v", err)
	}

	// An answer with only -remaining and -reset: the limit and the period
	// stay as last announced.
	answer(func() {
		delete(header, "x-ratelimit-limit")
		delete(header, "x-ratelimit-period")
		header["x-ratelimit-remaining"], header["x-ratelimit-reset"] = "1598", "2682"
	})
	h.fetch(qs, t0.Add(30*time.Second))
	if err := testutil.GatherAndCompare(h.reg, strings.NewReader(want("1598", "2682")), rateLimitGauges...); err != nil {
		t.Errorf("after an answer without -limit and -period: %v", err)
	}

	// A 429 carries them too: 0 left, the period resets in 1,200 s.
	answer(func() {
		status, body = http.StatusTooManyRequests, `{"errors":["Rate limit of 1600 requests in 3600 seconds reached. Please try again later."]}`
		header["x-ratelimit-limit"], header["x-ratelimit-period"] = "1600", "3600"
		header["x-ratelimit-remaining"], header["x-ratelimit-reset"] = "0", "1200"
	})
	h.fetch(qs, t0.Add(time.Minute))
	if err := testutil.GatherAndCompare(h.reg, strings.NewReader(want("0", "1200")), rateLimitGauges...); err != nil {
		t.Errorf("after a 429: %v", err)
	}
}
