package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/policies"
	"github.com/primetime-dev/primetime/policies/config"
	"github.com/primetime-dev/primetime/render"
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
time that would have had it ready in time, "expect: learned" windows are
planned at the multipliers their groups learned, and each "shape: learned"
window and "leadTime: learned" target says what its reports taught.

--cluster plans as primetime serve --cluster does: the targets whose
clusters: leaves it out are not shown, and %%cluster%% in targets' queries is
replaced by it (%%env_NAME%% by the variable NAME of plan's environment).
Each target shows its query with the variables expanded, and a warning when a
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
	f.StringVar(&o.reports, "reports", "", "primetime serve's /reports (a file, or an http:// or https:// address): lead times, learned multipliers and shapes from past windows")
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
	baseline, err := simulate.ReadBaseline(o.baseline)
	if err != nil {
		return fmt.Errorf("--baseline: %v", err)
	}
	late, lessons, err := config.ReadReports(cmd.Context(), o.reports)
	if err != nil {
		return fmt.Errorf("--reports: %v", err)
	}
	learning := &policies.Learning{}
	if err := learning.ImportJSON(o.reports, lessons); err != nil {
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

	var learner policies.Learner
	if learning.Len() > 0 {
		learner = learning.Multiplier
	}
	plans := policies.PlanLearned(all.Targets, policies.NewCalendar(all.Windows), from, to, baseline, learner)
	out := cmd.OutOrStdout()
	view := render.PlanView{From: from, To: to, Display: display, Steps: o.steps, HaveBaseline: o.baseline != "", Late: late,
		Windows: all.Windows, Learning: learning}
	if o.output == "json" {
		err = render.WritePlanJSON(out, plans, view, advice)
	} else {
		err = render.WritePlanTable(out, plans, view)
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
	all, err := loader.ReadFiles(slices.Concat(files...)...)
	if err != nil {
		return nil, 0, err
	}
	problems := all.Problems.Errors()
	for _, p := range problems {
		fmt.Fprintln(stderr, p.Error())
	}
	return all, len(problems), nil
}
