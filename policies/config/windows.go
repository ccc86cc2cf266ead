package config

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // time zones must work in a scratch image

	"github.com/primetime-dev/primetime/ground"
	"github.com/robfig/cron/v3"
	yaml "go.yaml.in/yaml/v3"
)

// The raw forms below are the windows format of SPEC §2.

type windowsDocRaw struct {
	Timezone field `yaml:"timezone"`
	Windows  field `yaml:"windows"`
}

type windowRaw struct {
	Name      field `yaml:"name"`
	Timezone  field `yaml:"timezone"`
	Start     field `yaml:"start"`
	End       field `yaml:"end"`
	Duration  field `yaml:"duration"`
	Cron      field `yaml:"cron"`
	Expect    field `yaml:"expect"`
	Replicas  field `yaml:"replicas"`
	Quiet     field `yaml:"quiet"`
	Cooldown  field `yaml:"cooldown"`
	Targets   field `yaml:"targets"`
	Except    field `yaml:"except"`
	Group     field `yaml:"group"`
	Initially field `yaml:"initially"`
	Shape     field `yaml:"shape"`
}

// Limits of the windows format.
const (
	// MaxWindowDuration bounds a window's length.
	MaxWindowDuration = 31 * 24 * time.Hour
	// MaxCooldown bounds a window's cooldown.
	MaxCooldown = 24 * time.Hour
	// MaxMultiplier bounds an "Nx" expectation.
	MaxMultiplier = 1000
	// MaxNameLength bounds a window's name.
	MaxNameLength = 128
	// DefaultCooldown is how long a window's floor is held after its end.
	DefaultCooldown = 10 * time.Minute
)

var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// zoneField is a time zone with the field it came from, for error messages.
type zoneField struct {
	loc  *time.Location
	line int
	err  string
}

func loadZone(name string) (*time.Location, string) {
	if name == "" || name == "Local" {
		return nil, "must be an IANA time zone name such as Europe/Paris or UTC"
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		hint := "use an IANA name such as Europe/Paris, America/New_York or UTC"
		if !strings.Contains(name, "/") && name != strings.ToUpper(name) {
			hint = "use the full IANA name with its region, e.g. Europe/" + name
		}
		return nil, "unknown time zone " + strconv.Quote(name) + "; " + hint
	}
	return loc, ""
}

func parseWindowsDoc(res *Result, ctx *docContext, n *yaml.Node) {
	docReporter := &entryReporter{problems: &res.Problems, file: ctx.file, lineOf: ctx.lineOf}
	var doc windowsDocRaw
	decodeMapping(docReporter, n, "", &doc)
	zone := zoneField{loc: time.UTC}
	if doc.Timezone.set() {
		zone.line = doc.Timezone.line()
		if name, ok := doc.Timezone.text(docReporter, "timezone"); ok {
			zone.loc, zone.err = loadZone(name)
		} else {
			zone.loc = nil // text reported why, on its line
		}
	}
	users := 0 // windows that take the file's timezone
	defer func() { reportFileZone(res, ctx, zone, users) }()
	if !doc.Windows.set() {
		return
	}
	items, ok := doc.Windows.list(docReporter, "windows")
	if !ok {
		return
	}
	for i, item := range items {
		if !hasOwnZone(item) {
			users++
		}
		r := &entryReporter{problems: &res.Problems, file: ctx.file, lineOf: ctx.lineOf,
			kind: KindWindow, entry: entryName(item.n), index: i + 1}
		w, ok := validateWindow(r, ctx, item, zone)
		if ok && !r.rejected {
			res.Windows = append(res.Windows, w)
			continue
		}
		if r.entry != "" {
			res.Rejected = append(res.Rejected, EntryRef{Kind: KindWindow, Name: r.entry})
		}
	}
}

