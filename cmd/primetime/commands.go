//go:build !simulateonly

package main

import "github.com/spf13/cobra"

// daemonCommands are the subcommands that need the Kubernetes client and
// API server libraries: serve and restore.
func daemonCommands() []*cobra.Command {
	return []*cobra.Command{newServeCommand(), newRestoreCommand()}
}
