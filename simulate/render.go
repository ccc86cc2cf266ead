package simulate

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/policies/config"
)

// WriteTable writes the report as the simulate command's table: the
// trace and the models, then each strategy's unserved load, time under
// capacity and replica-hours (and against the oracle's), then the unserved
// load inside each announced window.
func (rep *Report) WriteTable(w io.Writer, traceName string) error {
	s := rep.Setup
	fmt.Fprintf(w, "trace %s: %s to %s (%s), target %s, %s inside announced windows\n",
		traceName, rep.From.Format("2006-01-02 15:04 MST"), rep.To.Format("2006-01-02 15:04 MST"),
		config.FormatDuration(rep.To.Sub(rep.From)), rep.Target, config.FormatDuration(rep.WindowTime))
	fmt.Fprintf(w, "models: pod start-up %s, metric delay %s, HPA sync %s, primetime interval %s, capacity %g per replica%s\n\n",
		s.Startup.Round(time.Second), s.MetricDelay.Round(time.Second), s.HPASync, s.Interval, s.Target.CapacityPerReplica,
		primetimeScaleDownNote(s))
	var oracle *Result
	for i := range rep.Results {
		if rep.Results[i].Strategy == StrategyOracle {
			oracle = &rep.Results[i]
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "strategy\tunserved load\tin windows\tshare\tunder capacity\treplica-hours\tvs oracle\tpeak replicas\t")
	for _, r := range rep.Results {
		vsOracle := "-"
		if oracle != nil && oracle.ReplicaHours > 0 {
			vsOracle = fmt.Sprintf("%.2fx", r.ReplicaHours/oracle.ReplicaHours)
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.3f%%\t%s\t%.1f\t%s\t%d\t\n", r.Strategy, r.Unserved, r.UnservedInWindows,
			100*r.UnservedShare, config.FormatDuration(r.UnderCapacity), r.ReplicaHours, vsOracle, r.PeakReplicas)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(rep.Windows) > 0 {
		fmt.Fprintln(w, "\nunserved load inside each announced window:")
		fmt.Fprint(tw, "window\tstart\t")
		for _, r := range rep.Results {
			fmt.Fprintf(tw, "%s\t", r.Strategy)
		}
		fmt.Fprintln(tw)
		loc := time.UTC
		if len(s.Windows) > 0 && s.Windows[0].Location != nil {
			loc = s.Windows[0].Location
		}
		for k, a := range rep.Windows {
			fmt.Fprintf(tw, "%s\t%s\t", a.Name, a.Start.In(loc).Format("Mon 2006-01-02 15:04"))
			for _, r := range rep.Results {
				fmt.Fprintf(tw, "%.0f\t", r.UnservedByWindow[k])
			}
			fmt.Fprintln(tw)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintln(w, "\nunserved load: load above ready capacity (replicas ready × capacityPerReplica), integrated over time (load × s)")
	return err
}

// primetimeScaleDownNote describes the scale-down of the HPA fed by
// primetime_replicas when it is not the HPA's default; empty when it is.
func primetimeScaleDownNote(s Setup) string {
	if s.PrimetimeHPA == nil || s.Target.Mode == ground.ModeHPAFloor || s.Target.Mode == ground.ModeScale {
		return ""
	}
	d, def := s.PrimetimeHPA.Down, DefaultBehavior().Down
	if d.Stabilization == def.Stabilization && slices.Equal(d.Policies, def.Policies) && d.Select == def.Select {
		return ""
	}
	note := fmt.Sprintf(", primetime's HPA scale-down: %s stabilisation", d.Stabilization)
	for _, p := range d.Policies {
		unit := " pods"
		if p.Kind == PolicyPercent {
			unit = "%"
		}
		note += fmt.Sprintf(", %d%s per %s", p.Value, unit, p.Period)
	}
	return note
}

// ReportJSON is the report for machines (simulate -o json).
type ReportJSON struct {
	Target      string         `json:"target"`
	From        time.Time      `json:"from"`
	To          time.Time      `json:"to"`
	WindowSec   float64        `json:"windowSeconds"`
	TotalLoad   float64        `json:"totalLoad"`
	StartupSec  float64        `json:"startupSeconds"`
	DelaySec    float64        `json:"metricDelaySeconds"`
	HPASyncSec  float64        `json:"hpaSyncSeconds"`
	IntervalSec float64        `json:"intervalSeconds"`
	Capacity    float64        `json:"capacityPerReplica"`
	Results     []StrategyJSON `json:"results"`
}

// StrategyJSON is one strategy's outcome in ReportJSON.
type StrategyJSON struct {
	Strategy          string  `json:"strategy"`
	Unserved          float64 `json:"unserved"`
	UnservedInWindows float64 `json:"unservedInWindows"`
	UnservedShare     float64 `json:"unservedShare"`
	UnderCapacitySec  float64 `json:"underCapacitySeconds"`
	ReplicaHours      float64 `json:"replicaHours"`
	PeakReplicas      int32   `json:"peakReplicas"`
}

// WriteJSON writes the report as indented ReportJSON.
func (rep *Report) WriteJSON(w io.Writer) error {
	s := rep.Setup
	out := ReportJSON{
		Target: rep.Target.String(), From: rep.From, To: rep.To, WindowSec: rep.WindowTime.Seconds(), TotalLoad: rep.TotalLoad,
		StartupSec: s.Startup.Seconds(), DelaySec: s.MetricDelay.Seconds(), HPASyncSec: s.HPASync.Seconds(),
		IntervalSec: s.Interval.Seconds(), Capacity: s.Target.CapacityPerReplica,
	}
	for _, r := range rep.Results {
		out.Results = append(out.Results, StrategyJSON{
			Strategy: string(r.Strategy), Unserved: r.Unserved, UnservedInWindows: r.UnservedInWindows,
			UnservedShare: r.UnservedShare, UnderCapacitySec: r.UnderCapacity.Seconds(),
			ReplicaHours: r.ReplicaHours, PeakReplicas: r.PeakReplicas,
		})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// WriteTimeline writes, around each announced window, the load (in unit)
// and the replicas of primetime and the reactive HPA at the points'
// resolution, then how ready each was when the window started.
func (rep *Report) WriteTimeline(w io.Writer, unit string) error {
	s := rep.Setup
	loc := time.UTC
	if len(s.Windows) > 0 && s.Windows[0].Location != nil {
		loc = s.Windows[0].Location
	}
	byStrategy := map[Strategy][]Point{}
	for _, r := range rep.Results {
		byStrategy[r.Strategy] = r.Points
	}
	pt, re := byStrategy[StrategyPrimetime], byStrategy[StrategyReactive]
	for k, a := range rep.Windows {
		from, to := a.Start.Add(-s.Target.LeadTime-30*time.Second), a.End.Add(2*time.Minute)
		lead := config.FormatDuration(s.Target.LeadTime)
		if s.Target.LeadLearned {
			lead = "learned (at most " + lead + ")"
		}
		fmt.Fprintf(w, "\n%s at %s: a %s window; leadTime %s, pods start in %s, the load is seen %s late\n",
			a.Name, a.Start.In(loc).Format("15:04:05"), config.FormatDuration(a.End.Sub(a.Start)),
			lead, config.FormatDuration(s.Startup), config.FormatDuration(s.MetricDelay))
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "time\tload (%s)\twindow\tprimetime floor\tprimetime replicas (ready)\treactive HPA replicas (ready)\t\n", unit)
		for i := range pt {
			p := pt[i]
			if p.T.Before(from) || p.T.After(to) {
				continue
			}
			floor, reactive := "-", "-"
			if p.Floor > 0 {
				floor = fmt.Sprint(p.Floor)
			}
			if i < len(re) {
				reactive = fmt.Sprintf("%d (%d)", re[i].Replicas, re[i].Ready)
			}
			fmt.Fprintf(tw, "%s\t%.0f\t%s\t%s\t%d (%d)\t%s\t\n", p.T.In(loc).Format("15:04:05"), p.Load, phaseAt(p.T, a, s.Target.LeadTime),
				floor, p.Replicas, p.Ready, reactive)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, r := range rep.Readiness(k) {
			fmt.Fprintln(w, readinessSentence(r, a, loc))
		}
		for _, r := range rep.Results {
			for i := range r.Reports {
				if wr := &r.Reports[i]; wr.Window == a.Name && wr.Start.Equal(a.Start) {
					fmt.Fprintf(w, "its report: %s\n", wr.Sentence())
				}
			}
		}
	}
	return nil
}

// phaseAt names where an instant is in a window's life.
func phaseAt(t time.Time, a Announced, lead time.Duration) string {
	switch {
	case t.Before(a.Start.Add(-lead)):
		return "before"
	case t.Before(a.Start):
		return "pre-scaling"
	case t.Before(a.End):
		return "ON AIR"
	}
	return "after"
}

// readinessSentence says in one sentence how ready a strategy was.
func readinessSentence(r Readiness, a Announced, loc *time.Location) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: ", r.Strategy)
	if !r.FloorFrom.IsZero() {
		fmt.Fprintf(&b, "pre-scaling from %s (floor %d); ", r.FloorFrom.In(loc).Format("15:04:05"), r.Floor)
	}
	fmt.Fprintf(&b, "%d of the %d replicas the spot needs ready when it started", min(r.ReadyAtStart, r.Need), r.Need)
	switch {
	case r.ReadyAt.IsZero():
		b.WriteString(", never all of them")
	case !r.ReadyAt.After(a.Start):
		fmt.Fprintf(&b, " (all of them %s before)", config.FormatDuration(a.Start.Sub(r.ReadyAt)))
	default:
		fmt.Fprintf(&b, ", all of them only %s after", config.FormatDuration(r.ReadyAt.Sub(a.Start)))
	}
	fmt.Fprintf(&b, "; %.0f requests unserved in the window", r.Unserved)
	return b.String()
}