func validateWindow(r *entryReporter, ctx *docContext, item field, zone zoneField) (ground.Window, bool) {
	w := ground.Window{Origin: ground.Origin{File: ctx.file, Line: r.lineOf(item.line())}, Cooldown: DefaultCooldown}
	var raw windowRaw
	if !item.mapping(r, "", &raw) && raw == (windowRaw{}) {
		return w, false
	}
	w.Name = requiredName(r, item, raw.Name, "name", "the window")
	if len(w.Name) > MaxNameLength || strings.ContainsFunc(w.Name, func(c rune) bool { return c < ' ' || c == 0x7f }) {
		r.add(raw.Name.line(), "name", "must be at most %d characters of printable text", MaxNameLength)
	} else if w.Name != "" {
		if first, dup := ctx.windowNames[w.Name]; dup {
			r.add(raw.Name.line(), "name", "window %q is already defined on line %d; names are unique within a ConfigMap", w.Name, first)
		} else {
			ctx.windowNames[w.Name] = r.lineOf(raw.Name.line())
		}
	}

	// Time zone: the entry's own, else the document's.
	w.Location = zone.loc
	if raw.Timezone.set() {
		if name, ok := raw.Timezone.text(r, "timezone"); ok {
			loc, msg := loadZone(name)
			if msg != "" {
				r.add(raw.Timezone.line(), "timezone", "%s", msg)
			}
			w.Location = loc
		}
	} else if zone.loc == nil {
		// The file's timezone is wrong: reported once, on its own line
		// (reportFileZone); the window cannot apply.
		r.rejected = true
	}

	validateWhen(r, &w, raw)
	validateExcept(r, &w, raw)
	validateDemand(r, &w, raw)

	if !raw.Targets.set() {
		r.add(item.line(), "targets", "is missing; list the targets as namespace/name, namespace/* or *")
	} else if items, ok := raw.Targets.list(r, "targets"); ok {
		for _, it := range items {
			if s, ok := it.text(r, "targets"); ok {
				if sel, msg := parseSelector(s); msg != "" {
					r.add(it.line(), "targets", "%s", msg)
				} else {
					w.Targets = append(w.Targets, sel)
				}
			}
		}
	}
	return w, true
}

// validateWhen checks start, end, duration and cron.
func validateWhen(r *entryReporter, w *ground.Window, raw windowRaw) {
	switch {
	case raw.Start.set() && raw.Cron.set():
		r.add(raw.Cron.line(), "cron", "give start (a one-off window) or cron (a recurring one), not both")
		return
	case !raw.Start.set() && !raw.Cron.set():
		r.add(raw.Name.line(), "start", "is missing; give start (a one-off window) or cron (a recurring one)")
		return
	}
	if raw.Duration.set() {
		w.Duration, _ = raw.Duration.duration(r, "duration", time.Minute, MaxWindowDuration)
	}
	if raw.Cron.set() {
		if raw.End.set() {
			r.add(raw.End.line(), "end", "a recurring window takes duration, not end")
		} else if !raw.Duration.set() {
			r.add(raw.Cron.line(), "duration", "is missing; say how long each occurrence lasts, e.g. 1h")
		}
		if spec, ok := raw.Cron.text(r, "cron"); ok {
			if c, msg := parseCron(spec); msg != "" {
				r.add(raw.Cron.line(), "cron", "%s", msg)
			} else {
				w.Cron = c
			}
		}
		return
	}
	// With an unknown zone the window is rejected already; its times are
	// still read (on UTC's clock) so that their own mistakes show too.
	loc := w.Location
	if loc == nil {
		loc = time.UTC
	}
	if s, ok := raw.Start.text(r, "start"); ok {
		t, err := ParseTime(s, loc)
		if err != nil {
			r.add(raw.Start.line(), "start", "%v", err)
		}
		w.Start = t
	}
	switch {
	case raw.End.set() && raw.Duration.set():
		r.add(raw.End.line(), "end", "give duration or end, not both")
	case raw.End.set():
		e, ok := raw.End.text(r, "end")
		if !ok {
			return
		}
		end, err := ParseTime(e, loc)
		switch {
		case err != nil:
			r.add(raw.End.line(), "end", "%v", err)
		case w.Start.IsZero():
		case !end.After(w.Start):
			r.add(raw.End.line(), "end", "must be after start (%s)", w.Start.Format("2006-01-02 15:04 MST"))
		case end.Sub(w.Start) > MaxWindowDuration:
			r.add(raw.End.line(), "end", "is more than %s after start", FormatDuration(MaxWindowDuration))
		default:
			w.Duration = end.Sub(w.Start)
		}
	case !raw.Duration.set():
		r.add(raw.Start.line(), "duration", "is missing; give duration (e.g. 15m) or end")
	}
}

