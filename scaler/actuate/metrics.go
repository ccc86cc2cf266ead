package actuate

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the actuator's Prometheus metrics.
type Metrics struct {
	writes *prometheus.CounterVec
	events *prometheus.CounterVec
	queued prometheus.Gauge
	late   *prometheus.CounterVec
}

// NewMetrics creates the actuator's metrics, registered with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics { return newMetrics(reg) }

func newMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		writes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "primetime_writes_total",
			Help: "Writes to HPAs and workloads, by object kind and outcome (success, conflict, error, dry_run).",
		}, []string{"kind", "outcome"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "primetime_events_total",
			Help: "Kubernetes Events, by reason and outcome: recorded one by one, or summarised (logged and counted past the per-cycle budget).",
		}, []string{"reason", "outcome"}),
		queued: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "primetime_writes_queued",
			Help: "Objects waiting for a write.",
		}),
		late: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "primetime_prescale_late_total",
			Help: "Window starts at which the workload had fewer ready replicas than the window's floor (a PrescaleLate Event each).",
		}, []string{"namespace", "target"}),
	}
	if reg != nil {
		reg.MustRegister(m.writes, m.events, m.queued, m.late)
	}
	return m
}

// WithMetrics sets the metrics the actuator reports to; call before use.
func (a *Actuator) WithMetrics(m *Metrics) *Actuator {
	a.metrics = m
	return a
}
