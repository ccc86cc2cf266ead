package sources

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestDatadogRateLimitGauges: each figure of a DatadogRateLimit sets its
// gauge only when it was announced; the others stay absent, or keep their
// last value.
func TestDatadogRateLimitGauges(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	// series lists the primetime_datadog_ratelimit_* series, sorted.
	series := func() string {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, mf := range mfs {
			if !strings.HasPrefix(mf.GetName(), "primetime_datadog_ratelimit_") {
				continue
			}
			for _, s := range mf.GetMetric() {
				var labels []string
				for _, l := range s.GetLabel() {
					labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
				}
				out = append(out, fmt.Sprintf("%s{%s} %g", mf.GetName(), strings.Join(labels, ","), s.GetGauge().GetValue()))
			}
		}
		return strings.Join(out, "; ")
	}

	if got := series(); got != "" {
		t.Errorf("before any answer: %s, want none", got)
	}
	m.SetDatadogRateLimit(DatadogRateLimit{Name: "metric_query", Remaining: 12, HasRemaining: true})
	if got, want := series(), `primetime_datadog_ratelimit_remaining{name="metric_query"} 12`; got != want {
		t.Errorf("only -remaining announced:\n got %s\nwant %s", got, want)
	}
	m.SetDatadogRateLimit(DatadogRateLimit{Name: "metric_query", Limit: 1600, HasLimit: true, Period: time.Hour, HasPeriod: true, HasReset: true})
	want := `primetime_datadog_ratelimit_limit{name="metric_query"} 1600; ` +
		`primetime_datadog_ratelimit_period_seconds{name="metric_query"} 3600; ` +
		`primetime_datadog_ratelimit_remaining{name="metric_query"} 12; ` +
		`primetime_datadog_ratelimit_reset_seconds{name="metric_query"} 0`
	if got := series(); got != want {
		t.Errorf("then -limit, -period and a reset of 0:\n got %s\nwant %s", got, want)
	}
	if (DatadogRateLimit{Name: "metric_query"}).Announced() {
		t.Error("a name alone counts as announced")
	}
	var none *Metrics
	none.SetDatadogRateLimit(DatadogRateLimit{Limit: 1, HasLimit: true}) // no panic
}