// parseCron parses a 5-field cron expression, returning a reason when it is
// not one.
func parseCron(spec string) (*ground.Cron, string) {
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		return nil, "put the time zone in the timezone field, not in the cron expression"
	}
	if strings.HasPrefix(spec, "@every") {
		return nil, "@every is not tied to the clock; use a 5-field expression such as \"0 10 * * SUN\""
	}
	if !strings.HasPrefix(spec, "@") {
		if n := len(strings.Fields(spec)); n != 5 {
			return nil, strconv.Quote(spec) + " must have 5 fields (minute hour day-of-month month day-of-week), found " + strconv.Itoa(n)
		}
	}
	sched, err := cronParser.Parse(spec)
	if err != nil {
		return nil, strconv.Quote(spec) + " is not a valid cron expression: " + cronReason(err)
	}
	s, ok := sched.(*cron.SpecSchedule)
	if !ok {
		return nil, strconv.Quote(spec) + " is not a 5-field cron expression"
	}
	// A schedule such as "0 0 30 2 *" (30 February) never fires.
	probe := *s
	probe.Location = time.UTC
	if probe.Next(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		return nil, strconv.Quote(spec) + " never happens (check the day and month)"
	}
	// robfig/cron marks a field written as "*" with its top bit.
	const star = 1 << 63
	return &ground.Cron{Spec: spec, Minute: s.Minute &^ star, Hour: s.Hour &^ star, Dom: s.Dom &^ star, Month: s.Month &^ star, Dow: s.Dow &^ star,
		DomAny: s.Dom&star != 0, DowAny: s.Dow&star != 0}, ""
}

var (
	cronTokenRE = regexp.MustCompile(`failed to parse int from ([^:]+):`)
	cronRangeRE = regexp.MustCompile(`\((\d+)\) (above maximum|below minimum) \((\d+)\)`)
)

// cronReason turns the cron library's error into words for the window's
// author.
func cronReason(err error) string {
	msg := err.Error()
	if m := cronTokenRE.FindStringSubmatch(msg); m != nil {
		return strconv.Quote(m[1]) + " is not understood; write minute hour day-of-month month day-of-week, with days as SUN-SAT or 0-6 and months as JAN-DEC or 1-12"
	}
	if m := cronRangeRE.FindStringSubmatch(msg); m != nil {
		word := "largest"
		if m[2] == "below minimum" {
			word = "smallest"
		}
		return m[1] + " is out of range; the " + word + " value allowed there is " + m[3]
	}
	return msg
}

// validateDemand checks expect, replicas, quiet and cooldown.
func validateDemand(r *entryReporter, w *ground.Window, raw windowRaw) {
	if raw.Quiet.set() {
		w.Quiet, _ = raw.Quiet.boolean(r, "quiet")
	}
	switch {
	case raw.Expect.set() && raw.Replicas.set():
		r.add(raw.Replicas.line(), "replicas", "give expect or replicas, not both")
	case w.Quiet && raw.Expect.set():
		r.add(raw.Expect.line(), "expect", "a quiet window caps replicas; give replicas instead of expect")
	case raw.Expect.set():
		if s, ok := raw.Expect.text(r, "expect"); ok && strings.EqualFold(strings.TrimSpace(s), "learned") {
			validateLearned(r, w, raw)
		} else if ok {
			d, msg := parseExpect(s)
			if msg != "" {
				r.add(raw.Expect.line(), "expect", "%s", msg)
			}
			w.Demand = d
		}
	case raw.Replicas.set():
		v, ok := raw.Replicas.integer(r, "replicas", 0, MaxReplicasLimit)
		if ok && v == 0 && !w.Quiet {
			r.add(raw.Replicas.line(), "replicas", "0 is a floor of 0, which does nothing; to cap the target at 0 replicas add quiet: true")
		}
		w.Demand = ground.Demand{Kind: ground.DemandReplicas, Value: float64(v)}
	case w.Quiet:
		r.add(raw.Name.line(), "replicas", "is missing; a quiet window needs the most replicas allowed, e.g. replicas: 0")
	default:
		r.add(raw.Name.line(), "expect", "is missing; give expect (e.g. 5x or 12000) or replicas")
	}
	if raw.Initially.set() && !w.Learned {
		r.add(raw.Initially.line(), "initially", "is the multiplier used until a learned window has a report; it goes with expect: learned")
	}
	if raw.Group.set() {
		if g, ok := raw.Group.text(r, "group"); ok {
			if g == "" || len(g) > MaxNameLength || strings.ContainsFunc(g, func(c rune) bool { return c < ' ' || c == 0x7f }) {
				r.add(raw.Group.line(), "group", "must be 1 to %d characters of printable text", MaxNameLength)
			} else {
				w.Group = g
			}
		}
	}
	if raw.Shape.set() {
		validateShape(r, w, raw)
	}
	if raw.Cooldown.set() {
		if w.Quiet {
			r.add(raw.Cooldown.line(), "cooldown", "a quiet window has no cooldown; remove it")
		} else {
			w.Cooldown, _ = raw.Cooldown.duration(r, "cooldown", 0, MaxCooldown)
		}
	}
}

