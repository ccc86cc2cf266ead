// Package config reads primetime's two user-facing configuration formats,
// targets (written by SREs) and windows (written by anyone), from bare YAML
// files and from ConfigMap manifests, and validates every field.
//
// Parsing never stops at the first problem: each entry is checked on its
// own, a bad entry is reported with its file, line, name, field and reason,
// and the good entries are returned alongside the problems.
package config

import (
	"fmt"
	"sort"
	"time"

	"github.com/robfig/cron/v3"
)

// TargetKey identifies a target: its namespace and name.
type TargetKey struct {
	Namespace string
	Name      string
}

// String returns "namespace/name".
func (k TargetKey) String() string { return k.Namespace + "/" + k.Name }

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
	LeadTime           time.Duration
	Mode               Mode
	// Forecast is nil when forecasting is off.
	Forecast *ForecastSpec
	// Clusters, when not empty, limits the target to daemons started with
	// one of these --cluster names.
	Clusters []string
	Origin   Origin
}

// Key returns the target's namespace and name.
func (t *Target) Key() TargetKey { return TargetKey{Namespace: t.Namespace, Name: t.Name} }

// InCluster reports whether a daemon started with --cluster=name acts on t.
func (t *Target) InCluster(name string) bool {
	if len(t.Clusters) == 0 {
		return true
	}
	for _, c := range t.Clusters {
		if c == name {
			return true
		}
	}
	return false
}

// DemandKind says how a window states its need.
type DemandKind int

// The ways a window can state its need.
const (
	// DemandMultiplier is "Nx": N times the baseline load.
	DemandMultiplier DemandKind = iota + 1
	// DemandLoad is an absolute load, in the target's load units.
	DemandLoad
	// DemandReplicas is a replica count (a floor, or a cap when quiet).
	DemandReplicas
)

// Demand is what a window asks for.
type Demand struct {
	Kind  DemandKind
	Value float64
}

// String writes the demand the way users write it.
func (d Demand) String() string {
	switch d.Kind {
	case DemandMultiplier:
		return fmt.Sprintf("%gx", d.Value)
	case DemandLoad:
		return fmt.Sprintf("%g", d.Value)
	default:
		return fmt.Sprintf("%g replicas", d.Value)
	}
}

// TargetSelector matches targets: namespace/name, namespace/* or *.
type TargetSelector struct {
	// Namespace is empty for "*".
	Namespace string
	// Name is empty for "namespace/*" and "*".
	Name string
}

// Matches reports whether the selector selects key.
func (s TargetSelector) Matches(key TargetKey) bool {
	return (s.Namespace == "" || s.Namespace == key.Namespace) && (s.Name == "" || s.Name == key.Name)
}

// String writes the selector as users write it.
func (s TargetSelector) String() string {
	switch {
	case s.Namespace == "":
		return "*"
	case s.Name == "":
		return s.Namespace + "/*"
	}
	return s.Namespace + "/" + s.Name
}

// DefaultCooldown is how long a window's floor is held after its end.
const DefaultCooldown = 10 * time.Minute

// Window is one validated entry of a windows file.
type Window struct {
	Name     string
	Location *time.Location
	// Start is the start of a one-off window; zero for a recurring one.
	Start time.Time
	// Cron is the schedule of a recurring window; nil for a one-off.
	Cron *Cron
	// Duration is the length of each occurrence.
	Duration time.Duration
	Demand   Demand
	// Quiet makes the window a cap on replicas instead of a floor.
	Quiet    bool
	Cooldown time.Duration
	Targets  []TargetSelector
	Origin   Origin
}

// Selects reports whether the window applies to the target.
func (w *Window) Selects(key TargetKey) bool {
	for _, s := range w.Targets {
		if s.Matches(key) {
			return true
		}
	}
	return false
}

// Cron is a parsed 5-field cron expression, evaluated in a window's zone.
type Cron struct {
	// Spec is the expression as written.
	Spec string
	// Schedule holds the parsed fields.
	Schedule *cron.SpecSchedule
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
