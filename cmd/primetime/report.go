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
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/policies"
	"github.com/primetime-dev/primetime/policies/config"
	"github.com/primetime-dev/primetime/scaler"
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
	now := reportNow()
	var reports []policies.WindowReport
	stderr := cmd.ErrOrStderr()
	cal := policies.NewCalendar(all.Windows)
	occurrences := 0
	for i := range all.Targets {
		t := &all.Targets[i]
		spans := reportSpans(t, cal, from, to)
		if len(spans) == 0 {
			continue
		}
		occurrences += len(spans)
		src, err := h.source(t)
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", t.Key(), err)
			problems++
			continue
		}
		r := newReplay(t, all.Windows, o.step)
		for _, sp := range spans {
			got, err := r.span(ctx, src, sp, now)
			if err != nil {
				fmt.Fprintf(stderr, "%s: %v\n", t.Key(), err)
				problems++
				break
			}
			reports = append(reports, got...)
			for _, occ := range sp.occurrences {
				if slices.ContainsFunc(got, func(r policies.WindowReport) bool { return sameOccurrence(r, occ) }) {
					continue
				}
				loc := zoneOr(occ.Window.Location)
				if sp.to.After(now) {
					fmt.Fprintf(stderr, "%s: %s on %s: not over by %s, no report yet\n", t.Key(), occ.Window.Name,
						occ.Start.In(loc).Format(timeLayout), now.In(loc).Format(timeLayout))
				} else {
					fmt.Fprintf(stderr, "%s: %s on %s: never in force on this target in the replay, no report\n", t.Key(), occ.Window.Name,
						occ.Start.In(loc).Format(timeLayout))
				}
			}
		}
	}
	if occurrences == 0 {
		fmt.Fprintf(stderr, "no window of the targets starts between %s and %s\n", from.UTC().Format(timeLayout), to.UTC().Format(timeLayout))
	}
	slices.SortStableFunc(reports, func(a, b policies.WindowReport) int {
		return cmp.Or(a.Start.Compare(b.Start), cmp.Compare(a.Target.String(), b.Target.String()), cmp.Compare(a.Window, b.Window))
	})
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

func zoneOr(loc *time.Location) *time.Location {
	if loc != nil {
		return loc
	}
	return time.UTC
}

// reportWarmUp is how long before the first floor of a span the replay
// starts: the load observed before a floor is its "Nx" baseline.
const reportWarmUp = time.Hour

// reportSpan is a stretch of one target's time to replay, and the
// occurrences starting in [--from, --to) whose reports it gives.
type reportSpan struct {
	from, to    time.Time
	occurrences []policies.Occurrence
}

