package calendar

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/policies"
	"github.com/primetime-dev/primetime/policies/config"
	"github.com/primetime-dev/primetime/scaler"
)

// Limits of the page.
const (
	// MaxPaste is the largest paste accepted: what one ConfigMap holds.
	MaxPaste = 1 << 20
	// DefaultDays is how far ahead the coming windows are listed.
	DefaultDays = 7
	// MaxDays bounds ?days=.
	MaxDays = 31
	// PastDays is how far back past windows are listed.
	PastDays = 7
	// MaxRows bounds the rows of one table; the rest are counted.
	MaxRows = 50
	// MaxPlannedTargets bounds the targets a paste's plan shows.
	MaxPlannedTargets = 50
	// RefreshSeconds is how often the browser reloads the page (no script).
	RefreshSeconds = 15
	// MaxOccurrences bounds the window occurrences planned for one target
	// (a window every minute would otherwise make the page slow): the
	// list stops at the last one.
	MaxOccurrences = 200
	// MaxTargets bounds the targets on the page; ?namespace= selects one
	// namespace.
	MaxTargets = 100
)

// ConfigSource gives the configuration in force.
type ConfigSource interface {
	Snapshot() *ground.Snapshot
}

// Page is the /calendar handler.
type Page struct {
	// Config is the configuration in force (the daemon's store).
	Config ConfigSource
	// Board is what the external metrics API serves (optional): the
	// replicas wanted now, the floor in force and the effective load.
	Board *scaler.Board
	// Ready returns the ready replicas of a target's workload (optional).
	Ready func(ctx context.Context, t *ground.Target) ground.Opt[int32]
	// Clock returns now; time.Now when nil.
	Clock func() time.Time
	// Reports are the window reports kept (optional): past windows show
	// theirs.
	Reports ReportLookup
	// Learned gives the multipliers learned for "expect: learned" windows
	// (optional: the engine's Learned); coming floors use them.
	Learned policies.Learner
	// Loader expands the template variables of pasted targets' queries,
	// as the daemon's configuration (the zero Loader rejects them).
	Loader config.Loader
}

// ReportLookup finds the report of one window occurrence on one target
// (scaler.ReportBook).
type ReportLookup interface {
	Lookup(target ground.TargetKey, file, window string, start time.Time) (scaler.ReportRecord, bool)
	AdviceFor(target ground.TargetKey) (scaler.LeadAdvice, bool)
}

// ServeHTTP serves the page (GET) or the result of a paste (POST).
func (p *Page) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	if p.Clock != nil {
		now = p.Clock()
	}
	v := &view{Now: now.UTC().Format("Mon 2 Jan 2006 15:04:05 MST"), RefreshSeconds: RefreshSeconds, Days: DefaultDays}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		v.Refresh = true
		if s := r.URL.Query().Get("days"); s != "" {
			d, err := strconv.Atoi(s)
			if err != nil || d < 1 || d > MaxDays {
				http.Error(w, fmt.Sprintf("days must be a whole number from 1 to %d, got %q", MaxDays, s), http.StatusBadRequest)
				return
			}
			v.Days, v.DaysGiven = d, true
		}
		v.Namespace = r.URL.Query().Get("namespace")
	case http.MethodPost:
		r.Body = http.MaxBytesReader(w, r.Body, MaxPaste+64<<10) // room for the form's encoding
		if err := r.ParseForm(); err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				v.PasteError = fmt.Sprintf("The paste is larger than %d KiB, the most one ConfigMap holds: paste one windows file.", MaxPaste>>10)
				p.render(w, http.StatusRequestEntityTooLarge, v)
				return
			}
			http.Error(w, "cannot read the form: "+err.Error(), http.StatusBadRequest)
			return
		}
		text := r.PostForm.Get("windows")
		v.Pasted = text
		if len(text) > MaxPaste {
			v.PasteError = fmt.Sprintf("The paste is larger than %d KiB, the most one ConfigMap holds: paste one windows file.", MaxPaste>>10)
			p.render(w, http.StatusRequestEntityTooLarge, v)
			return
		}
		v.Paste = p.check(text, now)
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "the calendar is read-only: GET it, or POST a paste to check it", http.StatusMethodNotAllowed)
		return
	}
	p.fill(r.Context(), v, now)
	p.render(w, http.StatusOK, v)
}

