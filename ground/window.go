package ground

import (
	"fmt"
	"time"
)

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
	// Learned: the multiplier is learned from the window reports of Group
	// ("expect: learned"); Demand holds the "initially" multiplier, used
	// until the group has a report for the target.
	Learned bool
	// Group names windows of the same kind, whose reports teach each
	// other; empty when not given.
	Group string
	// ShapeLearned ("shape: learned"): once the learning group has
	// policies' MinShapeReports reports for a target, the floor follows
	// the shape they show (peak, decay, second waves) instead of being
	// held flat to the window's end.
	ShapeLearned bool
	// Quiet makes the window a cap on replicas instead of a floor.
	Quiet    bool
	Cooldown time.Duration
	Targets  []TargetSelector
	// Except lists the dates, on the wall clock of Location, on which a
	// recurring window does not start (holidays); empty for most windows.
	Except []DateRange
	Origin Origin
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

// Cron is a 5-field cron schedule, evaluated on the wall clock of a
// window's zone. Each field is a bit set: bit n is set when the value n
// matches (minute 0-59, hour 0-23, day of month 1-31, month 1-12, day of
// week 0-6 with 0 for Sunday).
type Cron struct {
	// Spec is the expression as written.
	Spec                          string
	Minute, Hour, Dom, Month, Dow uint64
	// DomAny and DowAny say that the day-of-month or day-of-week field was
	// written as "*" (or "?"): cron then requires the other field to
	// match, instead of either.
	DomAny, DowAny bool
}

// DayMatches applies cron's rule for a calendar day: when both
// day-of-month and day-of-week are restricted, either may match;
// otherwise both must.
func (c *Cron) DayMatches(day int, wd time.Weekday) bool {
	domOK := c.Dom&(1<<uint(day)) != 0
	dowOK := c.Dow&(1<<uint(wd)) != 0
	if c.DomAny || c.DowAny {
		return domOK && dowOK
	}
	return domOK || dowOK
}

// Date is a day of the calendar, such as 2026-12-27, in no time zone of
// its own: a window's exceptions are dates on its zone's wall clock.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// DateOf returns the date t shows in its own location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{Year: y, Month: m, Day: d}
}

// Compare returns -1, 0 or +1 as d is before, the same day as, or after o.
func (d Date) Compare(o Date) int {
	a, b := d.Year*10000+int(d.Month)*100+d.Day, o.Year*10000+int(o.Month)*100+o.Day
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// In returns the first instant of the day in loc (DST-correct: a day whose
// midnight does not exist starts when the clocks jump).
func (d Date) In(loc *time.Location) time.Time {
	return ResolveLocal(d.Year, d.Month, d.Day, 0, 0, 0, loc)
}

// String writes the date as users write it: 2006-01-02.
func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day) }

// DateRange is the days from From to To, both included; a single date has
// From equal to To.
type DateRange struct {
	From, To Date
}

// Contains reports whether d is one of the range's days.
func (r DateRange) Contains(d Date) bool { return r.From.Compare(d) <= 0 && d.Compare(r.To) <= 0 }

// String writes the range as users write it: "2026-12-27" or
// "2026-12-24..2027-01-02".
func (r DateRange) String() string {
	if r.From == r.To {
		return r.From.String()
	}
	return r.From.String() + ".." + r.To.String()
}

// LearningGroup is the group whose reports a window learns from and adds
// to: its group, else (a recurring window) the window itself.
func (w *Window) LearningGroup() string {
	if w.Group != "" {
		return w.Group
	}
	return "window " + w.Origin.File + " " + w.Name
}
