package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/policies/config"
	"github.com/primetime-dev/primetime/simulate"
)

type simulateOptions struct {
	trace            string
	targets, windows []string
	target           string
	strategies       []string
	startup          time.Duration
	metricDelay      time.Duration
	interval         time.Duration
	hpaSync          time.Duration
	output           string
	svg              string
	svgFrom, svgTo   string
	loadUnit         string
	timeline         time.Duration

	generate string
	gen      simulate.GenerateOptions
	out      string
}

func newSimulateCommand() *cobra.Command {
	var o simulateOptions
	cmd := &cobra.Command{
		Use:   "simulate --trace FILE.csv --targets FILE --windows FILE [--strategy S] [--svg FILE]",
		Short: "Replay a load trace through primetime and an HPA model; report unserved load and cost",
		Long: `simulate replays a load trace (CSV rows of timestamp,load) through the same
engine and policies as primetime serve, a model of the HorizontalPodAutoscaler
controller and a model of pod start-up, and reports for each strategy the load
left unserved (above ready capacity), the time under capacity, the
replica-hours and the peak replicas.

Strategies (--strategy, repeatable; default all):
  primetime  primetime's engine (windows, forecast, tracking) feeding an HPA
             (scaleUp.tolerance 0), or acting itself in scale mode
  reactive   an HPA on the observed load: AverageValue capacityPerReplica,
             default behaviour (+100% or +4 pods per 15 s, 300 s scale-down
             stabilisation, 10% tolerance)
  static     the trace's peak need, all the time
  oracle     perfect foresight: exactly the replicas needed, started early
             enough to be ready

With --generate tv-spot|newsletter|organic-week|demo-spot|late-spots|missed-spots|two-wave-spots it writes a synthetic
trace instead: PREFIX.csv, PREFIX.windows.yaml and PREFIX.targets.yaml (--out
PREFIX).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.generate != "" {
				return runGenerate(cmd, o)
			}
			return runSimulate(cmd, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.trace, "trace", "", "load trace: CSV of timestamp (RFC 3339 or Unix seconds),load")
	f.StringArrayVar(&o.targets, "targets", nil, "targets file or ConfigMap manifest (repeatable)")
	f.StringArrayVar(&o.windows, "windows", nil, "windows file or ConfigMap manifest (repeatable)")
	f.StringVar(&o.target, "target", "", "namespace/name of the target the trace is the load of (default: the only one)")
	f.StringSliceVar(&o.strategies, "strategy", nil, "primetime, reactive, static or oracle (repeatable; default all)")
	f.DurationVar(&o.startup, "startup", simulate.DefaultStartup, "pod start-up delay: a new pod serves load this long after it is created")
	f.DurationVar(&o.metricDelay, "metric-delay", simulate.DefaultMetricDelay, "how late the load reaches primetime and the HPA")
	f.DurationVar(&o.interval, "interval", simulate.DefaultInterval, "primetime's evaluation interval (serve --interval)")
	f.DurationVar(&o.hpaSync, "hpa-sync", simulate.DefaultHPASync, "the HPA controller's sync period")
	f.StringVarP(&o.output, "output", "o", "table", "output format: table or json")
	f.StringVar(&o.svg, "svg", "", "also draw load, ready capacity and replicas over time into this SVG file")
	f.StringVar(&o.svgFrom, "svg-from", "", "start of the SVG's time axis (RFC 3339 or \"2006-01-02 15:04\" in the windows' time zone)")
	f.StringVar(&o.svgTo, "svg-to", "", "end of the SVG's time axis")
	f.StringVar(&o.loadUnit, "load-unit", "req/s", "unit of the trace's load, for labels")
	f.DurationVar(&o.timeline, "timeline", 0, "also print the replicas of primetime and the reactive HPA every DURATION around each announced window, and how ready each was")

	f.StringVar(&o.generate, "generate", "", "write a synthetic trace instead: tv-spot, newsletter, organic-week, demo-spot, late-spots, missed-spots or two-wave-spots")
	f.StringVar(&o.out, "out", "", "with --generate: path prefix of the files written")
	f.Uint64Var(&o.gen.Seed, "seed", 1, "with --generate: random seed")
	f.IntVar(&o.gen.Days, "days", 7, "with --generate: length in days")
	f.Float64Var(&o.gen.Peak, "peak", 1000, "with --generate: a weekday's organic evening peak load")
	f.IntVar(&o.gen.Spots, "spots", 8, "with --generate tv-spot: how many TV spots")
	return cmd
}

func runGenerate(cmd *cobra.Command, o simulateOptions) error {
	if o.out == "" {
		return errors.New("--generate needs --out PREFIX (writes PREFIX.csv, PREFIX.windows.yaml, PREFIX.targets.yaml)")
	}
	o.gen.Kind = simulate.TraceKind(o.generate)
	g, err := simulate.Generate(o.gen)
	if err != nil {
		return fmt.Errorf("--generate: %w", err)
	}
	var csv strings.Builder
	if err := simulate.WriteSeriesCSV(&csv, ground.Series(g.Trace), 1); err != nil {
		return err
	}
	files := []struct {
		name string
		data []byte
	}{
		{o.out + ".csv", []byte(csv.String())},
		{o.out + ".windows.yaml", g.Windows},
		{o.out + ".targets.yaml", g.Targets},
	}
	for _, f := range files {
		if f.data == nil {
			continue // nothing announced
		}
		if err := os.WriteFile(f.name, f.data, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "wrote %s\n", f.name)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%d rows from %s to %s, %d events\n", len(g.Trace),
		g.Trace.Start().Format(time.RFC3339), g.Trace.End().Format(time.RFC3339), len(g.Events))
	return nil
}

func runSimulate(cmd *cobra.Command, o simulateOptions) error {
	switch {
	case o.trace == "":
		return errors.New("--trace is required (or --generate to make one)")
	case len(o.targets) == 0:
		return errors.New("--targets is required")
	case o.output != "table" && o.output != "json":
		return fmt.Errorf("--output must be table or json, got %q", o.output)
	}
	strategies := simulate.Strategies
	if len(o.strategies) > 0 {
		strategies = nil
		for _, s := range o.strategies {
			st, err := simulate.ParseStrategy(strings.TrimSpace(s))
			if err != nil {
				return fmt.Errorf("--strategy: %w", err)
			}
			strategies = append(strategies, st)
		}
	}
	for _, d := range []struct {
		flag   string
		v      time.Duration
		zeroOK bool
	}{{"--startup", o.startup, true}, {"--metric-delay", o.metricDelay, true}, {"--interval", o.interval, false}, {"--hpa-sync", o.hpaSync, false}, {"--timeline", o.timeline, true}} {
		if d.v < 0 || (d.v == 0 && !d.zeroOK) {
			return fmt.Errorf("%s must be positive, got %s", d.flag, d.v)
		}
	}
	f, err := os.Open(o.trace)
	if err != nil {
		return err
	}
	series, err := simulate.ReadSeriesCSV(f, o.trace)
	f.Close()
	if err != nil {
		return err
	}
	all, problems, err := readConfigFiles(cmd.ErrOrStderr(), o.targets, o.windows)
	if err != nil {
		return err
	}
	target, err := pickTarget(all.Targets, o.target)
	if err != nil {
		return err
	}
	setup := simulate.Setup{
		Trace: simulate.Trace(series), Target: *target, Windows: all.Windows,
		Startup: o.startup, MetricDelay: o.metricDelay, Interval: o.interval, HPASync: o.hpaSync, RecordEvery: o.timeline,
	}
	rep, err := simulate.Run(cmd.Context(), setup, strategies)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if o.output == "json" {
		err = writeSimulationJSON(out, rep)
	} else {
		err = writeSimulationTable(out, rep, o.trace)
	}
	if err != nil {
		return err
	}
	if o.timeline > 0 && o.output == "table" {
		if err := writeTimeline(out, rep, o.loadUnit); err != nil {
			return err
		}
	}
	if o.svg != "" {
		if err := writeSimulationSVG(rep, o, all.Windows); err != nil {
			return fmt.Errorf("--svg: %w", err)
		}
	}
	if problems > 0 {
		return exitCode(1)
	}
	return nil
}

// pickTarget returns the target named namespace/name, or the only one.
func pickTarget(targets []ground.Target, name string) (*ground.Target, error) {
	if name == "" {
		switch len(targets) {
		case 0:
			return nil, errors.New("the targets files hold no valid target")
		case 1:
			return &targets[0], nil
		}
		names := make([]string, len(targets))
		for i := range targets {
			names[i] = targets[i].Key().String()
		}
		return nil, fmt.Errorf("the targets files hold %d targets (%s): name the trace's with --target", len(targets), strings.Join(names, ", "))
	}
	for i := range targets {
		if targets[i].Key().String() == name {
			return &targets[i], nil
		}
	}
	return nil, fmt.Errorf("--target: no valid target %q in the targets files", name)
}

func writeSimulationSVG(rep *simulate.Report, o simulateOptions, windows []ground.Window) error {
	loc := time.UTC
	if len(windows) > 0 && windows[0].Location != nil {
		loc = windows[0].Location
	}
	po := simulate.PlotOptions{Location: loc, LoadUnit: o.loadUnit}
	for _, b := range []struct {
		flag, v string
		dst     *time.Time
	}{{"--svg-from", o.svgFrom, &po.From}, {"--svg-to", o.svgTo, &po.To}} {
		if b.v == "" {
			continue
		}
		t, err := config.ParseTime(b.v, loc)
		if err != nil {
			return fmt.Errorf("%s: %v", b.flag, err)
		}
		*b.dst = t
	}
	f, err := os.Create(o.svg)
	if err != nil {
		return err
	}
	if err := simulate.WriteSVG(f, rep, po); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func writeSimulationTable(w io.Writer, rep *simulate.Report, traceName string) error {
	s := rep.Setup
	fmt.Fprintf(w, "trace %s: %s to %s (%s), target %s, %s inside announced windows\n",
		traceName, rep.From.Format("2006-01-02 15:04 MST"), rep.To.Format("2006-01-02 15:04 MST"),
		config.FormatDuration(rep.To.Sub(rep.From)), rep.Target, config.FormatDuration(rep.WindowTime))
	fmt.Fprintf(w, "models: pod start-up %s, metric delay %s, HPA sync %s, primetime interval %s, capacity %g per replica\n\n",
		s.Startup.Round(time.Second), s.MetricDelay.Round(time.Second), s.HPASync, s.Interval, s.Target.CapacityPerReplica)
	var oracle *simulate.Result
	for i := range rep.Results {
		if rep.Results[i].Strategy == simulate.StrategyOracle {
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

type simulationJSON struct {
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
	Results     []strategyJSON `json:"results"`
}

type strategyJSON struct {
	Strategy          string  `json:"strategy"`
	Unserved          float64 `json:"unserved"`
	UnservedInWindows float64 `json:"unservedInWindows"`
	UnservedShare     float64 `json:"unservedShare"`
	UnderCapacitySec  float64 `json:"underCapacitySeconds"`
	ReplicaHours      float64 `json:"replicaHours"`
	PeakReplicas      int32   `json:"peakReplicas"`
}

func writeSimulationJSON(w io.Writer, rep *simulate.Report) error {
	s := rep.Setup
	out := simulationJSON{
		Target: rep.Target.String(), From: rep.From, To: rep.To, WindowSec: rep.WindowTime.Seconds(), TotalLoad: rep.TotalLoad,
		StartupSec: s.Startup.Seconds(), DelaySec: s.MetricDelay.Seconds(), HPASyncSec: s.HPASync.Seconds(),
		IntervalSec: s.Interval.Seconds(), Capacity: s.Target.CapacityPerReplica,
	}
	for _, r := range rep.Results {
		out.Results = append(out.Results, strategyJSON{
			Strategy: string(r.Strategy), Unserved: r.Unserved, UnservedInWindows: r.UnservedInWindows,
			UnservedShare: r.UnservedShare, UnderCapacitySec: r.UnderCapacity.Seconds(),
			ReplicaHours: r.ReplicaHours, PeakReplicas: r.PeakReplicas,
		})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// writeTimeline prints, around each announced window, the load and the
// replicas of primetime and the reactive HPA at the timeline's
// resolution, then how ready each was when the window started.
func writeTimeline(w io.Writer, rep *simulate.Report, unit string) error {
	s := rep.Setup
	loc := time.UTC
	if len(s.Windows) > 0 && s.Windows[0].Location != nil {
		loc = s.Windows[0].Location
	}
	byStrategy := map[simulate.Strategy][]simulate.Point{}
	for _, r := range rep.Results {
		byStrategy[r.Strategy] = r.Points
	}
	pt, re := byStrategy[simulate.StrategyPrimetime], byStrategy[simulate.StrategyReactive]
	for k, a := range rep.Windows {
		from, to := a.Start.Add(-s.Target.LeadTime-30*time.Second), a.End.Add(2*time.Minute)
		fmt.Fprintf(w, "\n%s at %s: a %s window; leadTime %s, pods start in %s, the load is seen %s late\n",
			a.Name, a.Start.In(loc).Format("15:04:05"), config.FormatDuration(a.End.Sub(a.Start)),
			config.FormatDuration(s.Target.LeadTime), config.FormatDuration(s.Startup), config.FormatDuration(s.MetricDelay))
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
	}
	return nil
}

// phaseAt names where an instant is in a window's life.
func phaseAt(t time.Time, a simulate.Announced, lead time.Duration) string {
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
func readinessSentence(r simulate.Readiness, a simulate.Announced, loc *time.Location) string {
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