// reportSpans returns, for target t, the spans to replay: each occurrence
// of its windows that starts in [from, to), from an hour before its floor
// (or cap) until its step-down is surely over, overlapping ones merged.
func reportSpans(t *ground.Target, cal *policies.Calendar, from, to time.Time) []reportSpan {
	var spans []reportSpan
	for _, w := range cal.Matching(t.Key()) {
		for _, o := range policies.Occurrences(w, from, to) {
			start := o.Start
			if !w.Quiet {
				start = start.Add(-t.LeadTime)
			}
			spans = append(spans, reportSpan{from: start.Add(-reportWarmUp), to: o.End.Add(w.Cooldown + policies.MaxStepDownSpan + time.Minute),
				occurrences: []policies.Occurrence{o}})
		}
	}
	slices.SortFunc(spans, func(a, b reportSpan) int { return a.from.Compare(b.from) })
	var merged []reportSpan
	for _, s := range spans {
		if n := len(merged); n > 0 && !s.from.After(merged[n-1].to) {
			last := &merged[n-1]
			last.to = maxTime(last.to, s.to)
			last.occurrences = append(last.occurrences, s.occurrences...)
			continue
		}
		merged = append(merged, s)
	}
	return merged
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func sameOccurrence(r policies.WindowReport, o policies.Occurrence) bool {
	return r.Window == o.Window.Name && r.Origin.File == o.Window.Origin.File && r.Start.Equal(o.Start)
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

// historyChunk bounds one history request: Prometheus answers at most
// 11,000 points per range query, Datadog's points are its rollup's.
func historyChunk(kind ground.SourceKind, step time.Duration) time.Duration {
	if kind == ground.SourceDatadog {
		return 12 * time.Hour
	}
	return 10000 * step
}

// fetchHistory reads q's load over [from, to] at step, in chunks.
func fetchHistory(ctx context.Context, src sources.Source, q sources.Query, from, to time.Time, step time.Duration) (ground.Series, error) {
	var out ground.Series
	chunk := historyChunk(q.Kind(), step)
	for a := from; !a.After(to); a = a.Add(chunk + step) {
		b := a.Add(chunk)
		if b.After(to) {
			b = to
		}
		s, err := src.History(ctx, q, a, b, step)
		if err != nil {
			text := q.Spec.Prometheus
			if q.Kind() == ground.SourceDatadog {
				text = q.Spec.Datadog
			}
			msg := err.Error()
			if !strings.Contains(msg, text) && !strings.Contains(msg, strconv.Quote(text)) {
				msg = fmt.Sprintf("%s query %q: %s", q.Kind(), text, msg)
			}
			return nil, fmt.Errorf("load history from %s to %s: %s", a.UTC().Format(time.RFC3339), b.UTC().Format(time.RFC3339), msg)
		}
		out = append(out, s...)
	}
	slices.SortFunc(out, func(a, b ground.Sample) int { return a.T.Compare(b.T) })
	return slices.CompactFunc(out, func(a, b ground.Sample) bool { return a.T.Equal(b.T) }), nil
}

// replay is one target's engine on a simulated clock, fed by its load
// history: the spans of a target are replayed in order through the same
// engine, so that what one occurrence's report taught ("expect: learned")
// is known to the next, as in the daemon.
type replay struct {
	t           *ground.Target
	step        time.Duration
	src         *replaySource
	poller      *sources.Poller
	history     *scaler.HistoryCache
	engine      *scaler.Engine
	sink        *reportCollector
	clock       time.Time
	nextHistory time.Time
}

func newReplay(t *ground.Target, windows []ground.Window, step time.Duration) *replay {
	r := &replay{t: t, step: step, src: &replaySource{kind: t.Load.Kind()}, poller: sources.NewPoller(sources.NewCache()), sink: &reportCollector{}}
	_, maxAge := sources.DefaultTiming(r.src.kind, step)
	r.poller.Register(sources.Registration{Source: r.src, Interval: step, MaxAge: maxAge})
	r.history = &scaler.HistoryCache{Poller: r.poller, Horizon: scaler.HistoryHorizon, Log: zap.NewNop(), Now: func() time.Time { return r.clock }}
	snap := &ground.Snapshot{Version: 1, Targets: []ground.Target{*t}, Windows: windows, ValidTargets: 1, ValidWindows: len(windows)}
	r.engine = &scaler.Engine{Interval: step, Config: fixedConfig{snap}, Poller: r.poller, History: r.history, Reports: r.sink}
	if len(t.Clusters) > 0 {
		r.engine.Cluster = t.Clusters[0] // report speaks of every target, whichever daemon acts on it
	}
	r.engine.SyncConfig()
	return r
}

// span fetches the load history of span sp (up to now) from src, replays
// it as serve would have decided, and returns the reports of the span's
// occurrences.
func (r *replay) span(ctx context.Context, src sources.Source, sp reportSpan, now time.Time) ([]policies.WindowReport, error) {
	t, step := r.t, r.step
	from, to := sp.from.Truncate(step), sp.to
	if to.After(now) {
		to = now
	}
	if !from.Before(to) {
		return nil, nil
	}
	q := sources.Query{Namespace: t.Namespace, Spec: t.Load}
	series, err := fetchHistory(ctx, src, q, from, to, step)
	if err != nil {
		return nil, err
	}
	if len(series) == 0 {
		return nil, fmt.Errorf("no load history from %s to %s: the query returned no data", from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339))
	}
	if t.Forecast != nil {
		// The past seasons the forecast reads, shifted by whole seasons.
		for k := 1; k <= t.Forecast.Lookback; k++ {
			shift := time.Duration(k) * t.Forecast.Seasonality
			s, err := fetchHistory(ctx, src, q, from.Add(-shift-policies.SampleTolerance), to.Add(-shift+scaler.HistoryHorizon+t.LeadTime+policies.SampleTolerance), step)
			if err != nil {
				return nil, fmt.Errorf("forecast season -%d: %w", k, err)
			}
			series = append(series, s...)
		}
	}
	r.src.add(series)
	first := len(r.sink.reports)
	for r.clock = from; !r.clock.After(to); r.clock = r.clock.Add(step) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		r.src.now = r.clock
		if t.Forecast != nil && !r.clock.Before(r.nextHistory) {
			r.nextHistory = r.clock.Add(scaler.HistoryRefresh)
			r.history.Refresh(ctx, []ground.Target{*t}, r.clock)
		}
		r.poller.Refresh(ctx, r.src.kind, r.clock)
		r.engine.Cycle(ctx, r.clock)
	}
	var out []policies.WindowReport
	for _, rep := range r.sink.reports[first:] {
		if slices.ContainsFunc(sp.occurrences, func(o policies.Occurrence) bool { return sameOccurrence(rep, o) }) {
			out = append(out, rep)
		}
	}
	return out, nil
}

