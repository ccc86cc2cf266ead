package policies

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/primetime-dev/primetime/ground"
)

// LearnFrom is how many of a learning group's last reports a learned
// multiplier is taken from (SPEC §2).
const LearnFrom = 5

// Lesson is what one window report teaches: the peak ratio one
// occurrence brought to one target.
//
// It also keeps the occurrence's shape, that "shape: learned" windows
// follow, and how long its pods took, that "leadTime: learned" targets
// lead by. Durations count from the occurrence's start; zero is "not
// seen" (no half decay while in force, no second wave, ready unknown).
type Lesson struct {
	Window string    `json:"window"`
	Start  time.Time `json:"start"`
	Ratio  float64   `json:"ratio"`
	// PeakAfter is when the first wave peaked; HalfDecay the time from
	// that peak until it had fallen halfway back to the baseline.
	PeakAfter time.Duration `json:"peakAfter,omitempty"`
	HalfDecay time.Duration `json:"halfDecay,omitempty"`
	// SecondWave is a second wave's rise over the first's (0: none came),
	// peaking SecondAfter the start.
	SecondWave  float64       `json:"secondWave,omitempty"`
	SecondAfter time.Duration `json:"secondAfter,omitempty"`
	// ReadyAfter is how long the floor's replicas took to be ready from
	// its first cycle; Late says they were not ready at the start.
	ReadyAfter time.Duration `json:"readyAfter,omitempty"`
	Late       bool          `json:"late,omitempty"`
}

// LessonOf returns what report r teaches, and false when it teaches
// nothing (see Learn).
func LessonOf(r *WindowReport) (Lesson, bool) {
	ratio := r.Ratio()
	if r.Quiet || !ratio.OK || ratio.V <= 0 || r.Group == "" || !r.Complete || !r.Rose() {
		return Lesson{}, false
	}
	l := Lesson{Window: r.Window, Start: r.Start, Ratio: ratio.V, PeakAfter: max(r.FirstPeakAt.Sub(r.Start), 0), Late: r.Late}
	l.HalfDecay = r.FirstHalfDecay.Or(0)
	if r.SecondWave.OK {
		l.SecondWave, l.SecondAfter = r.SecondWave.V, r.SecondWaveAt.Sub(r.Start)
	}
	l.ReadyAfter = r.ReadyAfter.Or(0)
	return l, true
}

// Learned is a multiplier learned for one target: the highest ratio of
// the lessons plus the target's headroom.
type Learned struct {
	Multiplier float64
	// From are the lessons it was learned from, oldest first.
	From []Lesson
}

// Learning keeps, per learning group and target, the lessons of the
// group's last LearnFrom reports. It is not safe for concurrent use; the
// zero value is ready.
type Learning struct {
	lessons map[LearningKey][]Lesson
	// leads are, per target, the last floors' times to ready.
	leads map[ground.TargetKey][]leadLesson
}

// LearningKey names the lessons of one learning group for one target.
type LearningKey struct {
	Group  string
	Target ground.TargetKey
}

// String is the key's form in the handed-over state:
// "namespace/name|group".
func (k LearningKey) String() string { return k.Target.String() + "|" + k.Group }

// ParseLearningKey reads a key written by String.
func ParseLearningKey(s string) (LearningKey, bool) {
	target, group, ok := strings.Cut(s, "|")
	key, ok2 := ground.ParseTargetKey(target)
	if !ok || !ok2 || group == "" {
		return LearningKey{}, false
	}
	return LearningKey{Group: group, Target: key}, true
}

// Learn adds the lesson of report r: its peak ratio and shape, for the
// learning group of its window. A quiet window's report, one with no
// ratio (no load known), one that did not see the whole occurrence
// (Complete) or one whose load never clearly rose (Rose: a spot that
// never aired) teaches nothing: spots that never came, however many in
// a row, never lower nor push out what the group learned. It reports
// whether a lesson was kept.
func (l *Learning) Learn(r *WindowReport) bool {
	lesson, ok := LessonOf(r)
	switch {
	case ok:
		l.Add(LearningKey{Group: r.Group, Target: r.Target}, lesson)
	case r.Complete && !r.Quiet:
		// No rise, but the pods' time is still the pods' time.
		l.addLead(r.Target, Lesson{Window: r.Window, Start: r.Start, ReadyAfter: r.ReadyAfter.Or(0), Late: r.Late})
	}
	return ok
}

