package config

import (
	"fmt"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/primetime-dev/primetime/ground"
)

// KindScaledObject names a KEDA ScaledObject in problems.
const KindScaledObject EntryKind = "ScaledObject"

// kedaDefaultMaxReplicas is KEDA's maxReplicaCount when unset.
const kedaDefaultMaxReplicas = 100

// ScaledObject is what lint reads of a KEDA ScaledObject that has
// primetime triggers (type external or external-push, with metadata
// target, or a scalerAddress naming primetime): enough to check them
// against primetime's targets. primetime itself never reads
// ScaledObjects in the cluster.
type ScaledObject struct {
	File      string
	Line      int
	Namespace string
	Name      string
	// ScaleTargetKind and ScaleTargetName are spec.scaleTargetRef
	// (kind Deployment when unset, as KEDA).
	ScaleTargetKind, ScaleTargetName string
	// MinReplicas and MaxReplicas are minReplicaCount and maxReplicaCount
	// with KEDA's defaults (0 and 100).
	MinReplicas, MaxReplicas int64
	// Triggers are its primetime triggers with a valid target.
	Triggers []KEDATrigger
}

// KEDATrigger is one primetime trigger of a ScaledObject.
type KEDATrigger struct {
	// Index is the trigger's position in spec.triggers, from 0.
	Index  int
	Line   int
	Target ground.TargetKey
}

// entry names the ScaledObject in problems: namespace/name when the
// namespace is set.
func (so *ScaledObject) entry() string {
	if so.Namespace == "" {
		return so.Name
	}
	return so.Namespace + "/" + so.Name
}

// parseScaledObject reads a ScaledObject manifest: its primetime triggers
// are checked on their own (the target's form, the metric type) and
// recorded for CrossCheckKEDA; its fallback is checked for the settings
// that undo a pre-scaling when primetime cannot answer.
func parseScaledObject(res *Result, ctx *docContext, n *yaml.Node, keys map[string]*yaml.Node) {
	so := ScaledObject{File: ctx.file, Line: ctx.lineOf(n.Line), ScaleTargetKind: "Deployment", MaxReplicas: kedaDefaultMaxReplicas}
	if md := keys["metadata"]; md != nil && md.Kind == yaml.MappingNode {
		mk := topKeys(md)
		so.Namespace, so.Name = scalar(mk["namespace"]), scalar(mk["name"])
	}
	r := &entryReporter{problems: &res.Problems, file: ctx.file, lineOf: ctx.lineOf, kind: KindScaledObject, entry: so.entry()}
	spec := keys["spec"]
	if spec == nil || spec.Kind != yaml.MappingNode {
		return
	}
	sk := topKeys(spec)
	if ref := sk["scaleTargetRef"]; ref != nil && ref.Kind == yaml.MappingNode {
		rk := topKeys(ref)
		if k := scalar(rk["kind"]); k != "" {
			so.ScaleTargetKind = k
		}
		so.ScaleTargetName = scalar(rk["name"])
	}
	so.MinReplicas = integerOr(sk["minReplicaCount"], 0)
	so.MaxReplicas = integerOr(sk["maxReplicaCount"], kedaDefaultMaxReplicas)
	triggers := sk["triggers"]
	if triggers == nil || triggers.Kind != yaml.SequenceNode {
		return
	}
	for i, tr := range triggers.Content {
		if tr = resolve(tr); tr.Kind != yaml.MappingNode {
			continue
		}
		tk := topKeys(tr)
		typ := scalar(tk["type"])
		if typ != "external" && typ != "external-push" {
			continue
		}
		var md map[string]*yaml.Node
		if m := tk["metadata"]; m != nil && m.Kind == yaml.MappingNode {
			md = topKeys(m)
		}
		targetNode, hasTarget := md["target"]
		if !hasTarget && !strings.Contains(scalar(md["scalerAddress"]), "primetime") {
			continue // another external scaler
		}
		path := fmt.Sprintf("triggers[%d]", i)
		if !hasTarget {
			r.add(tr.Line, path+".metadata.target", "missing: set it to the primetime target as namespace/name, e.g. target: storefront/web")
			continue
		}
		if mt := scalar(tk["metricType"]); mt != "" && mt != "AverageValue" {
			r.add(tk["metricType"].Line, path+".metricType", "%s: primetime serves replicas with a target of 1 per replica, which only AverageValue (the default) reads as replicas; remove metricType", mt)
		}
		v := strings.TrimSpace(scalar(targetNode))
		ns, name, found := strings.Cut(v, "/")
		if !found || len(validation.IsDNS1123Label(ns)) > 0 || len(validation.IsDNS1123Label(name)) > 0 {
			r.add(targetNode.Line, path+".metadata.target", "%q is not namespace/name of a primetime target, e.g. storefront/web", v)
			continue
		}
		so.Triggers = append(so.Triggers, KEDATrigger{Index: i, Line: ctx.lineOf(targetNode.Line), Target: ground.TargetKey{Namespace: ns, Name: name}})
	}
	if len(so.Triggers) == 0 {
		return
	}
	if fb := sk["fallback"]; fb != nil && fb.Kind == yaml.MappingNode {
		fk := topKeys(fb)
		behavior := scalar(fk["behavior"])
		replicas := integerOr(fk["replicas"], 0)
		if behavior == "" || behavior == "static" {
			r.warn(fb.Line, "fallback.behavior", "%s sets the workload to fallback.replicas (%d) when primetime cannot answer, even in the middle of a pre-scaled window; use currentReplicasIfHigher",
				map[bool]string{true: "unset (static)", false: "static"}[behavior == ""], replicas)
		}
		if replicas == 0 && so.MinReplicas == 0 {
			r.warn(fb.Line, "fallback.replicas", "0 with minReplicaCount 0: KEDA scales the workload to 0 when primetime cannot answer; set fallback.replicas to at least the target's minReplicas")
		}
	}
	res.ScaledObjects = append(res.ScaledObjects, so)
}

