//go:build !simulateonly

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/policies/config"
	"github.com/primetime-dev/primetime/render"
	"github.com/primetime-dev/primetime/simulate"
	"github.com/primetime-dev/primetime/sources"
)

type reportOptions struct {
	targets, windows []string
	from, to         string
	timezone         string
	output           string
	step             time.Duration
	cluster          string
	src              sourceFlags
}

// reportNow is the clock of report: history is fetched up to it.
var reportNow = time.Now

func newReportCommand() *cobra.Command {
	var o reportOptions
	cmd := &cobra.Command{
		Use:   "report --targets FILE --windows FILE --from T --to T [--prometheus-url U | DD_* env]",
		Short: "Say what past window occurrences really did, from the load history of each target",
		Long: `report computes the window reports primetime serve writes as WindowReport
Events (peak ratio against the expected one, time to peak, time to half decay,
replica-hours added over tracking, and a quiet window's replica-hours saved)
for the occurrences that start between --from and --to, with no daemon and no
Kubernetes: the load history of each target is read from its source
(Prometheus range queries with --prometheus-url, Datadog with DD_API_KEY,
DD_APP_KEY and DD_SITE) and replayed through the same engine and policies as
serve, on a simulated clock.

The workload's replicas are not known offline: the reports leave out the
replicas at the start and the load above capacity. Times (--from, --to) are
RFC 3339 or "2006-01-02 15:04" in --timezone (default UTC).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runReport(cmd, o) },
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.targets, "targets", nil, "targets file or ConfigMap manifest (repeatable)")
	f.StringArrayVar(&o.windows, "windows", nil, "windows file or ConfigMap manifest (repeatable)")
	f.StringVar(&o.from, "from", "", "report the occurrences that start at or after this time")
	f.StringVar(&o.to, "to", "", "and before this time")
	f.StringVar(&o.timezone, "timezone", "", "time zone of --from/--to written without an offset (default UTC)")
	f.StringVarP(&o.output, "output", "o", "text", "output format: text (one sentence per report) or json")
	f.DurationVar(&o.step, "step", 15*time.Second, "resolution of the history read and of the replay (serve's --interval)")
	f.StringVar(&o.cluster, "cluster", "", "report as primetime serve --cluster does: only its targets, and the value of %%cluster%% in their queries (%%env_NAME%% is the variable NAME of report's environment)")
	o.src.install(f)
	_ = cmd.MarkFlagRequired("targets")
	_ = cmd.MarkFlagRequired("windows")
	_ = cmd.MarkFlagRequired("from")
	_ = cmd.MarkFlagRequired("to")
	return cmd
}

func runReport(cmd *cobra.Command, o reportOptions) error {
	if o.output != "text" && o.output != "json" {
		return fmt.Errorf("--output must be text or json, got %q", o.output)
	}
	if o.step < time.Second || o.step%time.Second != 0 {
		return fmt.Errorf("--step must be a whole number of seconds, at least 1s, got %s", o.step)
	}
	zone := time.UTC
	if o.timezone != "" {
		loc, err := time.LoadLocation(o.timezone)
		if err != nil {
			return fmt.Errorf("--timezone: %v", err)
		}
		zone = loc
	}
	from, err := config.ParseTime(o.from, zone)
	if err != nil {
		return fmt.Errorf("--from: %v", err)
	}
	to, err := config.ParseTime(o.to, zone)
	if err != nil {
		return fmt.Errorf("--to: %v", err)
	}
	if !to.After(from) {
		return errors.New("--to must be after --from")
	}
	all, problems, err := readConfigFilesWith(cmd.ErrOrStderr(), config.Loader{Cluster: o.cluster, LookupEnv: os.LookupEnv}, o.targets, o.windows)
	if err != nil {
		return err
	}
	if o.cluster != "" {
		all.Targets = slices.DeleteFunc(all.Targets, func(t ground.Target) bool { return !t.InCluster(o.cluster) })
	}
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	h := &reportHistory{flags: &o.src}
	res := simulate.ReplayHistory(ctx, simulate.History{Targets: all.Targets, Windows: all.Windows,
		From: from, To: to, Step: o.step, Now: reportNow(), Cluster: o.cluster, SourceOf: h.source})
	for _, note := range res.Notes {
		fmt.Fprintln(cmd.ErrOrStderr(), note)
	}
	problems += res.Problems
	reports := res.Reports
	out := cmd.OutOrStdout()
	if o.output == "json" {
		err = render.WriteReportsJSON(out, reports)
	} else {
		for i := range reports {
			fmt.Fprintln(out, reports[i].Sentence())
		}
	}
	if err != nil {
		return err
	}
	if problems > 0 {
		return exitCode(1)
	}
	return nil
}

// reportHistory makes the sources that report reads history from, once.
type reportHistory struct {
	flags *sourceFlags
	prom  sources.Source
	dd    sources.Source
}

// source returns the source of t's load, or why there is none.
func (h *reportHistory) source(t *ground.Target) (sources.Source, error) {
	switch kind := t.Load.Kind(); kind {
	case ground.SourcePrometheus:
		if h.prom == nil {
			if h.flags.prom.url == "" {
				return nil, errors.New("its load is a Prometheus query: give --prometheus-url")
			}
			src, err := h.flags.newPrometheus(nil)
			if err != nil {
				return nil, err
			}
			h.prom = src
		}
		return h.prom, nil
	case ground.SourceDatadog:
		if h.dd == nil {
			if os.Getenv("DD_API_KEY") == "" {
				return nil, errors.New("its load is a Datadog query: set DD_API_KEY, DD_APP_KEY (and DD_SITE)")
			}
			src, err := h.flags.newDatadog(zap.NewNop(), nil)
			if err != nil {
				return nil, err
			}
			h.dd = src
		}
		return h.dd, nil
	default:
		return nil, fmt.Errorf("its load source (%s) keeps no history: no report", kind)
	}
}
