package config

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/primetime-dev/primetime/ground"
)

// CrossCheck looks at targets and windows together and returns advice:
// each selector of a window that selects none of the targets (with the
// closest target or namespace when one is within two typos), quiet windows
// that cannot reach their cap in the target's mode, and demands that a
// target's bounds clamp (see clampAdvice). The entries still apply. With
// no targets it says nothing: there is nothing to check against.
func CrossCheck(targets []ground.Target, windows []ground.Window) Problems {
	var out Problems
	if len(targets) == 0 {
		return out
	}
	idx := newTargetIndex(targets)
	for i := range windows {
		w := &windows[i]
		warn := func(field, format string, args ...any) {
			out = append(out, windowWarning(w, field, fmt.Sprintf(format, args...)))
		}
		for _, sel := range w.Targets {
			if msg := idx.selectorAdvice(sel); msg != "" {
				warn("targets", "%s", msg)
			}
		}
		for j := range targets {
			t := &targets[j]
			if !w.Selects(t.Key()) {
				continue
			}
			if w.Quiet && w.Demand.Value < 1 && t.Mode != ground.ModeScale {
				warn("replicas", "target %s uses mode %s: an HPA cannot go below 1 replica unless the cluster allows scale-to-zero, so this cap stops at 1; use mode: scale to reach 0", t.Key(), t.Mode)
			}
			if field, msg := clampAdvice(w, t); msg != "" {
				warn(field, "%s", msg)
			}
		}
	}
	return out
}

// windowWarning is advice on window w.
func windowWarning(w *ground.Window, field, reason string) Problem {
	return Problem{File: w.Origin.File, Line: w.Origin.Line, Kind: KindWindow, Entry: w.Name, Field: field, Reason: reason, Warning: true}
}

// demandField names the field a window's demand was written in.
func demandField(w *ground.Window) string {
	if w.Demand.Kind == ground.DemandReplicas {
		return "replicas"
	}
	return "expect"
}

// clampAdvice says when a window's floor is bounded by target t rather than
// by what it asks for:
//   - replicas: N above maxReplicas (the floor stops at maxReplicas), or
//     below minReplicas (it sets no floor there);
//   - an absolute load needing more than maxReplicas replicas;
//   - a multiplier N with N × minReplicas > maxReplicas. The floor of "Nx"
//     depends on the baseline load, which lint does not know; but the
//     baseline of a running target is rarely below what its minReplicas
//     serve, and from that baseline on the floor would stop at
//     maxReplicas. The message also gives the baseline load above which
//     the floor is clamped: maxReplicas × capacityPerReplica / N.
func clampAdvice(w *ground.Window, t *ground.Target) (string, string) {
	if w.Quiet {
		return "", ""
	}
	d := w.Demand
	switch d.Kind {
	case ground.DemandReplicas:
		n := int64(d.Value)
		switch {
		case n > int64(t.MaxReplicas):
			return "replicas", fmt.Sprintf("%d is clamped on %s: the floor stops at its maxReplicas %d", n, t.Key(), t.MaxReplicas)
		case n > 0 && n <= int64(t.MinReplicas):
			return "replicas", fmt.Sprintf("%d sets no floor on %s: its minReplicas is %d already", n, t.Key(), t.MinReplicas)
		}
	case ground.DemandLoad:
		if t.CapacityPerReplica <= 0 {
			return "", ""
		}
		need := math.Ceil(d.Value/t.CapacityPerReplica - 1e-9)
		if need > float64(t.MaxReplicas) {
			return "expect", fmt.Sprintf("%s is clamped on %s: it needs %s replicas at %s per replica, more than its maxReplicas %d, so the floor stops at %d",
				formatNumber(d.Value), t.Key(), formatNumber(need), formatNumber(t.CapacityPerReplica), t.MaxReplicas, t.MaxReplicas)
		}
	case ground.DemandMultiplier:
		if t.MinReplicas > 0 && d.Value*float64(t.MinReplicas) > float64(t.MaxReplicas) {
			above := float64(t.MaxReplicas) * t.CapacityPerReplica / d.Value
			return "expect", fmt.Sprintf("%s is clamped on %s: even from its minReplicas %d it asks for %s replicas, more than its maxReplicas %d, so the floor stops at %d (whenever the usual load is above %s)",
				d, t.Key(), t.MinReplicas, formatNumber(math.Ceil(d.Value*float64(t.MinReplicas)-1e-9)), t.MaxReplicas, t.MaxReplicas, formatNumber(above))
		}
	}
	return "", ""
}

// formatNumber writes a number briefly: 12000, 16.67.
func formatNumber(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// targetIndex holds the target names a selector is checked against.
type targetIndex struct {
	keys       []string            // "namespace/name", sorted
	namespaces []string            // sorted
	names      map[string][]string // namespace -> names, sorted
	targets    []ground.Target
}

func newTargetIndex(targets []ground.Target) *targetIndex {
	idx := &targetIndex{names: map[string][]string{}, targets: targets}
	for i := range targets {
		k := targets[i].Key()
		idx.keys = append(idx.keys, k.String())
		if idx.names[k.Namespace] == nil {
			idx.namespaces = append(idx.namespaces, k.Namespace)
		}
		idx.names[k.Namespace] = append(idx.names[k.Namespace], k.Name)
	}
	sort.Strings(idx.keys)
	sort.Strings(idx.namespaces)
	for _, list := range idx.names {
		sort.Strings(list)
	}
	return idx
}

// maxTypos is the largest edit distance at which lint suggests a name.
const maxTypos = 2

// closest returns the candidate nearest to s within maxTypos edits; the
// first in order on a tie.
func closest(s string, candidates []string) string {
	best, bestDist := "", maxTypos+1
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// selectorAdvice says why sel selects none of the targets, and what was
// probably meant; "" when it selects one.
func (idx *targetIndex) selectorAdvice(sel ground.TargetSelector) string {
	for i := range idx.targets {
		if sel.Matches(idx.targets[i].Key()) {
			return ""
		}
	}
	s := sel.String()
	if sel.Name == "" {
		if ns := closest(sel.Namespace, idx.namespaces); ns != "" {
			return fmt.Sprintf("%s selects no target; did you mean %s/*?", s, ns)
		}
		return fmt.Sprintf("%s selects no target; no target is in namespace %s", s, sel.Namespace)
	}
	if k := closest(s, idx.keys); k != "" {
		return fmt.Sprintf("%s selects no target; did you mean %s?", s, k)
	}
	names := idx.names[sel.Namespace]
	switch {
	case len(names) == 0:
		return fmt.Sprintf("%s selects no target; no target is in namespace %s", s, sel.Namespace)
	case len(names) == 1:
		return fmt.Sprintf("%s selects no target; the only target in %s is %s", s, sel.Namespace, names[0])
	}
	return fmt.Sprintf("%s selects no target; the targets in %s are %s", s, sel.Namespace, listSome(names, 8))
}

// listSome joins up to n items, saying how many more there are.
func listSome(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:n], ", "), len(items)-n)
}
