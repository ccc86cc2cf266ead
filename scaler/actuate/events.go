package actuate

import (
	"fmt"
	"sort"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/record"

	"github.com/primetime-dev/primetime/ground"
)

// Event reasons.
const (
	// ReasonPrescaleStarted: a window's floor came into force (workload).
	ReasonPrescaleStarted = "PrescaleStarted"
	// ReasonPrescaleEnded: the floor was released (workload).
	ReasonPrescaleEnded = "PrescaleEnded"
	// ReasonPrescaleOverridden: someone else changed what primetime wrote;
	// their value is kept (workload).
	ReasonPrescaleOverridden = "PrescaleOverridden"
	// ReasonPrescaleRestored: a value primetime raised was restored because
	// no target holds the object any more (workload).
	ReasonPrescaleRestored = "PrescaleRestored"
	// ReasonPrescaleLate: at a window's start the workload had fewer
	// ready replicas than the floor (workload).
	ReasonPrescaleLate = "PrescaleLate"
	// ReasonPrescaleReady: a late window's floor became ready, with the
	// lead time that would have been enough (workload).
	ReasonPrescaleReady = "PrescaleReady"
	// ReasonBaselineUnknown: an "Nx" window sets no floor, for want of a
	// baseline known from before its floor started (workload).
	ReasonBaselineUnknown = "BaselineUnknown"
	// ReasonDryRun: what a dryRun target would have written (workload).
	ReasonDryRun = "DryRun"
	// ReasonEventsSummarised: more Events in one cycle than the budget,
	// counted instead (the windows ConfigMap).
	ReasonEventsSummarised = "EventsSummarised"
)

// DefaultEventsPerCycle is how many Events one evaluation cycle records
// one by one; the others are summarised.
const DefaultEventsPerCycle = 200

// eventLog records Events within a budget per cycle. A `*` window over
// thousands of targets would otherwise queue thousands of Events at once,
// more than client-go's broadcaster holds (it drops the excess with no
// trace): past the budget, Events are logged one by one and counted, and
// each window gets one Event on its ConfigMap saying how many were
// summarised.
type eventLog struct {
	rec      record.EventRecorder
	log      *zap.Logger
	perCycle int
	counter  *prometheus.CounterVec

	used      int
	summaries map[summaryKey]int
}

type summaryKey struct {
	reason        string
	namespace, cm string // the window's ConfigMap
	window        string
}

func (e *eventLog) begin() { e.used, e.summaries = 0, nil }

// emit records an Event on obj, or summarises it under the window when
// the cycle's budget is spent. window may be nil.
func (e *eventLog) emit(obj *corev1.ObjectReference, typ, reason string, window *ground.Window, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if e.used < e.perCycle || window == nil {
		e.used++
		e.rec.Event(obj, typ, reason, msg)
		e.count(reason, "recorded")
		return
	}
	ns, cm, ok := window.Origin.ConfigMap()
	if !ok {
		ns, cm = "", window.Origin.File
	}
	if e.summaries == nil {
		e.summaries = map[summaryKey]int{}
	}
	e.summaries[summaryKey{reason: reason, namespace: ns, cm: cm, window: window.Name}]++
	e.count(reason, "summarised")
	e.log.Info("event summarised", zap.String("object", obj.Namespace+"/"+obj.Name), zap.String("reason", reason), zap.String("message", msg))
}

func (e *eventLog) count(reason, outcome string) {
	if e.counter != nil {
		e.counter.WithLabelValues(reason, outcome).Inc()
	}
}

// end records the cycle's summaries on the windows' ConfigMaps.
func (e *eventLog) end() {
	keys := make([]summaryKey, 0, len(e.summaries))
	for k := range e.summaries {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
	for _, k := range keys {
		if k.namespace == "" {
			continue // a file, not a ConfigMap: the log has them
		}
		ref := &corev1.ObjectReference{APIVersion: "v1", Kind: "ConfigMap", Namespace: k.namespace, Name: k.cm}
		e.rec.Eventf(ref, corev1.EventTypeNormal, ReasonEventsSummarised,
			"window %q: %d more %s Events in this cycle than the %d recorded one by one; they are in primetime's log and counted in primetime_events_total{outcome=\"summarised\"}",
			k.window, e.summaries[k], k.reason, e.perCycle)
	}
	e.summaries = nil
}

// describe names an object for messages: Kind namespace/name.
func describe(ref *corev1.ObjectReference) string {
	return strings.TrimSpace(ref.Kind + " " + ref.Namespace + "/" + ref.Name)
}
