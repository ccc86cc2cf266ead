//go:build !simulateonly

package main

import (
	"github.com/primetime-dev/primetime/scaler/actuate"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	basecmd "sigs.k8s.io/custom-metrics-apiserver/pkg/cmd"
	"sigs.k8s.io/custom-metrics-apiserver/pkg/cmd/options"

	"github.com/primetime-dev/primetime/scaler/ha"
)

// serveOptions are serve's flags.
type serveOptions struct {
	kubeconfig      string
	cluster         string
	namespace       string
	interval        time.Duration
	metricsAddr     string
	leaderElect     bool
	timing          ha.Timing
	logLevel        string
	identity        string
	watchNamespaces []string
	kubeQPS         float32
	kubeBurst       int
	profiling       bool
	sources         sourceFlags
	keda            kedaFlags
	carbon          carbonIntensity
	placeholders    placeholderFlags
}

// placeholderFlags are the placeholder pods' (targets with "nodes:").
type placeholderFlags struct {
	image, priorityClass string
}

func newServeCommand() *cobra.Command {
	o := serveOptions{}
	adapter := &basecmd.AdapterBase{Name: "primetime"}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the daemon: watch config, evaluate targets, serve external metrics, act",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			return runServe(ctx, o, adapter)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file; in-cluster config when empty")
	f.StringVar(&o.cluster, "cluster", "", "this cluster's name: targets with clusters: [...] not naming it are skipped; %%cluster%% in targets' queries is replaced by it")
	f.StringVar(&o.namespace, "namespace", envOr("POD_NAMESPACE", "primetime"), "namespace of primetime's own Lease and state")
	f.DurationVar(&o.interval, "interval", 15*time.Second, "evaluation interval")
	f.StringVar(&o.metricsAddr, "metrics-addr", ":8080", "address of /metrics, /healthz, /readyz and /calendar")
	f.BoolVar(&o.leaderElect, "leader-elect", false, "elect a leader among replicas on a Lease (run 2+ replicas)")
	o.installElectionFlags(f)
	f.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&o.identity, "identity", "", "leader election identity (default: POD_NAME, or the host name, and a random suffix)")
	f.StringSliceVar(&o.watchNamespaces, "watch-namespaces", nil, "namespaces whose ConfigMaps are read (default: all)")
	f.Float32Var(&o.kubeQPS, "kube-api-qps", 20, "queries per second to the Kubernetes API server (writes and reads; Events have their own budget)")
	f.IntVar(&o.kubeBurst, "kube-api-burst", 30, "burst of queries to the Kubernetes API server")
	f.BoolVar(&o.profiling, "metrics-pprof", false, "serve Go's profiles under /debug/pprof/ on --metrics-addr (unauthenticated: for tests and debugging)")
	f.Var(&o.carbon, "carbon-intensity", "grams of CO2e of one replica-hour (120), or grams per vCPU-hour and the vCPUs of one replica (400:0.5 or 400:500m = 200 g a replica-hour): window reports and primetime_window_co2e_grams give the grams added and saved; off when empty")
	f.StringVar(&o.placeholders.image, "placeholder-image", actuate.DefaultPlaceholderImage, `image of the placeholder pods that reserve nodes ahead of windows (targets with "nodes:")`)
	f.StringVar(&o.placeholders.priorityClass, "placeholder-priority-class", actuate.DefaultPlaceholderPriorityClass, "PriorityClass of the placeholder pods: below every workload's, so that real pods preempt them (the chart creates it)")
	o.sources.install(f)
	o.keda.install(f)

	// The external metrics API server's own flags: --secure-port, TLS,
	// delegated authentication and authorization.
	adapter.CustomMetricsAdapterServerOptions = options.NewCustomMetricsAdapterServerOptions()
	adapter.SecureServing.BindPort = 6443
	adapter.FlagSet = f
	adapter.InstallFlags()
	return cmd
}
