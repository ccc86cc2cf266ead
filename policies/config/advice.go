package config

import "fmt"

// CrossCheck looks at targets and windows together and returns advice:
// windows that select none of the targets, and quiet windows that cannot
// reach their cap in the target's mode. The entries still apply.
func CrossCheck(targets []Target, windows []Window) Problems {
	var out Problems
	for i := range windows {
		w := &windows[i]
		warn := func(field, format string, args ...any) {
			out = append(out, Problem{File: w.Origin.File, Line: w.Origin.Line, Kind: KindWindow, Entry: w.Name,
				Field: field, Reason: fmt.Sprintf(format, args...), Warning: true})
		}
		matched := 0
		for j := range targets {
			t := &targets[j]
			if !w.Selects(t.Key()) {
				continue
			}
			matched++
			if w.Quiet && w.Demand.Value < 1 && t.Mode != ModeScale {
				warn("replicas", "target %s uses mode %s: an HPA cannot go below 1 replica unless the cluster allows scale-to-zero, so this cap stops at 1; use mode: scale to reach 0", t.Key(), t.Mode)
			}
		}
		if matched == 0 && len(targets) > 0 {
			warn("targets", "selects none of the %d targets given", len(targets))
		}
	}
	return out
}
