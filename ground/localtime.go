package ground

import "time"

// ResolveLocal returns the instant at which a wall clock in loc shows the
// given date and time, following the DST rules of the product contract: a
// time that does not exist (spring forward) resolves to the next valid
// instant, the moment the clocks jump; an ambiguous one (fall back) resolves
// to its first occurrence.
func ResolveLocal(year int, month time.Month, day, hour, minute, sec int, loc *time.Location) time.Time {
	wall := time.Date(year, month, day, hour, minute, sec, 0, time.UTC)
	_, offBefore := wall.Add(-24 * time.Hour).In(loc).Zone()
	_, offAfter := wall.Add(24 * time.Hour).In(loc).Zone()
	early := wall.Add(-time.Duration(offAfter) * time.Second)
	late := wall.Add(-time.Duration(offBefore) * time.Second)
	if early.After(late) {
		early, late = late, early
	}
	shows := func(t time.Time) bool {
		l := t.In(loc)
		return l.Year() == year && l.Month() == month && l.Day() == day &&
			l.Hour() == hour && l.Minute() == minute && l.Second() == sec
	}
	switch {
	case shows(early):
		return early.In(loc)
	case shows(late):
		return late.In(loc)
	}
	// In a gap: the clocks jumped over this wall time. Both candidates lie
	// on either side of the jump; the later one's zone starts at the jump.
	if start, _ := late.In(loc).ZoneBounds(); !start.IsZero() && !start.After(late) {
		return start.In(loc)
	}
	return late.In(loc)
}
