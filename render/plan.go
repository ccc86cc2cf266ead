package render

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/policies"
	"github.com/primetime-dev/primetime/policies/config"
)

// zoneOf is the time zone an episode is shown in.
func zoneOf(e policies.Episode, display *time.Location) *time.Location {
	switch {
	case display != nil:
		return display
	case e.Location != nil:
		return e.Location
	}
	return time.UTC
}

// timeLayout is how plans and reports write an instant.
const timeLayout = "2006-01-02 15:04 MST"

// formatSpan writes [a, b], the day once when they share it.
func formatSpan(a, b time.Time) string {
	if a.Year() == b.Year() && a.YearDay() == b.YearDay() {
		return a.Format(timeLayout) + " - " + b.Format("15:04")
	}
	return a.Format(timeLayout) + " - " + b.Format(timeLayout)
}

// PlanView is how a plan is shown: its span, the time zone (nil: each
// window's own), whether every step is listed, whether Nx windows had a
// baseline, and what past windows' reports advise (plan --reports).
type PlanView struct {
	From, To     time.Time
	Display      *time.Location
	Steps        bool
	HaveBaseline bool
	Late         map[ground.TargetKey]config.LateWindow
	// Windows are the windows planned, and Learning what the daemon's
	// reports taught (plan --reports): each "shape: learned" window and
	// "leadTime: learned" target says it. Learning may be nil.
	Windows  []ground.Window
	Learning *policies.Learning
}

// Learned says what the reports taught of target t: its learned lead,
// and the shape of each "shape: learned" window's group, one line each.
func (v *PlanView) Learned(t *ground.Target) []string {
	var lines []string
	if t.LeadLearned {
		lead := t.LeadTime
		if v.Learning != nil {
			lead = v.Learning.Lead(t)
		}
		lines = append(lines, fmt.Sprintf("lead: learned, %s now (from %s to %s)", config.FormatDuration(lead), config.FormatDuration(t.MinLeadTime), config.FormatDuration(t.LeadTime)))
	}
	seen := map[string]bool{}
	for i := range v.Windows {
		w := &v.Windows[i]
		if !w.ShapeLearned || !w.Selects(t.Key()) || seen[w.LearningGroup()] {
			continue
		}
		seen[w.LearningGroup()] = true
		line := "shape of " + ShapeNote(w, t, v.Learning)
		if t.Mode != ground.ModeMetric {
			// HoldShaped: each drop inside the window waits this long.
			line += fmt.Sprintf(" (in mode %s each drop inside the window waits %s: behavior.scaleDown)", t.Mode, config.FormatDuration(t.Behavior.ScaleDownStabilization))
		}
		lines = append(lines, line)
	}
	return lines
}

// ShapeNote says the learned shape of window w's group on target t:
// "group tv-spots, 5 reports: peak at +2 min 30 s, ...", or how many
// reports it still lacks ("window x, 1 report: held flat until 3").
func ShapeNote(w *ground.Window, t *ground.Target, l *policies.Learning) string {
	group := "window " + w.Name
	if w.Group != "" {
		group = "group " + w.Group
	}
	if l != nil {
		if s, ok := l.Shape(w, t); ok {
			return group + ", " + s.Describe()
		}
	}
	n := 0
	if l != nil {
		if m, ok := l.Multiplier(w, t); ok {
			n = len(m.From)
		}
	}
	return fmt.Sprintf("%s, %d of the %d reports a learned shape needs: the floor is held flat", group, n, policies.MinShapeReports)
}

