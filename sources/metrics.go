package sources

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/primetime-dev/primetime/policies/config"
)

// Metrics are the sources' Prometheus metrics (SPEC §3).
type Metrics struct {
	requests  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	dataAge   *prometheus.GaugeVec
	ddBudget  prometheus.Gauge
	ddBackoff prometheus.Gauge
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
		dataAge: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "primetime_source_data_age_seconds",
			Help: "Age of the newest load value of each target.",
		}, []string{"source", "namespace", "target"}),
		ddBudget: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "primetime_datadog_ratelimit_remaining",
			Help: "Datadog query API calls left in the current rate-limit period (X-RateLimit-Remaining).",
		}),
		ddBackoff: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "primetime_datadog_backoff_seconds",
			Help: "Current Datadog back-off; 0 when calls are allowed.",
		}),
	}
	reg.MustRegister(m.requests, m.duration, m.dataAge, m.ddBudget, m.ddBackoff)
	return m
}

// ObserveRequest counts one request and its duration.
func (m *Metrics) ObserveRequest(source config.SourceKind, outcome Outcome, d time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(string(source), string(outcome)).Inc()
	m.duration.WithLabelValues(string(source)).Observe(d.Seconds())
}

// SetDataAge sets a target's data age.
func (m *Metrics) SetDataAge(source config.SourceKind, namespace, target string, age time.Duration) {
	if m == nil {
		return
	}
	m.dataAge.WithLabelValues(string(source), namespace, target).Set(age.Seconds())
}

// DeleteDataAge removes a target's data age series.
func (m *Metrics) DeleteDataAge(source config.SourceKind, namespace, target string) {
	if m == nil {
		return
	}
	m.dataAge.DeleteLabelValues(string(source), namespace, target)
}

// SetDatadogRateLimit records the Datadog budget and back-off.
func (m *Metrics) SetDatadogRateLimit(remaining float64, backoff time.Duration) {
	if m == nil {
		return
	}
	m.ddBudget.Set(remaining)
	m.ddBackoff.Set(backoff.Seconds())
}
