//go:build simulateonly

package main

import "github.com/spf13/cobra"

// daemonCommands is empty in the lean build (-tags simulateonly) that
// make demo runs first: lint, plan, simulate and version without the
// daemon (nor report, which needs the sources' clients), which builds in a
// fraction of the time on a fresh machine.
func daemonCommands() []*cobra.Command { return nil }
