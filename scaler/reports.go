package scaler

import (
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/record"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/policies"
)

// ReasonWindowReport is the reason of the Event that tells, on the windows
// ConfigMap, what a window occurrence really did.
const ReasonWindowReport = "WindowReport"

// ReportSink receives each window report once the occurrence's floor or
// cap is released.
type ReportSink interface {
	Report(r policies.WindowReport)
}

// ConfigMapRefs finds the ConfigMap a window was read from
// (configwatch.Store).
type ConfigMapRefs interface {
	Ref(namespace, name string) (*corev1.ObjectReference, bool)
}

// WindowReporter records window reports as Events on the windows'
// ConfigMaps, log lines and metrics.
type WindowReporter struct {
	Recorder record.EventRecorder
	Refs     ConfigMapRefs
	Log      *zap.Logger
	// Carbon is the grams of CO2e of one replica-hour (serve's
	// --carbon-intensity); absent, nothing is said of carbon.
	Carbon ground.Opt[float64]

	peak, expected *prometheus.GaugeVec
	replicaHours   *prometheus.CounterVec
	co2e           *prometheus.CounterVec // nil without Carbon
	reports        prometheus.Counter
}

var _ ReportSink = (*WindowReporter)(nil)

// NewWindowReporter returns a reporter whose metrics are registered on reg:
// primetime_window_peak_ratio and primetime_window_expected_ratio
// {namespace,target,window} (the last report of each window and target),
// primetime_window_replica_hours{effect="added"|"saved"} and
// primetime_window_reports_total; with carbon (grams of CO2e per
// replica-hour), primetime_window_co2e_grams{effect="added"|"saved"} too,
// and the sentences give the grams.
func NewWindowReporter(reg prometheus.Registerer, recorder record.EventRecorder, refs ConfigMapRefs, log *zap.Logger, carbon ground.Opt[float64]) *WindowReporter {
	r := &WindowReporter{Recorder: recorder, Refs: refs, Log: log, Carbon: carbon,
		peak: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "primetime_window_peak_ratio",
			Help: "Peak load over the baseline in the last report of each window and target.",
		}, []string{"namespace", "target", "window"}),
		expected: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "primetime_window_expected_ratio",
			Help: "The multiplier the window stated, in the last report of each window and target.",
		}, []string{"namespace", "target", "window"}),
		replicaHours: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "primetime_window_replica_hours",
			Help: "Replica-hours added by window floors over tracking (effect=added) and saved by quiet windows below it (effect=saved), from the window reports.",
		}, []string{"effect"}),
		reports: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "primetime_window_reports_total",
			Help: "Window reports written, one per window occurrence and target once its floor or cap is released.",
		}),
	}
	reg.MustRegister(r.peak, r.expected, r.replicaHours, r.reports)
	r.replicaHours.WithLabelValues("added")
	r.replicaHours.WithLabelValues("saved")
	if carbon.OK {
		r.co2e = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "primetime_window_co2e_grams",
			Help: "Grams of CO2e of the replica-hours added by window floors (effect=added) and saved by quiet windows (effect=saved), at --carbon-intensity.",
		}, []string{"effect"})
		reg.MustRegister(r.co2e)
		r.co2e.WithLabelValues("added")
		r.co2e.WithLabelValues("saved")
	}
	return r
}

// Report records r.
func (w *WindowReporter) Report(r policies.WindowReport) {
	sentence := r.SentenceWith(w.Carbon)
	w.reports.Inc()
	w.replicaHours.WithLabelValues("added").Add(r.AddedReplicaHours)
	w.replicaHours.WithLabelValues("saved").Add(r.SavedReplicaHours)
	if w.co2e != nil && w.Carbon.OK {
		w.co2e.WithLabelValues("added").Add(r.AddedReplicaHours * w.Carbon.V)
		w.co2e.WithLabelValues("saved").Add(r.SavedReplicaHours * w.Carbon.V)
	}
	if v := r.Ratio(); v.OK {
		w.peak.WithLabelValues(r.Target.Namespace, r.Target.Name, r.Window).Set(v.V)
	}
	if v := r.ExpectedRatio(); v.OK {
		w.expected.WithLabelValues(r.Target.Namespace, r.Target.Name, r.Window).Set(v.V)
	}
	if w.Log != nil {
		w.Log.Info("window report", zap.String("window", r.Window), zap.String("target", r.Target.String()), zap.String("report", sentence))
	}
	if w.Recorder == nil {
		return
	}
	ns, name, ok := r.Origin.ConfigMap()
	if !ok {
		return // a window read from a file: the log line is the report
	}
	ref := &corev1.ObjectReference{Kind: "ConfigMap", APIVersion: "v1", Namespace: ns, Name: name}
	if w.Refs != nil {
		if known, ok := w.Refs.Ref(ns, name); ok {
			ref = known
		}
	}
	w.Recorder.Event(ref, corev1.EventTypeNormal, ReasonWindowReport, sentence)
}
