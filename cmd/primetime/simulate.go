package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
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
	cluster          string
	// The HPA fed by primetime_replicas (metric mode): its scale-down.
	hpaDownStabilization time.Duration
	hpaDownPercent       int32
	hpaDownPeriod        time.Duration

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
             (scaleUp.tolerance 0; its scale-down set by the --hpa-scale-down-*
             flags), or acting itself in scale mode
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
	f.StringVar(&o.cluster, "cluster", "", "expand %%cluster%% in the targets' queries as primetime serve --cluster does")
	f.DurationVar(&o.hpaDownStabilization, "hpa-scale-down-stabilization", 300*time.Second, "metric mode: the scaleDown.stabilizationWindowSeconds of the HPA fed by primetime_replicas (0s lets primetime's step-down alone pace the descent after a window; the reactive HPA keeps 5m)")
	f.Int32Var(&o.hpaDownPercent, "hpa-scale-down-percent", 100, "metric mode: the scaleDown Percent policy of the HPA fed by primetime_replicas: at most this % of the replicas removed per --hpa-scale-down-period")
	f.DurationVar(&o.hpaDownPeriod, "hpa-scale-down-period", 15*time.Second, "metric mode: the periodSeconds of that scaleDown policy")
	f.DurationVar(&o.timeline, "timeline", 0, "also print the replicas of primetime and the reactive HPA every DURATION around each announced window, and how ready each was")

	f.StringVar(&o.generate, "generate", "", "write a synthetic trace instead: tv-spot, newsletter, organic-week, demo-spot, late-spots, missed-spots, two-wave-spots or shape-change-spots")
	f.StringVar(&o.out, "out", "", "with --generate: path prefix of the files written")
	f.Uint64Var(&o.gen.Seed, "seed", 1, "with --generate: random seed")
	f.IntVar(&o.gen.Days, "days", 7, "with --generate: length in days")
	f.Float64Var(&o.gen.Peak, "peak", 1000, "with --generate: a weekday's organic evening peak load")
	f.IntVar(&o.gen.Spots, "spots", 8, "with --generate tv-spot: how many TV spots")
	f.Float64Var(&o.gen.Noise, "noise", 0.05, "with --generate: the organic load's slow noise, a relative standard deviation (white noise adds half as much)")
	return cmd
}

func runGenerate(cmd *cobra.Command, o simulateOptions) error {
	if o.out == "" {
		return errors.New("--generate needs --out PREFIX (writes PREFIX.csv, PREFIX.windows.yaml, PREFIX.targets.yaml)")
	}
	if o.gen.Noise <= 0 || o.gen.Noise > 1 {
		return fmt.Errorf("--noise must be above 0 and at most 1, got %g", o.gen.Noise)
	}
	o.gen.Kind = simulate.TraceKind(o.generate)
	g, err := simulate.Generate(o.gen)
	if err != nil {
		return fmt.Errorf("--generate: %w", err)
	}
	written, err := g.WriteFiles(o.out)
	for _, name := range written {
		fmt.Fprintf(cmd.OutOrStdout(), "wrote %s\n", name)
	}
	if err != nil {
		return err
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
	if err := checkHPAScaleDown(o); err != nil {
		return err
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
	all, problems, err := readConfigFilesWith(cmd.ErrOrStderr(), config.Loader{Cluster: o.cluster, LookupEnv: os.LookupEnv}, o.targets, o.windows)
	if err != nil {
		return err
	}
	target, err := simulate.PickTarget(all.Targets, o.target)
	if err != nil {
		return err
	}
	if (target.Mode == ground.ModeHPAFloor || target.Mode == ground.ModeScale) && hpaScaleDownSet(cmd) {
		return fmt.Errorf("the --hpa-scale-down-* flags model the HPA fed by primetime_replicas (mode: metric); target %s is mode %s", target.Key(), target.Mode)
	}
	setup := simulate.Setup{
		Trace: simulate.Trace(series), Target: *target, Windows: all.Windows,
		Startup: o.startup, MetricDelay: o.metricDelay, Interval: o.interval, HPASync: o.hpaSync, RecordEvery: o.timeline,
		PrimetimeHPA: primetimeHPA(o),
	}
	rep, err := simulate.Run(cmd.Context(), setup, strategies)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if o.output == "json" {
		err = rep.WriteJSON(out)
	} else {
		err = rep.WriteTable(out, o.trace)
	}
	if err != nil {
		return err
	}
	if o.timeline > 0 && o.output == "table" {
		if err := rep.WriteTimeline(out, o.loadUnit); err != nil {
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

// checkHPAScaleDown checks the --hpa-scale-down-* flags against what the
// HPA's API accepts: a stabilisation window of 0 to 3600 whole seconds, a
// policy's period of 1 to 1800 whole seconds.
func checkHPAScaleDown(o simulateOptions) error {
	switch s, p := o.hpaDownStabilization, o.hpaDownPeriod; {
	case s < 0 || s > time.Hour || s%time.Second != 0:
		return fmt.Errorf("--hpa-scale-down-stabilization must be whole seconds from 0s to 1h (the HPA's stabilizationWindowSeconds: 0-3600), got %s", s)
	case o.hpaDownPercent < 1 || o.hpaDownPercent > 100:
		return fmt.Errorf("--hpa-scale-down-percent must be from 1 to 100, got %d", o.hpaDownPercent)
	case p < time.Second || p > 30*time.Minute || p%time.Second != 0:
		return fmt.Errorf("--hpa-scale-down-period must be whole seconds from 1s to 30m (the HPA's periodSeconds: 1-1800), got %s", p)
	}
	return nil
}

// hpaScaleDownSet reports whether any --hpa-scale-down-* flag was given.
func hpaScaleDownSet(cmd *cobra.Command) bool {
	for _, name := range []string{"hpa-scale-down-stabilization", "hpa-scale-down-percent", "hpa-scale-down-period"} {
		if cmd.Flags().Changed(name) {
			return true
		}
	}
	return false
}

// primetimeHPA is the behaviour of the HPA fed by primetime_replicas: the
// HPA's defaults with scaleUp.tolerance 0 (as the install docs recommend)
// and the scale-down of the --hpa-scale-down-* flags.
func primetimeHPA(o simulateOptions) *simulate.Behavior {
	b := simulate.DefaultBehavior()
	b.Up.Tolerance = 0
	b.Down.Stabilization = o.hpaDownStabilization
	b.Down.Policies = []simulate.ScalingPolicy{{Kind: simulate.PolicyPercent, Value: o.hpaDownPercent, Period: o.hpaDownPeriod}}
	return &b
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
