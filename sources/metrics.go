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
	ddLimit    *prometheus.GaugeVec
	ddPeriod   *prometheus.GaugeVec
	ddBudget   *prometheus.GaugeVec
	ddReset    *prometheus.GaugeVec
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
		// Vectors, so that each is absent until Datadog's first answer
		// carried its header: never a made-up 0.
		ddLimit: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "primetime_datadog_ratelimit_limit",
			Help: "Datadog query API calls the organisation may make per rate-limit period (x-ratelimit-limit), by rate limit (x-ratelimit-name); absent before the first answer carrying it.",
		}, []string{"name"}),
		ddPeriod: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "primetime_datadog_ratelimit_period_seconds",
			Help: "Length of the Datadog query API's rate-limit period (x-ratelimit-period), by rate limit (x-ratelimit-name); absent before the first answer carrying it.",
		}, []string{"name"}),
		ddBudget: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "primetime_datadog_ratelimit_remaining",
			Help: "Datadog query API calls left in the current rate-limit period (x-ratelimit-remaining), by rate limit (x-ratelimit-name); absent before the first answer carrying it.",
		}, []string{"name"}),
		ddReset: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "primetime_datadog_ratelimit_reset_seconds",
			Help: "Seconds until the Datadog query API's rate-limit period resets, as the last answer announced it (x-ratelimit-reset), by rate limit (x-ratelimit-name); absent before the first answer carrying it.",
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
	reg.MustRegister(m.requests, m.duration, m.ddLimit, m.ddPeriod, m.ddBudget, m.ddReset, m.ddBackoff, m.ddInterval)
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

// DatadogRateLimit is what one Datadog answer announced of its rate limit
// (the x-ratelimit-* headers). Only the fields whose Has flag is set were
// announced; the others are zero and leave their gauge as it was.
type DatadogRateLimit struct {
	// Name is the rate limit's name (x-ratelimit-name), as last announced.
	Name string
	// Limit is the calls allowed per period (x-ratelimit-limit).
	Limit    float64
	HasLimit bool
	// Period is the rate-limit period (x-ratelimit-period).
	Period    time.Duration
	HasPeriod bool
	// Remaining is the calls left in the current period
	// (x-ratelimit-remaining).
	Remaining    float64
	HasRemaining bool
	// Reset is the time until the current period ends (x-ratelimit-reset).
	Reset    time.Duration
	HasReset bool
}

// Announced reports whether the answer carried any of the figures.
func (r DatadogRateLimit) Announced() bool {
	return r.HasLimit || r.HasPeriod || r.HasRemaining || r.HasReset
}

// SetDatadogRateLimit records the figures an answer announced of the rate
// limit named r.Name; a figure it did not carry keeps its last value (or
// stays absent).
func (m *Metrics) SetDatadogRateLimit(r DatadogRateLimit) {
	if m == nil {
		return
	}
	if r.HasLimit {
		m.ddLimit.WithLabelValues(r.Name).Set(r.Limit)
	}
	if r.HasPeriod {
		m.ddPeriod.WithLabelValues(r.Name).Set(r.Period.Seconds())
	}
	if r.HasRemaining {
		m.ddBudget.WithLabelValues(r.Name).Set(r.Remaining)
	}
	if r.HasReset {
		m.ddReset.WithLabelValues(r.Name).Set(r.Reset.Seconds())
	}
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