func (p *Page) render(w http.ResponseWriter, code int, v *view) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	// Nothing outside this page may load: no script, no external asset.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_ = pageTemplate.Execute(w, v)
}

// snapshot returns the configuration in force, never nil.
func (p *Page) snapshot() *ground.Snapshot {
	if p.Config != nil {
		if s := p.Config.Snapshot(); s != nil {
			return s
		}
	}
	return &ground.Snapshot{}
}

// published returns the board's entries by target.
func (p *Page) published() map[ground.TargetKey]scaler.Published {
	out := map[ground.TargetKey]scaler.Published{}
	if p.Board == nil {
		return out
	}
	for _, e := range p.Board.All() {
		out[ground.TargetKey{Namespace: e.Namespace, Name: e.Name}] = e
	}
	return out
}

// baselineOf is the baseline a target's "Nx" windows are shown with: the
// effective load served now; while a floor is in force (the load may be the
// spike itself), the baseline that floor was computed from, floor ×
// capacityPerReplica ÷ N. Nil when neither is known.
func baselineOf(t *ground.Target, cal *policies.Calendar, now time.Time, e scaler.Published, ok bool) policies.Baseline {
	switch {
	case !ok:
		return nil
	case !e.Floor && e.Load != nil:
		return policies.ConstantBaseline(*e.Load)
	case e.Floor && e.FloorReplicas != nil:
		for _, w := range cal.Matching(t.Key()) {
			for _, o := range policies.Occurrences(w, now.Add(-w.Duration-w.Cooldown-policies.MaxStepDownSpan), now.Add(t.LeadTime+time.Nanosecond)) {
				if w.Demand.Kind == ground.DemandMultiplier && !now.Before(o.Start.Add(-t.LeadTime)) && now.Before(o.End.Add(w.Cooldown+policies.MaxStepDownSpan)) {
					return policies.ConstantBaseline(float64(*e.FloorReplicas) * t.CapacityPerReplica / w.Demand.Value)
				}
			}
		}
	}
	return nil
}

// planFrom plans t's windows from now to to, with the episodes already in
// force at now shown from their real start (pre-scaling that began before
// now), and those over before now left out.
// With more than MaxOccurrences occurrences before to, the plan stops at
// the start of the last one it holds, returned as cut (zero otherwise).
func planFrom(t *ground.Target, cal *policies.Calendar, now, to time.Time, baseline policies.Baseline, learned policies.Learner) ([]policies.Episode, time.Time) {
	back := time.Duration(0)
	matching := cal.Matching(t.Key())
	for _, w := range matching {
		back = max(back, t.LeadTime+w.Duration+w.Cooldown+policies.MaxStepDownSpan)
	}
	from := now.Add(-back)
	starts := func(from time.Time) []time.Time {
		var out []time.Time
		for _, w := range matching {
			n := 0
			policies.Starts(w, from, to.Add(t.LeadTime), func(s time.Time) bool {
				out = append(out, s)
				n++
				return n <= MaxOccurrences
			})
		}
		return out
	}
	var cut time.Time
	if all := starts(from); len(all) > MaxOccurrences {
		// Too many: no look back (an episode in force is shown from now),
		// and the list stops before the occurrence over the bound.
		from = now
		all = starts(now)
		if len(all) > MaxOccurrences {
			sort.Slice(all, func(i, j int) bool { return all[i].Before(all[j]) })
			cut = all[MaxOccurrences]
			to = cut.Add(-t.LeadTime)
		}
	}
	if !to.After(from) {
		return nil, cut
	}
	plan := policies.PlanLearned([]ground.Target{*t}, cal, from, to, baseline, learned)
	var out []policies.Episode
	for _, ep := range plan[0].Episodes {
		if ep.End.IsZero() || ep.End.After(now) {
			out = append(out, ep)
		}
	}
	return out, cut
}

