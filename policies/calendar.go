package policies

import (
	"sort"
	"time"

	"github.com/primetime-dev/primetime/ground"
)

// Occurrence is one instance of a window: a one-off window has one, a
// recurring window one per cron match.
type Occurrence struct {
	Window *ground.Window
	Start  time.Time
	End    time.Time
}

// Starts calls fn with each start of w in [from, to), in order, until fn
// returns false. Recurring windows are evaluated on the wall clock of their
// zone with the DST rules of ground.ResolveLocal: a start in a spring-forward
// gap begins when the clocks jump, an ambiguous one at its first occurrence.
// A start whose date on the window's wall clock is one of its Except dates
// is skipped.
func Starts(w *ground.Window, from, to time.Time, fn func(time.Time) bool) {
	if w.Cron == nil {
		if !w.Start.Before(from) && w.Start.Before(to) && !Excepted(w, w.Start) {
			fn(w.Start)
		}
		return
	}
	s := w.Cron
	loc := w.Location
	// Walk local calendar days; a day before and after absorb zone offsets.
	day := from.In(loc)
	day = time.Date(day.Year(), day.Month(), day.Day()-1, 12, 0, 0, 0, loc)
	last := to.In(loc)
	lastDay := time.Date(last.Year(), last.Month(), last.Day()+1, 12, 0, 0, 0, loc)
	var prev time.Time
	for ; !day.After(lastDay); day = day.AddDate(0, 0, 1) {
		y, m, d := day.Date()
		if s.Month&(1<<uint(m)) == 0 || !s.DayMatches(d, day.Weekday()) {
			continue
		}
		for h := 0; h < 24; h++ {
			if s.Hour&(1<<uint(h)) == 0 {
				continue
			}
			for mi := 0; mi < 60; mi++ {
				if s.Minute&(1<<uint(mi)) == 0 {
					continue
				}
				t := ground.ResolveLocal(y, m, d, h, mi, 0, loc)
				if !t.After(prev) {
					continue // two wall times in one DST gap start at the same instant
				}
				prev = t
				if t.Before(from) {
					continue
				}
				if !t.Before(to) {
					return
				}
				if Excepted(w, t) {
					continue
				}
				if !fn(t) {
					return
				}
			}
		}
	}
}

// Excepted reports whether a start of w at t is skipped: its date on the
// window's wall clock (not UTC's) is one of the window's Except dates.
func Excepted(w *ground.Window, t time.Time) bool {
	if len(w.Except) == 0 {
		return false
	}
	loc := w.Location
	if loc == nil {
		loc = time.UTC
	}
	d := ground.DateOf(t.In(loc))
	for _, r := range w.Except {
		if r.Contains(d) {
			return true
		}
	}
	return false
}

// Occurrences returns the occurrences of w that start in [from, to).
func Occurrences(w *ground.Window, from, to time.Time) []Occurrence {
	var out []Occurrence
	Starts(w, from, to, func(t time.Time) bool {
		out = append(out, Occurrence{Window: w, Start: t, End: t.Add(w.Duration)})
		return true
	})
	return out
}

// Calendar indexes windows by the targets they select, so that finding the
// windows of one target costs a few map look-ups, not a scan of all windows.
type Calendar struct {
	windows     []*ground.Window
	all         []int
	byNamespace map[string][]int
	byTarget    map[ground.TargetKey][]int
}

// NewCalendar indexes windows. The calendar keeps pointers into the slice.
func NewCalendar(windows []ground.Window) *Calendar {
	c := &Calendar{byNamespace: map[string][]int{}, byTarget: map[ground.TargetKey][]int{}}
	for i := range windows {
		w := &windows[i]
		c.windows = append(c.windows, w)
		idx := len(c.windows) - 1
		wildNS := map[string]bool{}
		everything := false
		for _, s := range w.Targets {
			switch {
			case s.Namespace == "":
				everything = true
			case s.Name == "":
				wildNS[s.Namespace] = true
			}
		}
		if everything {
			c.all = append(c.all, idx)
			continue
		}
		for ns := range wildNS {
			c.byNamespace[ns] = append(c.byNamespace[ns], idx)
		}
		seen := map[ground.TargetKey]bool{}
		for _, s := range w.Targets {
			key := ground.TargetKey{Namespace: s.Namespace, Name: s.Name}
			if s.Name == "" || wildNS[s.Namespace] || seen[key] {
				continue
			}
			seen[key] = true
			c.byTarget[key] = append(c.byTarget[key], idx)
		}
	}
	return c
}

