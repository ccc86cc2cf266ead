//go:build !simulateonly

package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/policies"
	"github.com/primetime-dev/primetime/policies/config"
	"github.com/primetime-dev/primetime/simulate"
	"github.com/primetime-dev/primetime/sources"
	"github.com/primetime-dev/primetime/sources/datadog"
	promsource "github.com/primetime-dev/primetime/sources/prometheus"
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
	f.StringVar(&o.cluster, "cluster", "", "the --cluster of the primetime serve that reads the targets: the value of %%cluster%% in their queries (%%env_NAME%% is the variable NAME of report's environment)")
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
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	h := &reportHistory{flags: &o.src}
	res := simulate.ReplayHistory(ctx, simulate.History{Targets: all.Targets, Windows: all.Windows,
		From: from, To: to, Step: o.step, Now: reportNow(), SourceOf: h.source})
	for _, note := range res.Notes {
		fmt.Fprintln(cmd.ErrOrStderr(), note)
	}
	problems += res.Problems
	reports := res.Reports
	out := cmd.OutOrStdout()
	if o.output == "json" {
		err = writeReportsJSON(out, reports)
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
			src, err := promsource.New(promsource.Config{URL: h.flags.prom.url, Timeout: h.flags.prom.timeout, HTTP: h.flags.prom.httpConfig()}, nil)
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
			if share := h.flags.datadogBudgetShare; share <= 0 || share > 1 {
				return nil, fmt.Errorf("--datadog-budget-share %v is not in (0, 1]", share)
			}
			cfg := h.flags.datadogConfig()
			cfg.Logger = zap.NewNop()
			src, err := datadog.New(cfg)
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

// reportJSON is a window report for machines; figures not known are null.
type reportJSON struct {
	Window string `json:"window"`
	// Origin is the file (or namespace/configmap[key]) the window was
	// read from.
	Origin   string     `json:"origin"`
	Target   string     `json:"target"`
	Quiet    bool       `json:"quiet"`
	Start    time.Time  `json:"start"`
	End      time.Time  `json:"end"`
	Released time.Time  `json:"released"`
	Baseline *float64   `json:"baseline"`
	Peak     *float64   `json:"peak"`
	PeakAt   *time.Time `json:"peakAt"`
	Ratio    *float64   `json:"ratio"`
	Expected *float64   `json:"expected"`
	// Learned says Expected was learned from the group's earlier reports.
	Learned bool `json:"learned"`
	// TimeToPeakSeconds is from the start to the peak,
	// HalfDecaySeconds from the peak until the load was back halfway to
	// the baseline.
	TimeToPeakSeconds *float64 `json:"timeToPeakSeconds"`
	HalfDecaySeconds  *float64 `json:"halfDecaySeconds"`
	FloorAtStart      *int32   `json:"floorAtStart"`
	ReplicasAtStart   *int32   `json:"replicasAtStart"`
	// UnderCapacitySeconds and Excess need the workload's replicas:
	// null when they are not known (always, offline).
	UnderCapacitySeconds *float64 `json:"underCapacitySeconds"`
	Excess               *float64 `json:"excess"`
	AddedReplicaHours    float64  `json:"addedReplicaHours"`
	SavedReplicaHours    float64  `json:"savedReplicaHours"`
	Sentence             string   `json:"sentence"`
}

func floatPtr(o ground.Opt[float64]) *float64 {
	if !o.OK {
		return nil
	}
	v := o.V
	return &v
}

func seconds(d time.Duration) *float64 {
	v := d.Seconds()
	return &v
}

func writeReportsJSON(w io.Writer, reports []policies.WindowReport) error {
	doc := make([]reportJSON, 0, len(reports))
	for i := range reports {
		r := &reports[i]
		loc := cmp.Or(r.Location, time.UTC)
		j := reportJSON{Window: r.Window, Origin: r.Origin.File, Target: r.Target.String(), Quiet: r.Quiet, Learned: r.Learned,
			Start: r.Start.In(loc), End: r.End.In(loc), Released: r.Released.In(loc),
			Baseline: floatPtr(r.Baseline), Peak: floatPtr(r.Peak), Ratio: floatPtr(r.Ratio()), Expected: floatPtr(r.ExpectedRatio()),
			FloorAtStart: optPtr(r.FloorAtStart), ReplicasAtStart: optPtr(r.ReplicasAtStart),
			AddedReplicaHours: r.AddedReplicaHours, SavedReplicaHours: r.SavedReplicaHours, Sentence: r.Sentence()}
		if r.Peak.OK {
			at := r.PeakAt.In(loc)
			j.PeakAt, j.TimeToPeakSeconds = &at, seconds(r.PeakAt.Sub(r.Start))
		}
		if r.HalfDecay.OK {
			j.HalfDecaySeconds = seconds(r.HalfDecay.V)
		}
		if r.ReplicasAtStart.OK {
			j.UnderCapacitySeconds = seconds(r.UnderCapacity)
			excess := r.Excess
			j.Excess = &excess
		}
		doc = append(doc, j)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}