// validateLearned checks "expect: learned": it needs initially (a
// multiplier), and a group or a cron (a recurring window is its own
// group).
func validateLearned(r *entryReporter, w *ground.Window, raw windowRaw) {
	w.Learned = true
	if !raw.Group.set() && !raw.Cron.set() {
		r.add(raw.Expect.line(), "expect", "learned needs the windows to learn from: give a group (e.g. group: tf1-prime), or make the window recurring with cron")
	}
	if !raw.Initially.set() {
		r.add(raw.Expect.line(), "initially", "is missing; expect: learned needs the multiplier to use until the window has a report, e.g. initially: 5x")
		return
	}
	s, ok := raw.Initially.text(r, "initially")
	if !ok {
		return
	}
	d, msg := parseExpect(s)
	switch {
	case msg != "":
		r.add(raw.Initially.line(), "initially", "%s", msg)
	case d.Kind != ground.DemandMultiplier:
		r.add(raw.Initially.line(), "initially", "%q is a load; initially is a multiplier of the usual load, e.g. 5x", s)
	default:
		w.Demand = d
	}
}

// parseExpect reads "5x" (a multiplier of the baseline) or "12000" (a load).
func parseExpect(s string) (ground.Demand, string) {
	if num, ok := strings.CutSuffix(strings.ToLower(s), "x"); ok {
		v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
		switch {
		case err != nil || v != v:
			return ground.Demand{}, strconv.Quote(s) + " is not a multiplier; write it like 5x or 1.5x"
		case v < 1:
			return ground.Demand{}, strconv.Quote(s) + " would not raise capacity; a multiplier must be at least 1x (use a quiet window to lower it)"
		case v > MaxMultiplier:
			return ground.Demand{}, strconv.Quote(s) + " is more than " + strconv.Itoa(MaxMultiplier) + "x; check for a typo"
		}
		return ground.Demand{Kind: ground.DemandMultiplier, Value: v}, ""
	}
	v, err := strconv.ParseFloat(strings.ReplaceAll(s, "_", ""), 64)
	switch {
	case err != nil || v != v || v > 1e15:
		return ground.Demand{}, strconv.Quote(s) + " must be a multiplier like 5x or a load like 12000"
	case v <= 0:
		return ground.Demand{}, "a load must be greater than 0, got " + s
	}
	return ground.Demand{Kind: ground.DemandLoad, Value: v}, ""
}

// parseSelector reads namespace/name, namespace/* or *.
func parseSelector(s string) (ground.TargetSelector, string) {
	if s == "*" {
		return ground.TargetSelector{}, ""
	}
	ns, name, ok := strings.Cut(s, "/")
	if !ok || strings.Contains(name, "/") {
		return ground.TargetSelector{}, strconv.Quote(s) + " must be namespace/name, namespace/* or *"
	}
	if !isDNSLabel(ns) {
		return ground.TargetSelector{}, strconv.Quote(s) + ": " + strconv.Quote(ns) + " is not a valid namespace"
	}
	if name == "*" {
		return ground.TargetSelector{Namespace: ns}, ""
	}
	if !isDNSLabel(name) {
		return ground.TargetSelector{}, strconv.Quote(s) + ": " + strconv.Quote(name) + " is not a valid target name"
	}
	return ground.TargetSelector{Namespace: ns, Name: name}, ""
}

// ---- zones: a file's timezone is reported once ----

// hasOwnZone reports whether a windows entry gives its own timezone.
func hasOwnZone(item field) bool {
	n := resolve(item.n)
	return n != nil && n.Kind == yaml.MappingNode && topKeys(n)["timezone"] != nil
}

