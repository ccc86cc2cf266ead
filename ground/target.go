package ground

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// TargetKey identifies a target: its namespace and name.
type TargetKey struct {
	Namespace string
	Name      string
}

// String returns "namespace/name".
func (k TargetKey) String() string { return k.Namespace + "/" + k.Name }

// ParseTargetKey reads "namespace/name"; false when either is empty or
// there is no slash.
func ParseTargetKey(s string) (TargetKey, bool) {
	ns, name, ok := strings.Cut(s, "/")
	if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
		return TargetKey{}, false
	}
	return TargetKey{Namespace: ns, Name: name}, true
}

// Mode says how primetime acts on a target.
type Mode string

// The modes of SPEC §1.
const (
	// ModeMetric only publishes external metrics for the user's HPA.
	ModeMetric Mode = "metric"
	// ModeHPAFloor raises the HPA's spec.minReplicas during windows.
	ModeHPAFloor Mode = "hpa-floor"
	// ModeScale writes the workload's /scale subresource.
	ModeScale Mode = "scale"
)

// Origin says where an entry was written.
type Origin struct {
	// File is the file name or "namespace/configmap[key]".
	File string
	// Line is the line of the entry's first field.
	Line int
}

// String returns FILE:LINE.
func (o Origin) String() string { return fmt.Sprintf("%s:%d", o.File, o.Line) }

// ConfigMap returns the namespace and name of the ConfigMap the entry was
// read from ("namespace/name[key]"); false for an entry of a file.
func (o Origin) ConfigMap() (namespace, name string, ok bool) {
	ref, _, found := strings.Cut(o.File, "[")
	if !found {
		return "", "", false
	}
	namespace, name, ok = strings.Cut(ref, "/")
	return namespace, name, ok && namespace != "" && name != ""
}

// ScaleTargetRef names the workload a target scales.
type ScaleTargetRef struct {
	// APIVersion defaults to apps/v1 for Deployment and StatefulSet.
	APIVersion string
	// Kind is Deployment, StatefulSet or any kind with a /scale subresource.
	Kind string
	// Name is the workload's name in the target's namespace.
	Name string
}

// SourceKind names a load source.
type SourceKind string

// The load sources a target can use.
const (
	SourcePrometheus SourceKind = "prometheus"
	SourceDatadog    SourceKind = "datadog"
	SourceScrape     SourceKind = "scrape"
	SourceKubernetes SourceKind = "kubernetes"
)

// SourceKinds lists every source kind, in a fixed order.
var SourceKinds = []SourceKind{SourcePrometheus, SourceDatadog, SourceScrape, SourceKubernetes}

// ScrapeSpec reads a counter straight from the target's pods.
type ScrapeSpec struct {
	// Selector is a label selector for the pods.
	Selector string
	// Port is the pods' metrics port.
	Port int32
	// Path is the metrics path; default /metrics.
	Path string
	// Counter is the counter whose rate, summed over the pods, is the load.
	Counter string
}

// KubernetesSpec reads the resource usage of the target's pods from the
// Kubernetes resource metrics API (metrics.k8s.io).
type KubernetesSpec struct {
	// Selector is a label selector for the pods.
	Selector string
	// Resource is the resource whose usage is the load: "cpu", in cores.
	Resource string
}

// LoadSpec is a target's load source: exactly one of its fields is set.
type LoadSpec struct {
	// Prometheus is a PromQL expression returning one number.
	Prometheus string
	// Datadog is a Datadog metrics query returning one series.
	Datadog string
	// Scrape reads the pods' own metrics endpoints.
	Scrape *ScrapeSpec
	// Kubernetes reads the pods' CPU usage from metrics.k8s.io.
	Kubernetes *KubernetesSpec
}

// Kind returns which source the spec uses.
func (l LoadSpec) Kind() SourceKind {
	switch {
	case l.Prometheus != "":
		return SourcePrometheus
	case l.Datadog != "":
		return SourceDatadog
	case l.Kubernetes != nil:
		return SourceKubernetes
	default:
		return SourceScrape
	}
}

// ForecastSpec turns on the seasonal baseline: the load at the same time in
// the past Lookback seasons.
type ForecastSpec struct {
	// Seasonality is the season's length, e.g. 168h for a week.
	Seasonality time.Duration
	// Lookback is how many past seasons are looked at.
	Lookback int
}

// Target is one validated workload entry of a targets file.
type Target struct {
	Name               string
	Namespace          string
	ScaleTargetRef     ScaleTargetRef
	Load               LoadSpec
	CapacityPerReplica float64
	MinReplicas        int32
	MaxReplicas        int32
	// LeadTime is how long before a window's start its floor starts; with
	// LeadLearned, the longest it may be (maxLeadTime).
	LeadTime time.Duration
	// LeadLearned ("leadTime: learned"): the lead is what the target's
	// reports show its pods needed, plus a margin, within MinLeadTime and
	// LeadTime.
	LeadLearned bool
	// MinLeadTime is the shortest learned lead (minLeadTime).
	MinLeadTime time.Duration
	Mode        Mode
	// Forecast is nil when forecasting is off.
	Forecast *ForecastSpec
	// Clusters, when not empty, limits the target to daemons started with
	// one of these --cluster names.
	Clusters []string
	// DryRun decides, logs and reports (metrics, Events saying "would")
	// but writes nothing to the cluster.
	DryRun bool
	// Behavior paces scale mode as an HPA would. In metric mode, when
	// PacePublished, its scale-down stabilisation paces the descent of
	// primetime_replicas itself, so that the HPA can be left with none
	// and window floors step down at primetime's pace.
	Behavior      Behavior
	PacePublished bool
	// Nodes, when set, reserves node capacity ahead of window floors with
	// placeholder pods.
	Nodes *NodesSpec
	// LearnedHeadroom is added to the highest peak ratio of a learning
	// group's reports for an "expect: learned" window (0.1 is 10%).
	LearnedHeadroom float64
	Origin          Origin
}

// NodesSpec is a target's "nodes:": placeholder pods, with the
// workload's requests and scheduling constraints and a priority below
// every workload, reserve the capacity a window's floor will need from
// LeadTime before the floor starts, so that the node autoscaler adds nodes
// in time and the real pods preempt the placeholders.
type NodesSpec struct {
	LeadTime time.Duration
}

// DefaultLearnedHeadroom is the headroom of learned multipliers when a
// target gives none: 10%.
const DefaultLearnedHeadroom = 0.1

// Behavior is how scale mode moves a workload's replicas when no window
// floor sets them, as the HPA's behavior field does.
type Behavior struct {
	// Tolerance: a change of at most this fraction of the current
	// replicas is not made (the HPA's 10%).
	Tolerance float64
	// ScaleDownStabilization: a scale-down goes only to the highest
	// replicas wanted over this window (the HPA's 300 s).
	ScaleDownStabilization time.Duration
}

// DefaultBehavior is the HPA's own: 10% tolerance, 300 s scale-down
// stabilisation.
var DefaultBehavior = Behavior{Tolerance: 0.1, ScaleDownStabilization: 300 * time.Second}

// Key returns the target's namespace and name.
func (t *Target) Key() TargetKey { return TargetKey{Namespace: t.Namespace, Name: t.Name} }

// InCluster reports whether a daemon started with --cluster=name acts on t.
func (t *Target) InCluster(name string) bool {
	return len(t.Clusters) == 0 || slices.Contains(t.Clusters, name)
}
