package sources

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/primetime-dev/primetime/ground"
)

// Metrics are the sources' Prometheus metrics (SPEC §3).
type Metrics struct {
	requests   *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	ddBudget   *prometheus.GaugeVec
	ddBackoff  prometheus.Gauge
	ddInterval *prometheus.GaugeVec
}

// NewMetrics creates the metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "primetime_source_requests_total",
			Help: "Requests made to load sources, by source and outcome (success, no_data, error, timeout, rate_limited).",
		}, []string{"source", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "primetime_source_request_duration_seconds",
			Help:    "Duration of requests to load sources.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"source"}),
		// A vector, so that it is absent until Datadog's first answer
		// carried the header: never a made-up 0.
		ddBudget: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "primetime_datadog_ratelimit_remaining",
			Help: "Datadog query API calls left in the current rate-limit period (x-ratelimit-remaining), by rate limit (x-ratelimit-name); absent before the first answer.",
		}, []string{"name"}),
		ddBackoff: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "primetime_datadog_backoff_seconds",
			Help: "Time left in the current Datadog rate-limit pause (HTTP 429 or a spent budget); 0 when calls are allowed.",
		}),
		ddInterval: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "primetime_datadog_refresh_interval_seconds",
			Help: "Time between two refreshes of the Datadog loads in force, stretched from the base interval to stay within primetime's share of the rate-limit budget; absent before the first refresh.",
		}, nil),
	}
	reg.MustRegister(m.requests, m.duration, m.ddBudget, m.ddBackoff, m.ddInterval)
	return m
}

// ObserveRequest counts one request and its duration.
func (m *Metrics) ObserveRequest(source ground.SourceKind, outcome Outcome, d time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(string(source), string(outcome)).Inc()
	m.duration.WithLabelValues(string(source)).Observe(d.Seconds())
}

// SetDatadogRateLimit records the calls left in the period of the rate
// limit named name (x-ratelimit-remaining and x-ratelimit-name).
func (m *Metrics) SetDatadogRateLimit(name string, remaining float64) {
	if m == nil {
		return
	}
	m.ddBudget.WithLabelValues(name).Set(remaining)
}

// SetDatadogBackoff records the time left before Datadog may be called
// again; 0 when calls are allowed.
func (m *Metrics) SetDatadogBackoff(d time.Duration) {
	if m == nil {
		return
	}
	m.ddBackoff.Set(max(d, 0).Seconds())
}

// SetDatadogRefreshInterval records the Datadog refresh interval in force.
func (m *Metrics) SetDatadogRefreshInterval(d time.Duration) {
	if m == nil {
		return
	}
	m.ddInterval.WithLabelValues().Set(d.Seconds())
}
