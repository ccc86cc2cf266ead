package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/policies"
	"github.com/primetime-dev/primetime/policies/config"
	"github.com/primetime-dev/primetime/simulate"
)

type planOptions struct {
	targets, windows []string
	from, to         string
	baseline         string
	output           string
	timezone         string
	steps            bool
	reports          string
	cluster          string
}

func newPlanCommand() *cobra.Command {
	var o planOptions
	cmd := &cobra.Command{
		Use:   "plan --targets FILE --windows FILE [--from T] [--to T] [--baseline LOAD]",
		Short: "Show the floors and caps the windows put on each target over time",
		Long: `plan prints, for each target, every stretch of time during which windows
raise its replicas (from the start of pre-scaling to the end of the step-down)
or cap them (quiet windows), with the peak floor.

"Nx" windows multiply a baseline load: give it with --baseline, either as one
number or as a CSV file of timestamp,load rows (the load just before each floor
starts is used). Times (--from, --to) are RFC 3339 or "2006-01-02 15:04" in
--timezone.

--reports reads what primetime serve has seen of past windows (its /reports
on the metrics address, as a file or an http:// address, e.g. through
kubectl -n primetime port-forward svc/primetime-primetime 8080:metrics):
a target whose last floor was ready after its window's start gets the lead
time that would have had it ready in time.

--cluster plans as primetime serve --cluster does: the targets whose
clusters: leaves it out are not shown, and %%cluster%% in targets' queries is
replaced by it (%%env_NAME%% by the variable NAME of plan's environment).
Each target shows its query as the daemon sends it, and a warning when a
Datadog rollup wider than a minute delays primetime's reaction.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runPlan(cmd, o) },
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.targets, "targets", nil, "targets file or ConfigMap manifest (repeatable)")
	f.StringArrayVar(&o.windows, "windows", nil, "windows file or ConfigMap manifest (repeatable)")
	f.StringVar(&o.from, "from", "", "start of the plan (default: now)")
	f.StringVar(&o.to, "to", "", "end of the plan (default: 7 days after --from, or later to hold the next occurrence of every window within a year)")
	f.StringVar(&o.baseline, "baseline", "", "baseline load for Nx windows: a number, or a CSV file of timestamp,load")
	f.StringVarP(&o.output, "output", "o", "table", "output format: table or json")
	f.StringVar(&o.timezone, "timezone", "", "time zone for --from/--to and the output (default: each window's own)")
	f.BoolVar(&o.steps, "steps", false, "list every step of each floor in the table")
	f.StringVar(&o.reports, "reports", "", "primetime serve's /reports (a file, or an http:// or https:// address): suggest lead times from past windows")
	f.StringVar(&o.cluster, "cluster", "", "plan for the primetime serve --cluster of this name: only its targets, %%cluster%% in queries replaced by it")
	_ = cmd.MarkFlagRequired("targets")
	_ = cmd.MarkFlagRequired("windows")
	return cmd
}

// Without --to a plan covers planMinHorizon, and through the next
// occurrence of every window that starts within planMaxHorizon.
const (
	planMinHorizon = 7 * 24 * time.Hour
	planMaxHorizon = 366 * 24 * time.Hour
)

func runPlan(cmd *cobra.Command, o planOptions) error {
	if o.output != "table" && o.output != "json" {
		return fmt.Errorf("--output must be table or json, got %q", o.output)
	}
	display := (*time.Location)(nil)
	inputZone := time.UTC
	if o.timezone != "" {
		loc, err := time.LoadLocation(o.timezone)
		if err != nil {
			return fmt.Errorf("--timezone: %v", err)
		}
		display, inputZone = loc, loc
	}
	from := time.Now().Truncate(time.Minute)
	if o.from != "" {
		t, err := config.ParseTime(o.from, inputZone)
		if err != nil {
			return fmt.Errorf("--from: %v", err)
		}
		from = t
	}
	var to time.Time
	if o.to != "" {
		t, err := config.ParseTime(o.to, inputZone)
		if err != nil {
			return fmt.Errorf("--to: %v", err)
		}
		to = t
	}
	if o.to != "" && !to.After(from) {
		return errors.New("--to must be after --from")
	}
	baseline, err := parseBaseline(o.baseline)
	if err != nil {
		return fmt.Errorf("--baseline: %v", err)
	}
	late, err := readReports(cmd.Context(), o.reports)
	if err != nil {
		return fmt.Errorf("--reports: %v", err)
	}

	all, problems, err := readConfigFilesWith(cmd.ErrOrStderr(), config.Loader{Cluster: o.cluster, LookupEnv: os.LookupEnv}, o.targets, o.windows)
	if err != nil {
		return err
	}
	if o.cluster != "" {
		all.Targets = slices.DeleteFunc(all.Targets, func(t ground.Target) bool { return !t.InCluster(o.cluster) })
	}
	if o.to == "" {
		to = policies.Horizon(all.Windows, from, planMinHorizon, planMaxHorizon)
	}
	advice := config.CrossCheck(all.Targets, all.Windows)

	plans := policies.Plan(all.Targets, policies.NewCalendar(all.Windows), from, to, baseline)
	out := cmd.OutOrStdout()
	if o.output == "json" {
		err = writePlanJSON(out, plans, from, to, display, advice, late)
	} else {
		err = writePlanTable(out, plans, from, to, display, o.steps, o.baseline != "", late)
		for _, p := range advice {
			fmt.Fprintf(out, "note: %s\n", strings.TrimPrefix(p.Error(), p.File+":"+strconv.Itoa(p.Line)+": warning: "))
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

// readConfigFiles parses targets and windows files (or ConfigMap
// manifests holding them) and prints each problem to stderr. The good
// entries are returned with the number of problems. Template variables
// are those of a daemon without --cluster.
func readConfigFiles(stderr io.Writer, files ...[]string) (*config.Result, int, error) {
	return readConfigFilesWith(stderr, config.Loader{LookupEnv: os.LookupEnv}, files...)
}

// readConfigFilesWith is readConfigFiles with loader's template variables.
func readConfigFilesWith(stderr io.Writer, loader config.Loader, files ...[]string) (*config.Result, int, error) {
	all := &config.Result{}
	for _, list := range files {
		for _, f := range list {
			data, err := os.ReadFile(f)
			if err != nil {
				return nil, 0, err
			}
			all.Merge(loader.ParseFile(f, data))
		}
	}
	all.ResolveConflicts()
	problems := all.Problems.Errors()
	for _, p := range problems {
		fmt.Fprintln(stderr, p.Error())
	}
	return all, len(problems), nil
}

// parseBaseline reads --baseline: a number, or a CSV file of timestamp,load
// rows (RFC 3339 or Unix seconds; a header row is skipped).
func parseBaseline(v string) (policies.Baseline, error) {
	if v == "" {
		return nil, nil
	}
	if n, err := strconv.ParseFloat(v, 64); err == nil {
		if n < 0 {
			return nil, fmt.Errorf("must not be negative, got %s", v)
		}
		return policies.ConstantBaseline(n), nil
	}
	f, err := os.Open(v)
	if err != nil {
		return nil, fmt.Errorf("%q is neither a number nor a readable CSV file: %v", v, err)
	}
	defer f.Close()
	series, err := simulate.ReadSeriesCSV(f, v)
	if err != nil {
		return nil, err
	}
	return policies.BaselineFromSeries(series), nil
}

func zoneOf(e policies.Episode, display *time.Location) *time.Location {
	switch {
	case display != nil:
		return display
	case e.Location != nil:
		return e.Location
	}
	return time.UTC
}

const timeLayout = "2006-01-02 15:04 MST"

func formatSpan(a, b time.Time) string {
	if a.Year() == b.Year() && a.YearDay() == b.YearDay() {
		return a.Format(timeLayout) + " - " + b.Format("15:04")
	}
	return a.Format(timeLayout) + " - " + b.Format(timeLayout)
}

func writePlanTable(w io.Writer, plans []policies.TargetPlan, from, to time.Time, display *time.Location, steps, haveBaseline bool, late map[ground.TargetKey]config.LateWindow) error {
	for i, p := range plans {
		t := p.Target
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "%s (%s/%s, mode %s, %d-%d replicas, %g load per replica, lead %s)\n",
			t.Key(), t.ScaleTargetRef.Kind, t.ScaleTargetRef.Name, t.Mode, t.MinReplicas, t.MaxReplicas, t.CapacityPerReplica, config.FormatDuration(t.LeadTime))
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

// servedJSON is servedAs for machines: where a metric target's value is
// served.
func servedJSON(t *ground.Target) *servingJSON {
	if t.Mode != ground.ModeMetric {
		return nil
	}
	return &servingJSON{
		ExternalMetric: externalMetricJSON{Name: "primetime_replicas", Selector: "target=" + t.Name},
		KEDA:           kedaTriggerJSON{Type: "external", Metadata: map[string]string{"target": t.Key().String()}},
	}
}

// The JSON form of a plan, for machines.
type (
	planJSON struct {
		From     time.Time        `json:"from"`
		To       time.Time        `json:"to"`
		Targets  []targetPlanJSON `json:"targets"`
		Warnings []string         `json:"warnings"`
	}
	targetPlanJSON struct {
		Target             string       `json:"target"`
		Kind               string       `json:"kind"`
		Name               string       `json:"name"`
		Mode               ground.Mode  `json:"mode"`
		MinReplicas        int32        `json:"minReplicas"`
		MaxReplicas        int32        `json:"maxReplicas"`
		CapacityPerReplica float64      `json:"capacityPerReplica"`
		LeadTimeSeconds    float64      `json:"leadTimeSeconds"`
		Served             *servingJSON `json:"served,omitempty"`
		// Load is the query the target's source receives (template
		// variables expanded), for Prometheus and Datadog.
		Load *loadJSON `json:"load,omitempty"`
		// Warnings are advice on the target itself (a Datadog rollup
		// that delays primetime's reaction).
		Warnings []string `json:"warnings,omitempty"`
		// LeadTime is the lead time the last late window suggests
		// (plan --reports), when it is longer than LeadTimeSeconds.
		LeadTime *leadTimeJSON `json:"leadTime,omitempty"`
		Episodes []episodeJSON `json:"episodes"`
	}
	loadJSON struct {
		Prometheus string `json:"prometheus,omitempty"`
		Datadog    string `json:"datadog,omitempty"`
	}
	leadTimeJSON struct {
		config.LateWindow
		Advice string `json:"advice"`
	}
	// servingJSON is where a metric target is served: the external
	// metrics API, and KEDA's external scaler (serve --keda-addr).
	servingJSON struct {
		ExternalMetric externalMetricJSON `json:"externalMetric"`
		KEDA           kedaTriggerJSON    `json:"keda"`
	}
	externalMetricJSON struct {
		Name     string `json:"name"`
		Selector string `json:"selector"`
	}
	kedaTriggerJSON struct {
		Type     string            `json:"type"`
		Metadata map[string]string `json:"metadata"`
	}
	episodeJSON struct {
		Kind        policies.EpisodeKind `json:"kind"`
		Windows     []string             `json:"windows"`
		Start       time.Time            `json:"start"`
		WindowStart time.Time            `json:"windowStart"`
		WindowEnd   time.Time            `json:"windowEnd"`
		Replicas    *int32               `json:"replicas"`
		End         *time.Time           `json:"end"`
		Steps       []stepJSON           `json:"steps"`
		Notes       []string             `json:"notes,omitempty"`
	}
	stepJSON struct {
		At       time.Time `json:"at"`
		Replicas *int32    `json:"replicas"`
	}
)

func optPtr(o ground.Opt[int32]) *int32 {
	if !o.OK {
		return nil
	}
	v := o.V
	return &v
}

func writePlanJSON(w io.Writer, plans []policies.TargetPlan, from, to time.Time, display *time.Location, advice config.Problems, late map[ground.TargetKey]config.LateWindow) error {
	doc := planJSON{From: from, To: to, Targets: []targetPlanJSON{}, Warnings: []string{}}
	for _, p := range plans {
		t := p.Target
		tp := targetPlanJSON{Target: t.Key().String(), Kind: t.ScaleTargetRef.Kind, Name: t.ScaleTargetRef.Name, Mode: t.Mode,
			MinReplicas: t.MinReplicas, MaxReplicas: t.MaxReplicas, CapacityPerReplica: t.CapacityPerReplica,
			LeadTimeSeconds: t.LeadTime.Seconds(), Served: servedJSON(t), Episodes: []episodeJSON{}}
		if _, q := queryOf(t); q != "" {
			tp.Load = &loadJSON{Prometheus: t.Load.Prometheus, Datadog: t.Load.Datadog}
		}
		if advice, ok := config.DatadogRollupAdvice(t.Load.Datadog); ok {
			tp.Warnings = append(tp.Warnings, "load.datadog: "+advice)
		}
		if l, ok := late[t.Key()]; ok {
			if a, ok := l.Advice(t.LeadTime); ok {
				tp.LeadTime = &leadTimeJSON{LateWindow: l, Advice: a}
			}
		}
		for _, e := range p.Episodes {
			loc := zoneOf(e, display)
			ej := episodeJSON{Kind: e.Kind, Windows: e.Windows, Start: e.Start.In(loc), WindowStart: e.WindowStart.In(loc),
				WindowEnd: e.WindowEnd.In(loc), Replicas: optPtr(e.Peak), Notes: e.Notes}
			if !e.End.IsZero() {
				end := e.End.In(loc)
				ej.End = &end
			}
			for _, s := range e.Steps {
				ej.Steps = append(ej.Steps, stepJSON{At: s.At.In(loc), Replicas: optPtr(s.Replicas)})
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

// maxReportsSize bounds a /reports document plan reads.
const maxReportsSize = 16 << 20

// readReports reads plan's --reports: a file, or primetime serve's
// /reports at an http:// or https:// address. Empty: no advice.
func readReports(ctx context.Context, from string) (map[ground.TargetKey]config.LateWindow, error) {
	if from == "" {
		return nil, nil
	}
	var data []byte
	if strings.HasPrefix(from, "http://") || strings.HasPrefix(from, "https://") {
		ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, from, nil)
		if err != nil {
			return nil, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		data, err = io.ReadAll(io.LimitReader(resp.Body, maxReportsSize+1))
		if err != nil {
			return nil, fmt.Errorf("%s: %v", from, err)
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("%s: %s: %s", from, resp.Status, strings.TrimSpace(string(data[:min(len(data), 200)])))
		}
	} else {
		var err error
		if data, err = os.ReadFile(from); err != nil {
			return nil, err
		}
	}
	if len(data) > maxReportsSize {
		return nil, fmt.Errorf("%s: larger than %d MiB", from, maxReportsSize>>20)
	}
	return config.ParseReports(from, data)
}
