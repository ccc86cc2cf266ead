package policies

import (
	"testing"
	"time"

	"github.com/primetime-dev/primetime/ground"
)

// leadTarget is shop/web with "leadTime: learned", minLeadTime 1m and
// maxLeadTime 10m.
func leadTarget() *ground.Target {
	t := reportTarget()
	t.LeadLearned, t.MinLeadTime, t.LeadTime = true, time.Minute, 10*time.Minute
	return &t
}

// leadStep is what happened to the tv-spot occurrence of one day: its
// report's lesson (the time its pods took; 0 and late: not ready by the
// window's end; 0 and not late: met at once), or a MarkLate.
type leadStep struct {
	day   int
	ready time.Duration
	late  bool
	mark  bool
}

// teach plays the steps into a Learning for target tg.
func teach(l *Learning, tg *ground.Target, steps []leadStep) {
	for _, s := range steps {
		start := reportStart.AddDate(0, 0, s.day)
		if s.mark {
			l.MarkLate(tg.Key(), "tv-spot", start)
			continue
		}
		l.Add(LearningKey{Group: tvSpots, Target: tg.Key()}, Lesson{Window: "tv-spot", Start: start, Ratio: 3, ReadyAfter: s.ready, Late: s.late})
	}
}

// TestLearnedLead: the longest time the last 5 floors' pods took, plus
// a quarter of it (at least 30 s), within minLeadTime and maxLeadTime.
func TestLearnedLead(t *testing.T) {
	cases := []struct {
		name  string
		steps []leadStep
		want  time.Duration
	}{
		{"nothing learned: maxLeadTime", nil, 10 * time.Minute},
		{"ready in 2 min: 30 s more", []leadStep{{day: 0, ready: 2 * time.Minute}}, 150 * time.Second},
		{"ready in 100 s: a quarter (25 s) is below the 30 s margin", []leadStep{{day: 0, ready: 100 * time.Second}}, 130 * time.Second},
		{"ready in 4 min: a quarter more", []leadStep{{day: 0, ready: 4 * time.Minute}}, 5 * time.Minute},
		{"ready in 10 s: raised to minLeadTime", []leadStep{{day: 0, ready: 10 * time.Second}}, time.Minute},
		{"ready in 8 min: exactly maxLeadTime", []leadStep{{day: 0, ready: 8 * time.Minute}}, 10 * time.Minute},
		{"ready in 9 min: cut to maxLeadTime", []leadStep{{day: 0, ready: 9 * time.Minute}}, 10 * time.Minute},
		{"ready in 101.3 s: rounded to the second", []leadStep{{day: 0, ready: 101300 * time.Millisecond}}, 131 * time.Second},
		{"the longest of the last floors", []leadStep{{day: 0, ready: time.Minute}, {day: 1, ready: 3 * time.Minute}, {day: 2, ready: 2 * time.Minute}}, 225 * time.Second},
		{"the sixth last is forgotten", []leadStep{
			{day: 0, ready: 8 * time.Minute},
			{day: 1, ready: 90 * time.Second}, {day: 2, ready: 90 * time.Second}, {day: 3, ready: 90 * time.Second}, {day: 4, ready: 90 * time.Second}, {day: 5, ready: 90 * time.Second},
		}, 2 * time.Minute},
		{"reported out of order: the last 5 by start", []leadStep{
			{day: 5, ready: 90 * time.Second}, {day: 4, ready: 90 * time.Second}, {day: 3, ready: 90 * time.Second}, {day: 2, ready: 90 * time.Second}, {day: 1, ready: 90 * time.Second},
			{day: 0, ready: 8 * time.Minute},
		}, 2 * time.Minute},
		{"floors met at once teach nothing and push nothing out", []leadStep{
			{day: 0, ready: 3 * time.Minute},
			{day: 1}, {day: 2}, {day: 3}, {day: 4}, {day: 5},
		}, 225 * time.Second},
		{"a floor not ready by the window's end: maxLeadTime", []leadStep{{day: 0, ready: 2 * time.Minute}, {day: 1, late: true}}, 10 * time.Minute},
		{"a late floor whose time is known: learned from it", []leadStep{{day: 0, ready: 2 * time.Minute}, {day: 1, ready: 4 * time.Minute, late: true}}, 5 * time.Minute},
		{"MarkLate: maxLeadTime at once", []leadStep{{day: 0, ready: 2 * time.Minute}, {day: 1, mark: true}}, 10 * time.Minute},
		{"MarkLate, then the occurrence's report gives the time", []leadStep{{day: 0, ready: 2 * time.Minute}, {day: 1, mark: true}, {day: 1, ready: 4 * time.Minute, late: true}}, 5 * time.Minute},
		{"MarkLate, then the occurrence's report does not know the time", []leadStep{{day: 0, ready: 2 * time.Minute}, {day: 1, mark: true}, {day: 1, late: true}}, 10 * time.Minute},
		{"MarkLate of an occurrence already reported changes nothing", []leadStep{{day: 0, ready: 2 * time.Minute}, {day: 0, mark: true}}, 150 * time.Second},
		{"MarkLate twice, then the time: learned from it", []leadStep{{day: 0, mark: true}, {day: 0, mark: true}, {day: 0, ready: 3 * time.Minute, late: true}}, 225 * time.Second},
		{"MarkLate of an occurrence older than the last 5 changes nothing", []leadStep{
			{day: 1, ready: 2 * time.Minute}, {day: 2, ready: 2 * time.Minute}, {day: 3, ready: 2 * time.Minute}, {day: 4, ready: 2 * time.Minute}, {day: 5, ready: 2 * time.Minute},
			{day: 0, mark: true},
		}, 150 * time.Second},
		{"a late floor is forgotten 5 floors later", []leadStep{
			{day: 0, mark: true},
			{day: 1, ready: 2 * time.Minute}, {day: 2, ready: 2 * time.Minute}, {day: 3, ready: 2 * time.Minute}, {day: 4, ready: 2 * time.Minute}, {day: 5, ready: 2 * time.Minute},
		}, 150 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tg := leadTarget()
			var l Learning
			teach(&l, tg, tc.steps)
			if got := l.Lead(tg); got != tc.want {
				t.Errorf("lead %s, want %s", got, tc.want)
			}
		})
	}
}