// cutNote says where a list cut by MaxOccurrences stops.
func cutNote(cut time.Time) string {
	if cut.IsZero() {
		return ""
	}
	return fmt.Sprintf("More than %d windows in this period: the list stops at %s; run primetime plan for the rest.", MaxOccurrences, cut.UTC().Format("Mon 2 Jan 15:04 MST"))
}

// fill computes the targets' sections.
func (p *Page) fill(ctx context.Context, v *view, now time.Time) {
	snap := p.snapshot()
	pub := p.published()
	cal := policies.NewCalendar(snap.Windows)
	v.Windows, v.Targets = len(snap.Windows), len(snap.Targets)
	// By default the list reaches the next occurrence of every window (a
	// spot booked in four weeks is listed), as plan does.
	to := now.Add(time.Duration(v.Days) * 24 * time.Hour)
	if !v.DaysGiven {
		to = policies.Horizon(snap.Windows, now, DefaultDays*24*time.Hour, MaxDays*24*time.Hour)
	}
	v.Until = to.UTC().Format("Mon 2 Jan 2006 15:04 MST")
	var targets []ground.Target
	for _, t := range snap.Targets {
		if v.Namespace == "" || t.Namespace == v.Namespace {
			targets = append(targets, t)
		}
	}
	sort.Slice(targets, func(i, j int) bool { return targets[i].Key().String() < targets[j].Key().String() })
	if len(targets) > MaxTargets {
		v.TargetsMore = len(targets) - MaxTargets
		targets = targets[:MaxTargets]
	}
	for i := range targets {
		t := &targets[i]
		e, hasPub := pub[t.Key()]
		tv := targetView{Key: t.Key().String(), Heading: heading(t)}
		if hasPub && e.Replicas != nil {
			tv.Desired = strconv.Itoa(int(*e.Replicas))
		}
		var occs []policies.Occurrence
		for _, w := range cal.Matching(t.Key()) {
			occs = append(occs, policies.Occurrences(w, now.Add(-w.Duration-w.Cooldown-policies.MaxStepDownSpan), now.Add(t.LeadTime+time.Nanosecond))...)
		}
		baseline := baselineOf(t, cal, now, e, hasPub)
		tv.State, tv.StateDetail = p.state(ctx, t, occs, now, e, hasPub, baseline)
		if baseline != nil {
			if b, ok := baseline(policies.Occurrence{}, now); ok {
				tv.Usual = formatLoad(b)
			}
		}
		eps, cut := planFrom(t, cal, now, to, baseline, p.Learned)
		for _, ep := range eps {
			r := episodeRow(t, cal, ep, e, hasPub, now)
			r.Windows += learnedNote(t, cal, ep, p.Learned)
			tv.Coming = append(tv.Coming, r)
		}
		tv.Coming, tv.ComingMore = capRows(tv.Coming)
		tv.Cut = cutNote(cut)
		tv.Past, tv.PastMore = capPast(pastRows(t, cal, now, p.Reports))
		if p.Reports != nil {
			if a, ok := p.Reports.AdviceFor(t.Key()); ok {
				if advice, ok := a.Late().Advice(t.LeadTime); ok {
					tv.Advice = advice + "."
				}
			}
		}
		v.TargetViews = append(v.TargetViews, tv)
	}
}

// State words, as the page shows them.
const (
	StatePreScaling = "pre-scaling"
	StateOnAir      = "on air"
	StateCooldown   = "cooldown"
	StateSteppingDn = "stepping down"
	StateQuiet      = "quiet"
	StateNone       = "no window"
)