// fixedConfig is a configuration that never changes.
type fixedConfig struct{ snap *ground.Snapshot }

func (c fixedConfig) Snapshot() *ground.Snapshot { return c.snap }

// reportCollector keeps the reports the engine hands over.
type reportCollector struct{ reports []policies.WindowReport }

func (c *reportCollector) Report(r policies.WindowReport) { c.reports = append(c.reports, r) }

var _ scaler.ReportSink = (*reportCollector)(nil)

// replaySource answers from a load history read beforehand, as the source
// would have at the replay's instant now: its latest point up to now, and
// the history up to now.
type replaySource struct {
	kind   ground.SourceKind
	series ground.Series
	now    time.Time
}

var _ sources.Source = (*replaySource)(nil)

func (s *replaySource) Kind() ground.SourceKind { return s.kind }

// add merges points into the history.
func (s *replaySource) add(points ground.Series) {
	s.series = append(s.series, points...)
	slices.SortFunc(s.series, func(a, b ground.Sample) int { return a.T.Compare(b.T) })
	s.series = slices.CompactFunc(s.series, func(a, b ground.Sample) bool { return a.T.Equal(b.T) })
}

// upTo returns the number of points at or before t.
func (s *replaySource) upTo(t time.Time) int {
	return sort.Search(len(s.series), func(i int) bool { return s.series[i].T.After(t) })
}

func (s *replaySource) Fetch(_ context.Context, queries []sources.Query, now time.Time) map[string]sources.Result {
	r := sources.Result{Err: sources.ErrNoData}
	if i := s.upTo(now); i > 0 {
		p := s.series[i-1]
		r = sources.Result{Value: sources.Value{V: p.V, At: p.T}}
	}
	out := make(map[string]sources.Result, len(queries))
	for _, q := range queries {
		out[q.Key()] = r
	}
	return out
}

func (s *replaySource) History(_ context.Context, _ sources.Query, from, to time.Time, _ time.Duration) (ground.Series, error) {
	if s.now.Before(to) {
		to = s.now
	}
	a := sort.Search(len(s.series), func(i int) bool { return !s.series[i].T.Before(from) })
	b := s.upTo(to)
	if a >= b {
		return nil, nil
	}
	return slices.Clone(s.series[a:b]), nil
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
		loc := zoneOr(r.Location)
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