// reportFileZone reports a file's unknown timezone once, on its line,
// saying how many windows it keeps from applying (each of them is
// rejected without repeating it).
func reportFileZone(res *Result, ctx *docContext, zone zoneField, users int) {
	if zone.err == "" {
		return
	}
	reason := zone.err
	switch {
	case users == 1:
		reason += "; the window without a timezone of its own is rejected until this is fixed"
	case users > 1:
		reason += fmt.Sprintf("; the %d windows without a timezone of their own are rejected until this is fixed", users)
	}
	res.Problems = append(res.Problems, Problem{File: ctx.file, Line: ctx.lineOf(zone.line), Field: "timezone", Reason: reason})
}

// ---- except: the dates a recurring window skips ----

// MaxExcept bounds the items of a window's except list.
const MaxExcept = 1000

// validateExcept checks except: dates ("2026-12-27") or inclusive ranges
// ("2026-12-24..2027-01-02") on the window's wall clock on which a
// recurring window does not start.
func validateExcept(r *entryReporter, w *ground.Window, raw windowRaw) {
	if !raw.Except.set() {
		return
	}
	if raw.Start.set() && !raw.Cron.set() {
		r.add(raw.Except.line(), "except", "a one-off window has one date; remove except or make it recurring")
		return
	}
	items, ok := raw.Except.list(r, "except")
	if !ok {
		return
	}
	if len(items) > MaxExcept {
		r.add(raw.Except.line(), "except", "lists %d dates; at most %d are allowed (use FROM..TO ranges)", len(items), MaxExcept)
		return
	}
	for _, it := range items {
		s, ok := it.text(r, "except")
		if !ok {
			continue
		}
		dr, msg := parseDateRange(s)
		if msg != "" {
			r.add(it.line(), "except", "%s", msg)
			continue
		}
		w.Except = append(w.Except, dr)
	}
}

const dateHint = "write a date like 2026-12-27 or a range like 2026-12-24..2027-01-02"

// parseDateRange reads "2026-12-27" or "2026-12-24..2027-01-02".
func parseDateRange(s string) (ground.DateRange, string) {
	first, last, isRange := strings.Cut(s, "..")
	if !isRange {
		d, msg := parseDate(s)
		if msg != "" {
			return ground.DateRange{}, msg
		}
		return ground.DateRange{From: d, To: d}, ""
	}
	from, msg := parseDate(strings.TrimSpace(first))
	if msg == "" {
		var to ground.Date
		if to, msg = parseDate(strings.TrimSpace(last)); msg == "" {
			if to.Compare(from) < 0 {
				return ground.DateRange{}, strconv.Quote(s) + " ends before it starts; write the earlier date first"
			}
			return ground.DateRange{From: from, To: to}, ""
		}
	}
	return ground.DateRange{}, strconv.Quote(s) + ": " + msg
}

// parseDate reads one date, 2006-01-02.
func parseDate(s string) (ground.Date, string) {
	t, err := time.Parse("2006-01-02", s)
	if err == nil {
		return ground.DateOf(t), ""
	}
	if len(s) > 10 {
		if _, err := time.Parse("2006-01-02", s[:10]); err == nil {
			return ground.Date{}, strconv.Quote(s) + " is not a date: except skips whole days, so give the day alone, like " + s[:10]
		}
	}
	return ground.Date{}, strconv.Quote(s) + " is not a date; " + dateHint
}

// validateShape checks "shape: learned" (the only shape): the floor
// follows what the window's learning group showed, so it needs a floor
// that follows a load, not a quiet cap or an explicit replica count.
func validateShape(r *entryReporter, w *ground.Window, raw windowRaw) {
	s, ok := raw.Shape.text(r, "shape")
	switch {
	case !ok:
	case !strings.EqualFold(strings.TrimSpace(s), "learned") && !strings.EqualFold(strings.TrimSpace(s), "flat"):
		r.add(raw.Shape.line(), "shape", "must be learned or flat, got %q", s)
	case w.Quiet:
		r.add(raw.Shape.line(), "shape", "a quiet window caps replicas and has no shape; remove it")
	case w.Demand.Kind == ground.DemandReplicas && strings.EqualFold(strings.TrimSpace(s), "learned"):
		r.add(raw.Shape.line(), "shape", "a replicas window holds its count; shape: learned needs expect (e.g. 5x or learned)")
	case w.Group == "" && !raw.Cron.set() && strings.EqualFold(strings.TrimSpace(s), "learned"):
		r.add(raw.Shape.line(), "shape", "is learned from the reports of the window's group; give group (a one-off window has no past occurrences of its own)")
	default:
		w.ShapeLearned = strings.EqualFold(strings.TrimSpace(s), "learned")
	}
}
