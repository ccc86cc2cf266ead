//go:build !simulateonly

package main

import "github.com/spf13/cobra"

// daemonCommands are the subcommands that need the Kubernetes client and
// API server libraries, or the sources' clients: serve, restore and report.
func daemonCommands() []*cobra.Command {
	return []*cobra.Command{newServeCommand(), newRestoreCommand(), newReportCommand()}
}