// CrossCheckKEDA checks ScaledObjects' primetime triggers against the
// targets given: the target exists, is served as a metric, scales the
// same workload, and KEDA's maxReplicaCount does not cap it. These are
// warnings: the target may be in a file not given.
func CrossCheckKEDA(targets []ground.Target, sos []ScaledObject) Problems {
	if len(targets) == 0 {
		return nil
	}
	byKey := map[ground.TargetKey]*ground.Target{}
	for i := range targets {
		byKey[targets[i].Key()] = &targets[i]
	}
	var out Problems
	for _, so := range sos {
		for _, tr := range so.Triggers {
			warn := func(field, format string, args ...any) {
				out = append(out, Problem{File: so.File, Line: tr.Line, Kind: KindScaledObject, Entry: so.entry(),
					Field: fmt.Sprintf("triggers[%d].%s", tr.Index, field), Reason: fmt.Sprintf(format, args...), Warning: true})
			}
			t := byKey[tr.Target]
			if t == nil {
				warn("metadata.target", "no target %s among the %d targets given: primetime answers NotFound", tr.Target, len(targets))
				continue
			}
			if t.Mode != ground.ModeMetric {
				warn("metadata.target", "target %s uses mode %s: with KEDA use mode: metric (KEDA puts back the minReplicas of the HPA it generates, and scale mode would fight it)", tr.Target, t.Mode)
			}
			if so.ScaleTargetName != "" && (so.ScaleTargetKind != t.ScaleTargetRef.Kind || so.ScaleTargetName != t.ScaleTargetRef.Name) {
				warn("metadata.target", "the ScaledObject scales %s/%s but target %s describes %s/%s", so.ScaleTargetKind, so.ScaleTargetName, tr.Target, t.ScaleTargetRef.Kind, t.ScaleTargetRef.Name)
			}
			if so.MaxReplicas < int64(t.MaxReplicas) {
				warn("metadata.target", "KEDA's HPA stops at maxReplicaCount %d, below target %s's maxReplicas %d: set maxReplicaCount to %d", so.MaxReplicas, tr.Target, t.MaxReplicas, t.MaxReplicas)
			}
		}
	}
	return out
}

// scalar returns a scalar node's value, "" otherwise.
func scalar(n *yaml.Node) string {
	if n = resolve(n); n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

// integerOr returns a scalar node's integer value, def when absent or not
// an integer (KEDA's own validation reports that).
func integerOr(n *yaml.Node, def int64) int64 {
	v, err := strconv.ParseInt(strings.TrimSpace(scalar(n)), 10, 64)
	if err != nil {
		return def
	}
	return v
}