// TestLeadAfterALateFloorAndALaterOneInTime: MarkLate says the lead is
// the longest allowed "until a later occurrence shows its pods in time".
func TestLeadAfterALateFloorAndALaterOneInTime(t *testing.T) {
	tg := leadTarget()
	var l Learning
	teach(&l, tg, []leadStep{{day: 0, ready: 2 * time.Minute}, {day: 1, mark: true}})
	if got := l.Lead(tg); got != tg.LeadTime {
		t.Fatalf("marked late: lead %s, want maxLeadTime %s", got, tg.LeadTime)
	}
	// The spot of day 1 never aired: its report teaches nothing, the
	// mark stays. The spot of day 2 had its pods ready in 2 min, at the
	// start.
	teach(&l, tg, []leadStep{{day: 2, ready: 2 * time.Minute}})
	if got := l.Lead(tg); got != 150*time.Second {
		t.Errorf("a later occurrence in time: lead %s, want 2m30s learned again", got)
	}
}

// TestLeadOfTargets: a target without "leadTime: learned" keeps its
// leadTime; another target's floors teach nothing; reports teach a lead
// through Learn.
func TestLeadOfTargets(t *testing.T) {
	t.Run("a fixed leadTime", func(t *testing.T) {
		tg := leadTarget()
		var l Learning
		teach(&l, tg, []leadStep{{day: 0, ready: 2 * time.Minute}})
		fixed := *tg
		fixed.LeadLearned, fixed.LeadTime = false, 8*time.Minute
		if got := l.Lead(&fixed); got != 8*time.Minute {
			t.Errorf("lead %s, want its leadTime 8m0s", got)
		}
	})
	t.Run("another target's floors", func(t *testing.T) {
		tg := leadTarget()
		var l Learning
		teach(&l, tg, []leadStep{{day: 0, ready: 2 * time.Minute}, {day: 1, mark: true}})
		api := *tg
		api.Name = "api"
		if got := l.Lead(&api); got != 10*time.Minute {
			t.Errorf("shop/api lead %s, want maxLeadTime 10m0s (nothing learned)", got)
		}
	})
	t.Run("floors of every group count", func(t *testing.T) {
		tg := leadTarget()
		var l Learning
		l.Add(LearningKey{Group: tvSpots, Target: tg.Key()}, Lesson{Window: "tv-spot", Start: reportStart, Ratio: 3, ReadyAfter: time.Minute})
		l.Add(LearningKey{Group: "radio-spots", Target: tg.Key()}, Lesson{Window: "radio-spot", Start: reportStart, Ratio: 2, ReadyAfter: 4 * time.Minute})
		if got := l.Lead(tg); got != 5*time.Minute {
			t.Errorf("lead %s, want 5m0s (radio-spot's 4 min)", got)
		}
	})
	t.Run("through Learn: a report with no rise teaches no multiplier, but its pods' time", func(t *testing.T) {
		tg := leadTarget()
		var l Learning
		rose := shapeReport(0, time.Minute, 2*time.Minute, 0, 0)
		rose.ReadyAfter = ground.Some(2 * time.Minute)
		flat := shapeReport(1, time.Minute, 2*time.Minute, 0, 0)
		flat.Peak, flat.ReadyAfter = ground.Some(100.0), ground.Some(5*time.Minute)
		if !l.Learn(&rose) || l.Learn(&flat) {
			t.Fatal("want the report that rose, and only it, learned")
		}
		if got := l.Lead(tg); got != 375*time.Second {
			t.Errorf("lead %s, want 6m15s (the flat one's 5 min, plus a quarter)", got)
		}
	})
}