// state says what the target's windows do now.
func (p *Page) state(ctx context.Context, t *ground.Target, occs []policies.Occurrence, now time.Time, e scaler.Published, hasPub bool, baseline policies.Baseline) (string, string) {
	// The phases; the floor shown is the leader's (on the board). A
	// step-down's phase needs a floor to step down from: the baseline.
	if baseline == nil {
		baseline = func(policies.Occurrence, time.Time) (float64, bool) { return 0, false }
	}
	s := policies.Evaluate(t, occs, now, baseline)
	var eff *policies.Effect
	for i := range s.Effects {
		if s.Effects[i].Phase != policies.PhaseQuiet {
			eff = &s.Effects[i]
			break
		}
	}
	if eff == nil && len(s.Effects) > 0 {
		eff = &s.Effects[0]
	}
	if eff == nil {
		return StateNone, ""
	}
	o := eff.Occurrence
	loc := zoneOf(o.Window)
	var word, detail string
	switch eff.Phase {
	case policies.PhaseLead:
		word, detail = StatePreScaling, fmt.Sprintf("%s on air in %s (%s)", o.Window.Name, short(o.Start.Sub(now)), o.Start.In(loc).Format("15:04 MST"))
	case policies.PhaseActive:
		word, detail = StateOnAir, fmt.Sprintf("%s until %s", o.Window.Name, o.End.In(loc).Format("15:04 MST"))
	case policies.PhaseCooldown:
		word, detail = StateCooldown, fmt.Sprintf("%s ended at %s; capacity held until %s at the latest", o.Window.Name, o.End.In(loc).Format("15:04"), o.End.Add(o.Window.Cooldown).In(loc).Format("15:04 MST"))
	case policies.PhaseStepDown:
		word, detail = StateSteppingDn, o.Window.Name+" is over; capacity is being given back"
	case policies.PhaseQuiet:
		word, detail = StateQuiet, fmt.Sprintf("%s caps at %d replicas until %s", o.Window.Name, int(o.Window.Demand.Value), o.End.Add(-t.LeadTime).In(loc).Format("15:04 MST"))
		return word, detail
	}
	ready := "?"
	if p.Ready != nil {
		if r := p.Ready(ctx, t); r.OK {
			ready = strconv.Itoa(int(r.V))
		}
	}
	floor := "?"
	if hasPub && e.FloorReplicas != nil {
		floor = strconv.Itoa(int(*e.FloorReplicas))
	}
	return word, fmt.Sprintf("%s; ready %s / floor %s", detail, ready, floor)
}

// episodeRow is one coming floor or cap.
func episodeRow(t *ground.Target, cal *policies.Calendar, ep policies.Episode, e scaler.Published, hasPub bool, now time.Time) row {
	loc := ep.Location
	if loc == nil {
		loc = time.UTC
	}
	r := row{Windows: strings.Join(ep.Windows, ", ")}
	if ep.Kind == policies.EpisodeCap {
		r.Kind = "quiet cap"
		r.From = ep.WindowStart.In(loc).Format("Mon 2 Jan 15:04 MST")
	} else {
		r.Kind = "pre-scale"
		r.From = ep.Start.In(loc).Format("Mon 2 Jan 15:04 MST")
		r.Lead = short(t.LeadTime)
	}
	r.OnAir = ep.WindowStart.In(loc).Format("Mon 2 Jan 15:04") + " – " + ep.WindowEnd.In(loc).Format(sameDay(ep.WindowStart.In(loc), ep.WindowEnd.In(loc)))
	switch {
	case ep.Peak.OK:
		r.Floor = strconv.Itoa(int(ep.Peak.V))
	default:
		r.Floor = demandsOf(cal, ep) + " (needs the usual load)"
	}
	var cds []string
	for _, name := range ep.Windows {
		for _, w := range cal.Windows() {
			if w.Name == name && ep.Kind == policies.EpisodeFloor {
				cds = append(cds, short(w.Cooldown))
				break
			}
		}
	}
	r.Cooldown = strings.Join(dedupe(cds), ", ")
	if ep.End.IsZero() {
		r.Until = "after the end of the list"
	} else {
		r.Until = ep.End.In(loc).Format("Mon 2 Jan 15:04 MST")
	}
	return r
}