// Add keeps a lesson, in start order, replacing one of the same window
// and start, and forgets all but the last LearnFrom.
func (l *Learning) Add(k LearningKey, lesson Lesson) {
	if l.lessons == nil {
		l.lessons = map[LearningKey][]Lesson{}
	}
	ls := l.lessons[k]
	ls = slices.DeleteFunc(ls, func(o Lesson) bool { return o.Window == lesson.Window && o.Start.Equal(lesson.Start) })
	i, _ := slices.BinarySearchFunc(ls, lesson.Start, func(o Lesson, t time.Time) int { return o.Start.Compare(t) })
	ls = slices.Insert(ls, i, lesson)
	if len(ls) > LearnFrom {
		ls = slices.Delete(ls, 0, len(ls)-LearnFrom)
	}
	l.lessons[k] = ls
	l.addLead(k.Target, lesson)
}

// Multiplier returns the multiplier learned for window w on target t:
// the highest peak ratio of the group's last LearnFrom reports, plus the
// target's headroom; false while the group has no report for t.
func (l *Learning) Multiplier(w *ground.Window, t *ground.Target) (Learned, bool) {
	ls := l.lessons[LearningKey{Group: w.LearningGroup(), Target: t.Key()}]
	if len(ls) == 0 {
		return Learned{}, false
	}
	best := 0.0
	for _, o := range ls {
		best = max(best, o.Ratio)
	}
	if best <= 0 {
		return Learned{}, false
	}
	return Learned{Multiplier: best * (1 + t.LearnedHeadroom), From: ls}, true
}

// Range calls yield with every group's lessons, until it returns false.
func (l *Learning) Range(yield func(k LearningKey, lessons []Lesson) bool) {
	for k, ls := range l.lessons {
		if !yield(k, ls) {
			return
		}
	}
}

// Len returns how many groups and targets have lessons.
func (l *Learning) Len() int { return len(l.lessons) }

// Bounds of an imported lesson: its durations count from an occurrence's
// start, within a day; a second wave at most 1000 times the first.
const (
	MaxLessonSpan        = 24 * time.Hour
	MaxMultiplierLearned = 1000
)

// ImportJSON adds the lessons of a /reports document's "lessons" (by
// "namespace/name|group", as the handed-over state keeps them); name is
// where they come from, for the errors. A bad key or lesson is an error
// naming it, and then nothing is added.
func (l *Learning) ImportJSON(name string, data []byte) error {
	if len(data) == 0 {
		return nil
	}
	var doc map[string][]Lesson
	if err := json.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("%s: lessons: %v", name, err)
	}
	type entry struct {
		key     LearningKey
		lessons []Lesson
	}
	entries := make([]entry, 0, len(doc))
	for k, ls := range doc {
		key, ok := ParseLearningKey(k)
		if !ok {
			return fmt.Errorf("%s: lessons %q: the key must be namespace/name|group", name, k)
		}
		for i, o := range ls {
			if o.Window == "" || o.Start.IsZero() || !(o.Ratio > 0) || math.IsInf(o.Ratio, 0) {
				return fmt.Errorf("%s: lessons %q: lesson %d: needs a window, a start and a positive ratio", name, k, i+1)
			}
			for _, d := range []struct {
				field string
				v     time.Duration
			}{{"peakAfter", o.PeakAfter}, {"halfDecay", o.HalfDecay}, {"secondAfter", o.SecondAfter}, {"readyAfter", o.ReadyAfter}} {
				if d.v < 0 || d.v > MaxLessonSpan {
					return fmt.Errorf("%s: lessons %q: lesson %d: %s: must be from 0 to %s, got %s", name, k, i+1, d.field, MaxLessonSpan, d.v)
				}
			}
			if o.SecondWave < 0 || math.IsInf(o.SecondWave, 0) || o.SecondWave > MaxMultiplierLearned {
				return fmt.Errorf("%s: lessons %q: lesson %d: secondWave: must be from 0 to %g, got %g", name, k, i+1, float64(MaxMultiplierLearned), o.SecondWave)
			}
		}
		entries = append(entries, entry{key, ls})
	}
	for _, e := range entries {
		for _, o := range e.lessons {
			l.Add(e.key, o)
		}
	}
	return nil
}
