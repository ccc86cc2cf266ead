package config

import (
	"fmt"
	"time"

	"github.com/primetime-dev/primetime/ground"
)

// StartsFunc returns the starts of window w in [from, to): the
// calendar's (policies.Starts), which this package cannot import.
type StartsFunc func(w *ground.Window, from, to time.Time) []time.Time

// Timing returns advice that depends on the time now: one-off windows
// entirely in the past, and one-off windows that overlap on a target with
// different multipliers (the higher floor wins, which is rarely what was
// meant), with each other and, when starts is given, with the occurrences
// of recurring windows. Two recurring windows are not compared: their
// overlaps are a plan's business. The entries still apply.
func Timing(targets []ground.Target, windows []ground.Window, now time.Time, starts StartsFunc) Problems {
	var out Problems
	for i := range windows {
		w := &windows[i]
		if w.Cron != nil {
			continue
		}
		if end := w.Start.Add(w.Duration); !end.After(now) {
			out = append(out, windowWarning(w, "start", fmt.Sprintf("the window ended at %s, before now: it will never apply; remove it or fix its date",
				end.In(zoneOr(w.Location)).Format("2006-01-02 15:04 MST"))))
		}
	}
	for i := range windows {
		a := &windows[i]
		if a.Cron != nil || a.Quiet || a.Demand.Kind != ground.DemandMultiplier {
			continue
		}
		for j := i + 1; j < len(windows); j++ {
			b := &windows[j]
			if b.Cron != nil || b.Quiet || b.Demand.Kind != ground.DemandMultiplier || a.Demand.Value == b.Demand.Value {
				continue
			}
			from, to := later(a.Start, b.Start), earlier(a.Start.Add(a.Duration), b.Start.Add(b.Duration))
			if !from.Before(to) {
				continue
			}
			for k := range targets {
				key := targets[k].Key()
				if !a.Selects(key) || !b.Selects(key) {
					continue
				}
				loc := zoneOr(a.Location)
				out = append(out, windowWarning(b, "expect", fmt.Sprintf("%s overlaps window %q (%s) on %s from %s to %s: the higher floor wins there; give both the same multiplier or move one",
					b.Demand, a.Name, a.Demand, key, from.In(loc).Format("2006-01-02 15:04"), to.In(loc).Format("15:04 MST"))))
				break
			}
		}
	}
	if starts != nil {
		out = append(out, recurringOverlaps(targets, windows, starts)...)
	}
	return out
}

// recurringOverlaps warns of one-off windows that overlap an occurrence of
// a recurring window on a target with a different multiplier, on the
// one-off window (usually the new booking).
func recurringOverlaps(targets []ground.Target, windows []ground.Window, starts StartsFunc) Problems {
	var out Problems
	for i := range windows {
		b := &windows[i]
		if b.Cron != nil || b.Quiet || b.Demand.Kind != ground.DemandMultiplier {
			continue
		}
		bEnd := b.Start.Add(b.Duration)
	next:
		for j := range windows {
			a := &windows[j]
			if a.Cron == nil || a.Quiet || a.Demand.Kind != ground.DemandMultiplier || a.Demand.Value == b.Demand.Value {
				continue
			}
			for _, s := range starts(a, b.Start.Add(-a.Duration), bEnd) {
				from, to := later(s, b.Start), earlier(s.Add(a.Duration), bEnd)
				if !from.Before(to) {
					continue
				}
				for k := range targets {
					key := targets[k].Key()
					if a.Selects(key) && b.Selects(key) {
						loc := zoneOr(b.Location)
						out = append(out, windowWarning(b, "expect", fmt.Sprintf("%s overlaps window %q (%s) on %s from %s to %s: the higher floor wins there; give both the same multiplier or move one",
							b.Demand, a.Name, a.Demand, key, from.In(loc).Format("2006-01-02 15:04"), to.In(loc).Format("15:04 MST"))))
						continue next
					}
				}
			}
		}
	}
	return out
}

func zoneOr(loc *time.Location) *time.Location {
	if loc == nil {
		return time.UTC
	}
	return loc
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
