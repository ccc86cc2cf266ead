package scaler

import "github.com/prometheus/client_golang/prometheus"

// targetGauge wraps a gauge vector labelled namespace, target, kind.
type targetGauge struct{ v *prometheus.GaugeVec }

func (g *targetGauge) set(ns, target, kind string, value float64) {
	g.v.WithLabelValues(ns, target, kind).Set(value)
}

func (g *targetGauge) del(ns, target, kind string) {
	g.v.DeleteLabelValues(ns, target, kind)
}