// Windows returns the windows in the calendar.
func (c *Calendar) Windows() []*ground.Window { return c.windows }

// eachWindow calls fn with the index of every window that selects key, once.
func (c *Calendar) eachWindow(key ground.TargetKey, fn func(int)) {
	for _, i := range c.all {
		fn(i)
	}
	for _, i := range c.byNamespace[key.Namespace] {
		fn(i)
	}
	for _, i := range c.byTarget[key] {
		fn(i)
	}
}

// Matching returns the windows that select key.
func (c *Calendar) Matching(key ground.TargetKey) []*ground.Window {
	var out []*ground.Window
	c.eachWindow(key, func(i int) { out = append(out, c.windows[i]) })
	return out
}

// Agenda holds, for one instant, the occurrences of every window that can
// be in force then for a target whose lead time is at most maxLead. It is
// computed once per evaluation cycle and shared by all targets.
type Agenda struct {
	cal *Calendar
	at  time.Time
	occ [][]Occurrence
}

// Agenda computes the occurrences that can matter at instant at.
func (c *Calendar) Agenda(at time.Time, maxLead time.Duration) *Agenda {
	a := &Agenda{cal: c, at: at, occ: make([][]Occurrence, len(c.windows))}
	for i, w := range c.windows {
		// A floor is in force from start-lead until its step-down ends; a
		// cap from start to end.
		from := at.Add(-w.Duration - w.Cooldown - MaxStepDownSpan)
		a.occ[i] = Occurrences(w, from, at.Add(maxLead+time.Nanosecond))
	}
	return a
}

// At returns the instant the agenda was computed for.
func (a *Agenda) At() time.Time { return a.at }

// For appends to buf the occurrences that may concern the target key.
func (a *Agenda) For(key ground.TargetKey, buf []Occurrence) []Occurrence {
	a.cal.eachWindow(key, func(i int) { buf = append(buf, a.occ[i]...) })
	return buf
}

// sortOccurrences orders occurrences by start, then window name.
func sortOccurrences(occs []Occurrence) {
	sort.Slice(occs, func(i, j int) bool {
		if !occs[i].Start.Equal(occs[j].Start) {
			return occs[i].Start.Before(occs[j].Start)
		}
		return occs[i].Window.Name < occs[j].Window.Name
	})
}

// Horizon returns the end of a plan that starts at from: at least min after
// it, and late enough to hold the next occurrence of every window that
// starts within limit of from, through its end, cooldown and the longest
// step-down (MaxStepDownSpan), so that the plan shows when its floor is
// released. Windows entirely in the past, or whose next start is further
// than limit, add nothing.
func Horizon(windows []ground.Window, from time.Time, min, limit time.Duration) time.Time {
	to := from.Add(min)
	for i := range windows {
		w := &windows[i]
		Starts(w, from, from.Add(limit), func(t time.Time) bool {
			if end := t.Add(w.Duration + w.Cooldown + MaxStepDownSpan); end.After(to) {
				to = end
			}
			return false
		})
	}
	return to
}

// MaxStartsBetween bounds the starts StartsBetween returns.
const MaxStartsBetween = 1000

// StartsBetween returns the starts of w in [from, to), at most
// MaxStartsBetween of them (lint's config.StartsFunc).
func StartsBetween(w *ground.Window, from, to time.Time) []time.Time {
	var out []time.Time
	Starts(w, from, to, func(t time.Time) bool {
		out = append(out, t)
		return len(out) < MaxStartsBetween
	})
	return out
}
