package scaler

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the engine's Prometheus metrics (SPEC §3).
type Metrics struct {
	load          *prometheus.GaugeVec
	replicas      *prometheus.GaugeVec
	windowActive  *prometheus.GaugeVec
	configEntries *prometheus.GaugeVec
	leader        prometheus.Gauge
	cycle         prometheus.Histogram
	changes       *prometheus.CounterVec
}

// NewMetrics creates the engine metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		load: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "primetime_target_load",
			Help: "Load of each target: observed, forecast, scheduled (behind a window's floor) and effective (the highest).",
		}, []string{"namespace", "target", "kind"}),
		replicas: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "primetime_target_replicas",
			Help: "Replicas of each target: current, desired, floor (windows) and cap (quiet windows).",
		}, []string{"namespace", "target", "kind"}),
		windowActive: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "primetime_window_active",
			Help: "1 while a window acts on a target (from the start of pre-scaling to the end of its step-down, or during a quiet cap), by phase: lead, active, cooldown, step-down, quiet.",
		}, []string{"namespace", "configmap", "window", "target", "phase"}),
		configEntries: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "primetime_config_entries",
			Help: "Configuration entries by kind (targets, windows) and state (valid, invalid).",
		}, []string{"kind", "state"}),
		leader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "primetime_leader",
			Help: "1 on the replica that holds the leader Lease.",
		}),
		cycle: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "primetime_evaluation_duration_seconds",
			Help:    "Duration of one evaluation cycle over all targets.",
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}),
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "primetime_desired_replicas_changes_total",
			Help: "Changes of desired replicas, by the policy that made them.",
		}, []string{"policy"}),
	}
	reg.MustRegister(m.load, m.replicas, m.windowActive, m.configEntries, m.leader, m.cycle, m.changes)
	return m
}

// SetLeader records whether this replica leads.
func (m *Metrics) SetLeader(leading bool) {
	if m == nil {
		return
	}
	v := 0.0
	if leading {
		v = 1
	}
	m.leader.Set(v)
}
