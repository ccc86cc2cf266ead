//go:build !simulateonly

package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/cache"

	"github.com/primetime-dev/primetime/scaler/actuate"
)

type restoreOptions struct {
	kubeconfig string
	namespaces []string
	stop       string
	timeout    time.Duration
}

// newRestoreCommand is `primetime restore`: give back every HPA and
// workload what primetime raised, as when no target holds them any more.
// The chart runs it before an uninstall.
func newRestoreCommand() *cobra.Command {
	var o restoreOptions
	cmd := &cobra.Command{
		Use:   "restore [--stop NAMESPACE/DEPLOYMENT]",
		Short: "Give every HPA and workload primetime raised its own values back (run before uninstalling)",
		Long: `restore finds the HPAs, Deployments and StatefulSets that carry primetime's
annotations and restores what primetime wrote: an HPA's minReplicas and
maxReplicas, a scale-mode workload's replicas from before its window. Values
someone else set since are kept. The annotations are removed.

With --stop, the primetime Deployment is first scaled to 0 and its pods are
waited for, so that no daemon raises anything again meanwhile.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), o.timeout)
			defer cancel()
			return runRestore(ctx, cmd, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file; in-cluster config when empty")
	f.StringSliceVar(&o.namespaces, "namespaces", nil, "only these namespaces (default: all; one namespace, or all)")
	f.StringVar(&o.stop, "stop", "", "the primetime Deployment (namespace/name) to scale to 0 first")
	f.DurationVar(&o.timeout, "timeout", 2*time.Minute, "give up after this long")
	return cmd
}

func runRestore(ctx context.Context, cmd *cobra.Command, o restoreOptions) error {
	if len(o.namespaces) > 1 {
		return errors.New("--namespaces: one namespace, or none for all")
	}
	log, err := newLogger("info")
	if err != nil {
		return err
	}
	kube, err := connect(ctx, o.kubeconfig, 20, 30, log)
	if err != nil {
		return err
	}
	defer kube.events.Shutdown()
	out := cmd.OutOrStdout()
	if o.stop != "" {
		ns, name, ok := strings.Cut(o.stop, "/")
		if !ok || ns == "" || name == "" {
			return fmt.Errorf("--stop %s: want namespace/name", o.stop)
		}
		if err := actuate.StopDeployment(ctx, kube.client, ns, name); err != nil {
			return fmt.Errorf("--stop %s: %w", o.stop, err)
		}
		fmt.Fprintf(out, "stopped %s: no primetime pod left\n", o.stop)
	}
	a, synced, err := kube.actuator(ctx, o.namespaces, actuate.NewMetrics(nil), log.Named("restore"))
	if err != nil {
		return err
	}
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return errors.New("the HPA and workload caches did not sync")
	}
	a.Desire(nil, nil) // no target: everything primetime holds goes back
	n := a.Pending()
	if err := a.Drain(ctx); err != nil {
		return err
	}
	fmt.Fprintf(out, "restored %d objects primetime had written\n", n)
	ns := ""
	if len(o.namespaces) == 1 {
		ns = o.namespaces[0]
	}
	switch removed, err := actuate.RemoveAllPlaceholders(ctx, kube.client, ns); {
	case apierrors.IsForbidden(err):
		fmt.Fprintf(out, "placeholder pods: not allowed to list or delete pods (placeholders not enabled in the chart): %v\n", err)
	case err != nil:
		return fmt.Errorf("removing placeholder pods: %w", err)
	default:
		fmt.Fprintf(out, "removed %d placeholder pods\n", removed)
	}
	return nil
}