// learnedNote says, for an episode of "expect: learned" windows, the
// multiplier learned and the reports it comes from: " (learned 3.3x from
// 2 reports: Wed 25 Nov 3.0x, Thu 26 Nov 2.8x)", or " (learned: initially
// 5x until a report)".
func learnedNote(t *ground.Target, cal *policies.Calendar, ep policies.Episode, learned policies.Learner) string {
	var b strings.Builder
	for _, name := range ep.Windows {
		for _, w := range cal.Windows() {
			if w.Name != name || !(w.Learned || w.ShapeLearned) || !w.Selects(t.Key()) {
				continue
			}
			l, ok := policies.Learned{}, false
			if learned != nil {
				l, ok = learned(w, t)
			}
			if w.ShapeLearned {
				b.WriteString(shapeNote(w, l.From))
			}
			if !w.Learned {
				break
			}
			if !ok {
				fmt.Fprintf(&b, " (learned: initially %s until a report)", w.Demand)
				break
			}
			fmt.Fprintf(&b, " (learned %.1fx from %d report", l.Multiplier, len(l.From))
			if len(l.From) > 1 {
				b.WriteString("s")
			}
			b.WriteString(":")
			for i, o := range l.From {
				if i > 0 {
					b.WriteString(",")
				}
				fmt.Fprintf(&b, " %s %.1fx", o.Start.In(zoneOf(w)).Format("Mon 2 Jan"), o.Ratio)
			}
			b.WriteString(")")
			break
		}
	}
	return b.String()
}

// shapeNote says the learned shape of a "shape: learned" window's group
// from its lessons: " (shape of group tv-spots, 5 reports: peak at +40 s,
// ...)", or how many reports it still lacks.
func shapeNote(w *ground.Window, lessons []policies.Lesson) string {
	group := "window " + w.Name
	if w.Group != "" {
		group = "group " + w.Group
	}
	if len(lessons) < policies.MinShapeReports {
		return fmt.Sprintf(" (shape of %s: held flat, %d of the %d reports a learned shape needs)", group, len(lessons), policies.MinShapeReports)
	}
	return " (shape of " + group + ", " + policies.ShapeOf(lessons).Describe() + ")"
}

// demandsOf writes what the episode's windows ask for, e.g. "5x".
func demandsOf(cal *policies.Calendar, ep policies.Episode) string {
	var out []string
	for _, name := range ep.Windows {
		for _, w := range cal.Windows() {
			if w.Name == name {
				out = append(out, w.Demand.String())
				break
			}
		}
	}
	return strings.Join(dedupe(out), ", ")
}

// pastRows lists the target's window occurrences of the last PastDays
// that are over, the latest first.
func pastRows(t *ground.Target, cal *policies.Calendar, now time.Time, reports ReportLookup) []past {
	var out []past
	var ends []time.Time
	// Backwards in spans, so that frequent windows stop the search early.
	var occs []policies.Occurrence
	hi := now
	for _, span := range []time.Duration{time.Hour, 24 * time.Hour, PastDays * 24 * time.Hour} {
		lo := now.Add(-span)
		for _, w := range cal.Matching(t.Key()) {
			occs = append(occs, policies.Occurrences(w, lo.Add(-w.Duration), hi.Add(-w.Duration))...)
		}
		if len(occs) > MaxRows {
			break
		}
		hi = lo
	}
	for _, o := range occs {
		w := o.Window
		{
			if o.End.After(now) {
				continue
			}
			loc := zoneOf(w)
			row := past{Window: w.Name, When: o.Start.In(loc).Format("Mon 2 Jan 15:04") + " – " + o.End.In(loc).Format(sameDay(o.Start.In(loc), o.End.In(loc))),
				Expect: w.Demand.String(), Report: "no report yet"}
			if w.Learned {
				row.Expect = "learned (initially " + w.Demand.String() + ")"
			}
			if reports != nil {
				if rec, ok := reports.Lookup(t.Key(), w.Origin.File, w.Name, o.Start); ok {
					row.Report = rec.Sentence
					if rec.Expected > 0 {
						row.Expect = strconv.FormatFloat(math.Round(rec.Expected*10)/10, 'g', -1, 64) + "x"
					}
				}
			}
			out = append(out, row)
			ends = append(ends, o.End)
		}
	}
	idx := make([]int, len(out))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return ends[idx[a]].After(ends[idx[b]]) })
	sorted := make([]past, len(out))
	for i, j := range idx {
		sorted[i] = out[j]
	}
	return sorted
}
