package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/primetime-dev/primetime/policies/config"
)

func newLintCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "lint FILE...",
		Short: "Check targets and windows files, or ConfigMap manifests holding them",
		Long: `lint checks targets and windows YAML, bare or inside ConfigMap manifests,
and prints one line per problem:

  FILE:LINE: window "NAME": field: reason

It exits 1 if any entry would be rejected, 0 otherwise. When both targets and
windows are given, it also warns about windows that select no target and quiet
windows a target's mode cannot honour.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			all := &config.Result{}
			for _, f := range files {
				data, err := os.ReadFile(f)
				if err != nil {
					return err
				}
				all.Merge(config.ParseFile(f, data))
			}
			problems := append(all.Problems, config.CrossCheck(all.Targets, all.Windows)...)
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
			if all.Documents == 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "no targets or windows found in %s\n", plural(len(files), "file"))
				return exitCode(1)
			}
			summary := fmt.Sprintf("ok: %s, %s, %s", plural(len(files), "file"), plural(len(all.Targets), "target"), plural(len(all.Windows), "window"))
			if warns > 0 {
				summary += fmt.Sprintf(" (%s)", plural(warns, "warning"))
			}
			fmt.Fprintln(out, summary)
			return nil
		},
	}
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
