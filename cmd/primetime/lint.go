package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/primetime-dev/primetime/policies"
	"github.com/primetime-dev/primetime/policies/config"
)

func newLintCommand() *cobra.Command {
	var nowFlag, cluster string
	cmd := &cobra.Command{
		Use:   "lint FILE...",
		Short: "Check targets and windows files, or ConfigMap manifests holding them",
		Long: `lint checks targets and windows YAML, bare or inside ConfigMap manifests,
and prints one line per problem:

  FILE:LINE: window "NAME": field: reason

It exits 1 if any entry would be rejected, 0 otherwise. When both targets and
windows are given, it also warns about each selector that selects no target
(with the name probably meant), quiet windows a target's mode cannot honour,
and demands a target's maxReplicas clamps. It warns about one-off windows
that ended before now (--now, default the current time) and one-off windows
that overlap another window (or a time of a recurring one) on a target with a
different multiplier.

KEDA ScaledObjects with primetime triggers (type external or external-push,
metadata target: namespace/name; see serve --keda-addr) are checked too: the
target's form and the metric type, a fallback that would undo a pre-scaling
when primetime cannot answer, and, with the targets given, that the target
exists in mode metric, scales the same workload and is not capped by
maxReplicaCount.

Template variables in targets' queries are expanded as primetime serve
expands them: %%cluster%% with --cluster, %%env_NAME%% with the variable NAME
of lint's own environment (set it as the daemon has it, e.g.
DD_CLUSTER_NAME=prod-eu primetime lint --cluster eu FILE). Without --cluster,
or with the variable unset or empty, the target is an error, as it would be in
the daemon: lint a file shared by several clusters once per cluster.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			now := time.Now()
			if nowFlag != "" {
				t, err := config.ParseTime(nowFlag, time.UTC)
				if err != nil {
					return fmt.Errorf("--now: %v", err)
				}
				now = t
			}
			loader := config.Loader{Cluster: cluster, LookupEnv: os.LookupEnv}
			all := &config.Result{}
			for _, f := range files {
				data, err := os.ReadFile(f)
				if err != nil {
					return err
				}
				all.Merge(loader.ParseFile(f, data))
			}
			all.ResolveConflicts()
			problems := append(all.Problems, config.CrossCheck(all.Targets, all.Windows)...)
			problems = append(problems, config.Timing(all.Targets, all.Windows, now, policies.StartsBetween)...)
			problems = append(problems, config.CrossCheckKEDA(all.Targets, all.ScaledObjects)...)
			problems.Sort()
			out := cmd.OutOrStdout()
			for _, p := range problems {
				fmt.Fprintln(out, p.Error())
			}
			errs, warns := len(problems.Errors()), len(problems.Warnings())
			if errs > 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "%s in %s\n", plural(errs, "problem"), plural(len(files), "file"))
				return exitCode(1)
			}
			if all.Documents == 0 && len(all.ScaledObjects) == 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "no targets or windows found in %s\n", plural(len(files), "file"))
				return exitCode(1)
			}
			summary := fmt.Sprintf("ok: %s, %s, %s", plural(len(files), "file"), plural(len(all.Targets), "target"), plural(len(all.Windows), "window"))
			if n := len(all.ScaledObjects); n > 0 {
				summary += ", " + plural(n, "ScaledObject")
			}
			if warns > 0 {
				summary += fmt.Sprintf(" (%s)", plural(warns, "warning"))
			}
			fmt.Fprintln(out, summary)
			return nil
		},
	}
	cmd.Flags().StringVar(&nowFlag, "now", "", `the time "now" for the warnings about past windows, RFC 3339 or "2006-01-02 15:04" in UTC (default: the current time)`)
	cmd.Flags().StringVar(&cluster, "cluster", "", "the --cluster of the primetime serve that reads these files: the value of %%cluster%% in targets' queries")
	return cmd
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
