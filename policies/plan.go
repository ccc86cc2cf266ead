package policies

import (
	"slices"
	"sort"
	"time"

	"github.com/primetime-dev/primetime/ground"
)

// Step is one change of a floor or cap over time.
type Step struct {
	At time.Time `json:"at"`
	// Replicas is absent while an "Nx" window waits for a baseline.
	Replicas ground.Opt[int32] `json:"-"`
}

// EpisodeKind tells floors from caps.
type EpisodeKind string

// The kinds of plan episodes.
const (
	EpisodeFloor EpisodeKind = "floor"
	EpisodeCap   EpisodeKind = "cap"
)

// Episode is one uninterrupted stretch during which windows put a floor (or
// a cap) on a target: from the start of pre-scaling to the end of the
// step-down.
type Episode struct {
	Kind EpisodeKind
	// Windows names the windows that acted during the episode.
	Windows []string
	// Start is when the floor (pre-scaling) or cap starts.
	Start time.Time
	// WindowStart and WindowEnd span the windows' own start and end.
	WindowStart, WindowEnd time.Time
	// Peak is the highest floor, or the lowest cap; absent when the floor
	// could not be computed (no baseline).
	Peak ground.Opt[int32]
	// End is when the floor is released or the cap lifted; zero when the
	// episode goes on past the end of the plan.
	End time.Time
	// Steps is the floor or cap over time.
	Steps []Step
	// Location is the time zone of the first window, for display.
	Location *time.Location
	// Notes explain what could not be computed.
	Notes []string
}

// TargetPlan is the plan of one target.
type TargetPlan struct {
	Target   *ground.Target
	Episodes []Episode
}

// Plan computes, for each target, the floors and caps its windows put on
// it between from and to, evaluated at every instant where they can change.
func Plan(targets []ground.Target, cal *Calendar, from, to time.Time, baseline Baseline) []TargetPlan {
	return PlanLearned(targets, cal, from, to, baseline, nil)
}

// Learner gives the multiplier learned for an "expect: learned" window on
// a target, false while there is none (the engine's Learned).
type Learner func(w *ground.Window, t *ground.Target) (Learned, bool)

// PlanLearned is Plan with the multipliers learned so far: a learned
// window's floor is planned at its learned multiplier, or at "initially"
// while there is none.
func PlanLearned(targets []ground.Target, cal *Calendar, from, to time.Time, baseline Baseline, learned Learner) []TargetPlan {
	if baseline == nil {
		baseline = func(Occurrence, time.Time) (float64, bool) { return 0, false }
	}
	out := make([]TargetPlan, 0, len(targets))
	for i := range targets {
		t := &targets[i]
		var occs []Occurrence
		for _, w := range cal.Matching(t.Key()) {
			occs = append(occs, Occurrences(w, from.Add(-w.Duration-w.Cooldown-MaxStepDownSpan), to.Add(t.LeadTime))...)
		}
		sortOccurrences(occs)
		known := Known{Baseline: baseline}
		if learned != nil {
			known.Learned = func(o Occurrence) (float64, bool) {
				l, ok := learned(o.Window, t)
				return l.Multiplier, ok
			}
		}
		out = append(out, TargetPlan{Target: t, Episodes: planTarget(t, occs, from, to, known)})
	}
	return out
}

// changePoints lists the instants in [from, to) where occurrences can
// change a target's floor or cap.
func changePoints(t *ground.Target, occs []Occurrence, from, to time.Time) []time.Time {
	pts := []time.Time{from}
	add := func(ts time.Time) {
		if !ts.Before(from) && ts.Before(to) {
			pts = append(pts, ts)
		}
	}
	for _, o := range occs {
		if o.Window.Quiet {
			add(o.Start)
			add(o.End.Add(-t.LeadTime))
			continue
		}
		add(o.Start.Add(-t.LeadTime))
		add(o.Start)
		add(o.End)
		holdEnd := o.End.Add(o.Window.Cooldown)
		for k := 0; k <= MaxSteps; k++ {
			add(holdEnd.Add(time.Duration(k) * StepInterval))
		}
	}
	sort.Slice(pts, func(i, j int) bool { return pts[i].Before(pts[j]) })
	return slices.CompactFunc(pts, func(a, b time.Time) bool { return a.Equal(b) })
}

// episodeBuilder follows one kind of episode (floors or caps) over time.
type episodeBuilder struct {
	kind EpisodeKind
	cur  *Episode
	done []Episode
}

func (b *episodeBuilder) observe(now time.Time, value ground.Opt[int32], inForce bool, effects []Effect) {
	if !inForce {
		if b.cur != nil {
			b.cur.End = now
			b.done = append(b.done, *b.cur)
			b.cur = nil
		}
		return
	}
	if b.cur == nil {
		b.cur = &Episode{Kind: b.kind, Start: now}
	}
	e := b.cur
	if n := len(e.Steps); n == 0 || e.Steps[n-1].Replicas != value {
		e.Steps = append(e.Steps, Step{At: now, Replicas: value})
	}
	if value.OK && (!e.Peak.OK || (b.kind == EpisodeFloor && value.V > e.Peak.V) || (b.kind == EpisodeCap && value.V < e.Peak.V)) {
		e.Peak = value
	}
	for _, eff := range effects {
		if (eff.Phase == PhaseQuiet) != (b.kind == EpisodeCap) {
			continue
		}
		o := eff.Occurrence
		if !slices.Contains(e.Windows, o.Window.Name) {
			e.Windows = append(e.Windows, o.Window.Name)
		}
		if e.Location == nil {
			e.Location = o.Window.Location
		}
		if e.WindowStart.IsZero() || o.Start.Before(e.WindowStart) {
			e.WindowStart = o.Start
		}
		if o.End.After(e.WindowEnd) {
			e.WindowEnd = o.End
		}
		if note := eff.Explain(); note != "" && !slices.Contains(e.Notes, note) {
			e.Notes = append(e.Notes, note)
		}
	}
}

func (b *episodeBuilder) finish() []Episode {
	if b.cur != nil {
		b.done = append(b.done, *b.cur)
	}
	return b.done
}

func planTarget(t *ground.Target, occs []Occurrence, from, to time.Time, known Known) []Episode {
	floors := &episodeBuilder{kind: EpisodeFloor}
	caps := &episodeBuilder{kind: EpisodeCap}
	for _, now := range changePoints(t, occs, from, to) {
		s := EvaluateKnown(t, occs, now, known)
		waiting := false // an "Nx" window in force with no baseline
		for _, e := range s.Effects {
			if e.Phase != PhaseQuiet && !e.Replicas.OK {
				waiting = true
			}
		}
		floors.observe(now, s.Floor, s.Floor.OK || waiting, s.Effects)
		caps.observe(now, s.Cap, s.Cap.OK, s.Effects)
	}
	episodes := append(floors.finish(), caps.finish()...)
	sort.SliceStable(episodes, func(i, j int) bool { return episodes[i].Start.Before(episodes[j].Start) })
	return episodes
}

// BaselineFromSeries returns a Baseline that reads the load observed just
// before each floor starts from a recorded series; before the series'
// first sample it uses that sample.
func BaselineFromSeries(s ground.Series) Baseline {
	return func(_ Occurrence, floorStart time.Time) (float64, bool) {
		if len(s) == 0 {
			return 0, false
		}
		i := sort.Search(len(s), func(i int) bool { return s[i].T.After(floorStart) })
		if i == 0 {
			return s[0].V, true
		}
		return s[i-1].V, true
	}
}