// TestReserveFollowsTheLearnedLead: a target with nodes.leadTime 6m and
// "leadTime: learned" (maxLeadTime 8m) whose floor for tf1-prime-spot
// starts at 20:42, its learned lead of 3 min: placeholders reserve from
// 6 min before that floor starts to 5 min after, as with a fixed lead.
func TestReserveFollowsTheLearnedLead(t *testing.T) {
	ws := parseWindows(t, specWindows)
	web := webTarget()
	web.Nodes = &ground.NodesSpec{LeadTime: 6 * time.Minute}
	web.LeadLearned, web.MinLeadTime = true, time.Minute
	known := Known{Baseline: ConstantBaseline(1000), LeadTime: func(Occurrence) time.Duration { return 3 * time.Minute }}
	for _, tc := range []struct {
		wall string
		pods int32
	}{
		{"2026-11-25 20:35:59", 0},
		{"2026-11-25 20:36", 80}, // the floor's start - nodes.leadTime
		{"2026-11-25 20:42", 80}, // the floor starts
		{"2026-11-25 20:46:59", 80},
		{"2026-11-25 20:47", 0}, // the floor's start + PlaceholderGrace
	} {
		t.Run(tc.wall, func(t *testing.T) {
			now := at(t, paris, tc.wall)
			occs := NewCalendar(ws).Agenda(now, web.LeadTime+web.Nodes.LeadTime).For(web.Key(), nil)
			r := Reserve(web, occs, now, known, ground.Some[int32](20))
			if r.Pods != tc.pods {
				t.Fatalf("%d placeholders, want %d (%+v)", r.Pods, tc.pods, r)
			}
			if r.Pods > 0 && !r.FloorStart.Equal(at(t, paris, "2026-11-25 20:42")) {
				t.Errorf("reservation %+v, want for the floor from 20:42", r)
			}
		})
	}
}
