package calendar

import (
	"sort"
	"strings"
	"time"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/policies"
	"github.com/primetime-dev/primetime/policies/config"
	"github.com/primetime-dev/primetime/scaler"
)

// check lints and plans a paste against the targets in force.
func (p *Page) check(text string, now time.Time) *pasteView {
	pv := &pasteView{}
	if strings.TrimSpace(text) == "" {
		pv.Empty = true
		return pv
	}
	snap := p.snapshot()
	res := p.Loader.ParseFile("pasted", []byte(text))
	targets := append(append([]ground.Target(nil), snap.Targets...), res.Targets...)
	problems := append(append(config.Problems(nil), res.Problems...), config.CrossCheck(targets, res.Windows)...)
	// Overlaps with the windows in force count too (a spot pasted during
	// the Sunday newsletter); only the paste's own lines are shown.
	for _, pr := range config.Timing(targets, append(append([]ground.Window(nil), res.Windows...), snap.Windows...), now, policies.StartsBetween) {
		if pr.File == "pasted" {
			problems = append(problems, pr)
		}
	}
	problems.Sort()
	for _, pr := range problems {
		pv.Problems = append(pv.Problems, problem{Line: pr.Line, Text: pr.Error(), Warning: pr.Warning})
	}
	pv.Errors, pv.Warnings = len(problems.Errors()), len(problems.Warnings())
	pv.Windows = len(res.Windows)
	if res.Documents == 0 && len(problems) == 0 {
		pv.Problems = append(pv.Problems, problem{Text: "pasted: no targets or windows found: a windows file starts with `windows:`"})
		pv.Errors++
	}
	if len(res.Windows) == 0 {
		return pv
	}
	pub := p.published()
	cal := policies.NewCalendar(res.Windows)
	to := policies.Horizon(res.Windows, now, DefaultDays*24*time.Hour, 366*24*time.Hour)
	pv.Until = to.UTC().Format("Mon 2 Jan 2006 15:04 MST")
	sort.Slice(targets, func(i, j int) bool { return targets[i].Key().String() < targets[j].Key().String() })
	for i := range targets {
		t := &targets[i]
		if len(cal.Matching(t.Key())) == 0 {
			continue
		}
		if len(pv.Plans) == MaxPlannedTargets {
			pv.PlansMore++
			continue
		}
		e, ok := pub[t.Key()]
		var baseline policies.Baseline
		if ok && !e.Floor && e.Load != nil {
			baseline = policies.ConstantBaseline(*e.Load)
		}
		tv := targetView{Key: t.Key().String(), Heading: heading(t)}
		eps, cut := planFrom(t, cal, now, to, baseline, nil)
		for _, ep := range eps {
			tv.Coming = append(tv.Coming, episodeRow(t, cal, ep, scaler.Published{}, false, now))
		}
		tv.Cut = cutNote(cut)
		tv.Coming, tv.ComingMore = capRows(tv.Coming)
		pv.Plans = append(pv.Plans, tv)
	}
	return pv
}
