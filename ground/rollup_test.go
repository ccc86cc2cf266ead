package ground

import (
	"testing"
	"time"
)

func TestDatadogRollup(t *testing.T) {
	tests := []struct {
		name, query string
		want        time.Duration
	}{
		{"none", "sum:trace.http.request.hits{service:web}.as_rate()", 0},
		{"function and width", "avg:nginx.requests{*}.rollup(avg, 300)", 5 * time.Minute},
		{"width only", "sum:web.hits{*}.rollup(120)", 2 * time.Minute},
		{"no spaces", "sum:web.hits{*}.as_count().rollup(sum,60)", time.Minute},
		{"the widest of an expression", "sum:a{*}.rollup(avg,30) / sum:b{*}.rollup(avg,3600)", time.Hour},
		{"a rollup without a width", "sum:web.hits{*}.rollup(avg)", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DatadogRollup(tt.query); got != tt.want {
				t.Errorf("DatadogRollup(%q) = %s, want %s", tt.query, got, tt.want)
			}
		})
	}
}
