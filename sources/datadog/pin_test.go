package datadog

import (
	"testing"
	"time"
)

// TestPinRollup: every query is sent with one bucket width, live and for
// history, whatever the range asked.
func TestPinRollup(t *testing.T) {
	for _, tc := range []struct {
		name, query, want string
	}{
		{"a gauge", "avg:nginx.requests{app:web}", "avg:nginx.requests{app:web}.rollup(avg,30)"},
		{"a count", "sum:web.hits{*}.as_count()", "sum:web.hits{*}.as_count().rollup(sum,30)"},
		{"a rollup with its interval", "sum:web.hits{*}.as_count().rollup(sum,60)", "sum:web.hits{*}.as_count().rollup(sum,60)"},
		{"a sum without an interval", "sum:web.hits{*}.as_count().rollup(sum)", "sum:web.hits{*}.as_count().rollup(sum,30)"},
		{"a max without an interval, spaced", "max:web.latency{*}.rollup( max )", "max:web.latency{*}.rollup(max,30)"},
		{"a formula of two, one with its interval", "sum:a{*}.rollup(sum) / sum:b{*}.rollup(sum, 120)", "sum:a{*}.rollup(sum,120) / sum:b{*}.rollup(sum, 120)"},
		{"a moving rollup is not a rollup", "moving_rollup(avg:a{*}, 60, 'avg')", "moving_rollup(avg:a{*}.rollup(avg,30), 60, 'avg')"},
		{"a ratio of counts, one with a bare rollup", "sum:err{*}.as_count().rollup(sum) / sum:hits{*}.as_count()",
			"sum:err{*}.as_count().rollup(sum,30) / sum:hits{*}.as_count().rollup(sum,30)"},
		{"a ratio of counts without rollups", "sum:a{*}.as_count() / sum:b{*}.as_count()", "sum:a{*}.as_count().rollup(sum,30) / sum:b{*}.as_count().rollup(sum,30)"},
		{"a count of the whole formula", "(sum:a{*} + sum:b{*}).as_count()", "(sum:a{*}.rollup(sum,30) + sum:b{*}.rollup(sum,30)).as_count()"},
		{"inside a function", "per_second(sum:web.hits{env:prod,service:web}.rollup(sum))", "per_second(sum:web.hits{env:prod,service:web}.rollup(sum,30))"},
		{"fill then count", "sum:web.hits{*}.fill(null, 10).as_count()", "sum:web.hits{*}.fill(null, 10).as_count().rollup(sum,30)"},
		{"a rate", "sum:trace.http.request.hits{service:web,env:prod}.as_rate()", "sum:trace.http.request.hits{service:web,env:prod}.as_rate().rollup(avg,30)"},
		{"an interval only", "avg:a{*}.rollup(60)", "avg:a{*}.rollup(60)"},
		{"a ratio with one side's own interval", "sum:a{*}.as_count().rollup(sum, 60) / sum:b{*}.as_count()",
			"sum:a{*}.as_count().rollup(sum, 60) / sum:b{*}.as_count().rollup(sum,60)"},
		{"a ratio with one bare side and one interval", "sum:a{*}.as_count().rollup(sum,120) / sum:b{*}.as_count().rollup(sum)",
			"sum:a{*}.as_count().rollup(sum,120) / sum:b{*}.as_count().rollup(sum,120)"},
		{"a rollup around a function is the query's own", "default_zero(sum:a{*}).rollup(sum, 900).as_count()", "default_zero(sum:a{*}).rollup(sum, 900).as_count()"},
		{"a bare rollup around a formula", "(sum:a{*} + sum:b{*}).rollup(sum)", "(sum:a{*} + sum:b{*}).rollup(sum,30)"},
		{"a space before a method", "sum:a{*} .as_count()", "sum:a{*} .as_count().rollup(sum,30)"},
		{"tags with IN and negation", "sum:a{env IN (prod,staging),!host:x-1}.as_count()", "sum:a{env IN (prod,staging),!host:x-1}.as_count().rollup(sum,30)"},
		{"a constant factor", "sum:a{*} * 100", "sum:a{*}.rollup(avg,30) * 100"},
		{"no term recognised", "a_function_primetime_does_not_know()", "a_function_primetime_does_not_know().rollup(avg,30)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := PinRollup(tc.query, 30*time.Second); got != tc.want {
				t.Errorf("PinRollup(%q) = %q, want %q", tc.query, got, tc.want)
			}
		})
	}
}

// BenchmarkPinRollup: what pinning a query costs, parsed each time and
// as a refresh does it (kept by the source).
func BenchmarkPinRollup(b *testing.B) {
	const q = "sum:trace.http.request.hits{service:web,env:prod}.as_count() / sum:trace.http.request.errors{service:web,env:prod}.as_count()"
	b.Run("parsed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			PinRollup(q, 30*time.Second)
		}
	})
	b.Run("kept", func(b *testing.B) {
		s := &Source{cfg: Config{Rollup: 30 * time.Second}}
		b.ReportAllocs()
		for b.Loop() {
			s.pin(q)
		}
	})
}