// WritePlanTable writes the plans as primetime plan's table: each target with
// how it is served and its query, then its floors and caps.
func WritePlanTable(w io.Writer, plans []policies.TargetPlan, v PlanView) error {
	from, to, display, steps, haveBaseline, late := v.From, v.To, v.Display, v.Steps, v.HaveBaseline, v.Late
	for i, p := range plans {
		t := p.Target
		if i > 0 {
			fmt.Fprintln(w)
		}
		lead := config.FormatDuration(t.LeadTime)
		if t.LeadLearned {
			lead = "learned, at most " + lead
		}
		fmt.Fprintf(w, "%s (%s/%s, mode %s, %d-%d replicas, %g load per replica, lead %s)\n",
			t.Key(), t.ScaleTargetRef.Kind, t.ScaleTargetRef.Name, t.Mode, t.MinReplicas, t.MaxReplicas, t.CapacityPerReplica, lead)
		if line := servedAs(t); line != "" {
			fmt.Fprintf(w, "  %s\n", line)
		}
		if advice, ok := late[t.Key()].Advice(t.LeadTime); ok {
			fmt.Fprintf(w, "  lead time: %s\n", advice)
		}
		if kind, query := queryOf(t); query != "" {
			fmt.Fprintf(w, "  load from %s: %s\n", kind, query)
		}
		if advice, ok := config.DatadogRollupAdvice(t.Load.Datadog); ok {
			fmt.Fprintf(w, "  warning: load.datadog: %s\n", advice)
		}
		for _, line := range v.Learned(t) {
			fmt.Fprintf(w, "  %s\n", line)
		}
		if len(p.Episodes) == 0 {
			fmt.Fprintf(w, "  no window between %s and %s\n", from.UTC().Format(timeLayout), to.UTC().Format(timeLayout))
			continue
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  WINDOWS\tKIND\tFROM\tWINDOW\tREPLICAS\tUNTIL")
		for _, e := range p.Episodes {
			loc := zoneOf(e, display)
			kind, replicas := "pre-scale", "?"
			if e.Kind == policies.EpisodeCap {
				kind = "quiet cap"
			}
			if e.Peak.OK {
				replicas = strconv.Itoa(int(e.Peak.V))
			} else if !haveBaseline {
				replicas = "? (needs --baseline)"
			}
			until := "after the end of the plan"
			if !e.End.IsZero() {
				until = e.End.In(loc).Format(timeLayout)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", strings.Join(e.Windows, ", "), kind,
				e.Start.In(loc).Format(timeLayout), formatSpan(e.WindowStart.In(loc), e.WindowEnd.In(loc)), replicas, until)
			if steps {
				for _, s := range e.Steps {
					fmt.Fprintf(tw, "  \t\t%s\t\t%s\t\n", s.At.In(loc).Format(timeLayout), s.Replicas)
				}
			}
			for _, n := range e.Notes {
				fmt.Fprintf(tw, "  \t\tnote: %s\t\t\t\n", n)
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// queryOf returns a target's query as its source receives it (template
// variables expanded), with the source's name; "" for the sources that
// take none.
func queryOf(t *ground.Target) (ground.SourceKind, string) {
	switch {
	case t.Load.Prometheus != "":
		return ground.SourcePrometheus, t.Load.Prometheus
	case t.Load.Datadog != "":
		return ground.SourceDatadog, t.Load.Datadog
	}
	return "", ""
}

// servedAs says how a target's decisions reach the scaling, for the
// table: metric targets through the external metrics API or KEDA's
// external scaler (serve --keda-addr), hpa-floor targets through an HPA
// that KEDA must not own.
func servedAs(t *ground.Target) string {
	switch t.Mode {
	case ground.ModeMetric:
		return fmt.Sprintf("served as primetime_replicas (selector target=%s) through external.metrics.k8s.io, or to KEDA as an `external` trigger with metadata target: %s",
			t.Name, t.Key())
	case ground.ModeHPAFloor:
		return fmt.Sprintf("raises minReplicas of the HPA on %s/%s; KEDA puts back the minReplicas of an HPA it generated (keda-hpa-*): with KEDA, use mode: metric and an `external` trigger",
			t.ScaleTargetRef.Kind, t.ScaleTargetRef.Name)
	}
	return ""
}

// servedDoc is servedAs for machines: where a metric target's value is
// served.
func servedDoc(t *ground.Target) *ServingJSON {
	if t.Mode != ground.ModeMetric {
		return nil
	}
	return &ServingJSON{
		ExternalMetric: ExternalMetricJSON{Name: "primetime_replicas", Selector: "target=" + t.Name},
		KEDA:           KEDATriggerJSON{Type: "external", Metadata: map[string]string{"target": t.Key().String()}},
	}
}

// The JSON form of a plan, for machines.
type (
	// PlanJSON is a plan: its span, each target's, and the advice on the
	// configuration.
	PlanJSON struct {
		From     time.Time        `json:"from"`
		To       time.Time        `json:"to"`
		Targets  []TargetPlanJSON `json:"targets"`
		Warnings []string         `json:"warnings"`
	}
	// TargetPlanJSON is one target, how it is served and its episodes.
	TargetPlanJSON struct {
		Target             string       `json:"target"`
		Kind               string       `json:"kind"`
		Name               string       `json:"name"`
		Mode               ground.Mode  `json:"mode"`
		MinReplicas        int32        `json:"minReplicas"`
		MaxReplicas        int32        `json:"maxReplicas"`
		CapacityPerReplica float64      `json:"capacityPerReplica"`
		LeadTimeSeconds    float64      `json:"leadTimeSeconds"`
		Served             *ServingJSON `json:"served,omitempty"`
		// Load is the query the target's source receives (template
		// variables expanded), for Prometheus and Datadog.
		Load *LoadJSON `json:"load,omitempty"`
		// Warnings are advice on the target itself (a Datadog rollup
		// that delays primetime's reaction).
		Warnings []string `json:"warnings,omitempty"`
		// LeadTime is the lead time the last late window suggests
		// (plan --reports), when it is longer than LeadTimeSeconds.
		LeadTime *LeadTimeJSON `json:"leadTime,omitempty"`
		// Learned says what the reports taught: the learned lead and
		// the shape of each "shape: learned" window's group.
		Learned  []string      `json:"learned,omitempty"`
		Episodes []EpisodeJSON `json:"episodes"`
	}
	// LoadJSON is the query a target's source receives.
	LoadJSON struct {
		Prometheus string `json:"prometheus,omitempty"`
		Datadog    string `json:"datadog,omitempty"`
	}
	// LeadTimeJSON is the lead time a late window suggests.
	LeadTimeJSON struct {
		config.LateWindow
		Advice string `json:"advice"`
	}
	// ServingJSON is where a metric target is served: the external
	// metrics API, and KEDA's external scaler (serve --keda-addr).
	ServingJSON struct {
		ExternalMetric ExternalMetricJSON `json:"externalMetric"`
		KEDA           KEDATriggerJSON    `json:"keda"`
	}
	// ExternalMetricJSON names the external metric a target is served as.
	ExternalMetricJSON struct {
		Name     string `json:"name"`
		Selector string `json:"selector"`
	}
	// KEDATriggerJSON is the KEDA trigger that reads a target.
	KEDATriggerJSON struct {
		Type     string            `json:"type"`
		Metadata map[string]string `json:"metadata"`
	}
	// EpisodeJSON is a stretch of time windows raise or cap a target.
	EpisodeJSON struct {
		Kind        policies.EpisodeKind `json:"kind"`
		Windows     []string             `json:"windows"`
		Start       time.Time            `json:"start"`
		WindowStart time.Time            `json:"windowStart"`
		WindowEnd   time.Time            `json:"windowEnd"`
		Replicas    *int32               `json:"replicas"`
		End         *time.Time           `json:"end"`
		Steps       []StepJSON           `json:"steps"`
		Notes       []string             `json:"notes,omitempty"`
	}
	// StepJSON is one step of an episode's floor.
	StepJSON struct {
		At       time.Time `json:"at"`
		Replicas *int32    `json:"replicas"`
	}
)

// optPtr is o for JSON: nil when absent.
func optPtr(o ground.Opt[int32]) *int32 {
	if !o.OK {
		return nil
	}
	v := o.V
	return &v
}

// WritePlanJSON writes the plans for machines (plan -o json), with the
// configuration's advice as warnings.
func WritePlanJSON(w io.Writer, plans []policies.TargetPlan, v PlanView, advice config.Problems) error {
	from, to, display, late := v.From, v.To, v.Display, v.Late
	doc := PlanJSON{From: from, To: to, Targets: []TargetPlanJSON{}, Warnings: []string{}}
	for _, p := range plans {
		t := p.Target
		tp := TargetPlanJSON{Target: t.Key().String(), Kind: t.ScaleTargetRef.Kind, Name: t.ScaleTargetRef.Name, Mode: t.Mode,
			MinReplicas: t.MinReplicas, MaxReplicas: t.MaxReplicas, CapacityPerReplica: t.CapacityPerReplica,
			LeadTimeSeconds: t.LeadTime.Seconds(), Served: servedDoc(t), Episodes: []EpisodeJSON{}}
		if _, q := queryOf(t); q != "" {
			tp.Load = &LoadJSON{Prometheus: t.Load.Prometheus, Datadog: t.Load.Datadog}
		}
		if advice, ok := config.DatadogRollupAdvice(t.Load.Datadog); ok {
			tp.Warnings = append(tp.Warnings, "load.datadog: "+advice)
		}
		if l, ok := late[t.Key()]; ok {
			if a, ok := l.Advice(t.LeadTime); ok {
				tp.LeadTime = &LeadTimeJSON{LateWindow: l, Advice: a}
			}
		}
		tp.Learned = v.Learned(t)
		for _, e := range p.Episodes {
			loc := zoneOf(e, display)
			ej := EpisodeJSON{Kind: e.Kind, Windows: e.Windows, Start: e.Start.In(loc), WindowStart: e.WindowStart.In(loc),
				WindowEnd: e.WindowEnd.In(loc), Replicas: optPtr(e.Peak), Notes: e.Notes}
			if !e.End.IsZero() {
				end := e.End.In(loc)
				ej.End = &end
			}
			for _, s := range e.Steps {
				ej.Steps = append(ej.Steps, StepJSON{At: s.At.In(loc), Replicas: optPtr(s.Replicas)})
			}
			tp.Episodes = append(tp.Episodes, ej)
		}
		doc.Targets = append(doc.Targets, tp)
	}
	for _, p := range advice {
		doc.Warnings = append(doc.Warnings, p.Error())
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}
