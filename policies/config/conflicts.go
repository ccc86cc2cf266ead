package config

import (
	"fmt"

	"github.com/primetime-dev/primetime/ground"
)

// Conflict is a target rejected for another one defined before it.
type Conflict struct {
	Rejected, Winner ground.Target
	Problem          Problem
}

// ResolveConflicts keeps, of targets given in priority order, the first
// definition of each target, and the first hpa-floor or scale target of
// each workload (two writers of one HPA or /scale would undo each other
// every cycle). The others are rejected, each with a problem naming the
// target it conflicts with.
func ResolveConflicts(targets []ground.Target) ([]ground.Target, []Conflict) {
	type workload struct{ namespace, kind, name string }
	defined := map[ground.TargetKey]*ground.Target{}
	drivers := map[workload]*ground.Target{}
	kept := make([]ground.Target, 0, len(targets))
	var conflicts []Conflict
	reject := func(t, winner *ground.Target, field, format string, args ...any) {
		conflicts = append(conflicts, Conflict{Rejected: *t, Winner: *winner, Problem: Problem{File: t.Origin.File, Line: t.Origin.Line,
			Kind: KindTarget, Entry: t.Name, Field: field, Reason: fmt.Sprintf(format, args...)}})
	}
	for i := range targets {
		t := &targets[i]
		if first, dup := defined[t.Key()]; dup {
			reject(t, first, "name", "target %s is already defined in %s", t.Key(), where(first.Origin))
			continue
		}
		if t.Mode == ground.ModeHPAFloor || t.Mode == ground.ModeScale {
			w := workload{t.Namespace, t.ScaleTargetRef.Kind, t.ScaleTargetRef.Name}
			if other, taken := drivers[w]; taken {
				reject(t, other, "scaleTargetRef", "%s %s/%s is already driven by %s target %s (%s); one workload takes one hpa-floor or scale target",
					w.kind, w.namespace, w.name, other.Mode, other.Key(), where(other.Origin))
				continue
			}
			drivers[w] = t
		}
		defined[t.Key()] = t
		kept = append(kept, *t)
	}
	return kept, conflicts
}

// where names an entry's origin for messages: its ConfigMap, or FILE:LINE.
func where(o ground.Origin) string {
	if ns, name, ok := o.ConfigMap(); ok {
		return "ConfigMap " + ns + "/" + name
	}
	return o.String()
}

// ResolveConflicts applies ResolveConflicts to the result's targets, in
// the order they were read, adding the rejections to its problems.
func (r *Result) ResolveConflicts() {
	kept, conflicts := ResolveConflicts(r.Targets)
	r.Targets = kept
	for _, c := range conflicts {
		r.Problems = append(r.Problems, c.Problem)
	}
}
