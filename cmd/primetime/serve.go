package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-logr/zapr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	promconfig "github.com/prometheus/common/config"
	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/scale"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned"
	basecmd "sigs.k8s.io/custom-metrics-apiserver/pkg/cmd"
	"sigs.k8s.io/custom-metrics-apiserver/pkg/cmd/options"

	"github.com/primetime-dev/primetime/policies/config"
	"github.com/primetime-dev/primetime/scaler"
	"github.com/primetime-dev/primetime/scaler/actuate"
	"github.com/primetime-dev/primetime/scaler/configwatch"
	"github.com/primetime-dev/primetime/scaler/ha"
	"github.com/primetime-dev/primetime/scaler/metricsapi"
	"github.com/primetime-dev/primetime/sources"
	"github.com/primetime-dev/primetime/sources/datadog"
	"github.com/primetime-dev/primetime/sources/kubemetrics"
	promsource "github.com/primetime-dev/primetime/sources/prometheus"
	"github.com/primetime-dev/primetime/sources/scrape"
)

type serveOptions struct {
	kubeconfig      string
	cluster         string
	namespace       string
	interval        time.Duration
	metricsAddr     string
	leaderElect     bool
	logLevel        string
	identity        string
	watchNamespaces []string
	prom            promFlags
	datadogURL      string
}

type promFlags struct {
	url, bearerTokenFile, username, passwordFile, caFile string
	insecureSkipVerify                                   bool
	timeout                                              time.Duration
}

func (p promFlags) httpConfig() promconfig.HTTPClientConfig {
	var c promconfig.HTTPClientConfig
	if p.bearerTokenFile != "" {
		c = promsource.BearerToken(p.bearerTokenFile)
	}
	if p.username != "" {
		c.BasicAuth = &promconfig.BasicAuth{Username: p.username, PasswordFile: p.passwordFile}
	}
	c.TLSConfig = promconfig.TLSConfig{CAFile: p.caFile, InsecureSkipVerify: p.insecureSkipVerify}
	return c
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
	f.StringVar(&o.cluster, "cluster", "", "this cluster's name: targets with clusters: [...] not naming it are skipped")
	f.StringVar(&o.namespace, "namespace", envOr("POD_NAMESPACE", "primetime"), "namespace of primetime's own Lease and state")
	f.DurationVar(&o.interval, "interval", 15*time.Second, "evaluation interval")
	f.StringVar(&o.metricsAddr, "metrics-addr", ":8080", "address of /metrics, /healthz and /readyz")
	f.BoolVar(&o.leaderElect, "leader-elect", false, "elect a leader among replicas on a Lease (run 2+ replicas)")
	f.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&o.identity, "identity", "", "leader election identity (default: hostname and pid)")
	f.StringSliceVar(&o.watchNamespaces, "watch-namespaces", nil, "namespaces whose ConfigMaps are read (default: all)")
	f.StringVar(&o.prom.url, "prometheus-url", "", "Prometheus base URL for prometheus: load sources")
	f.StringVar(&o.prom.bearerTokenFile, "prometheus-bearer-token-file", "", "file holding a bearer token for Prometheus")
	f.StringVar(&o.prom.username, "prometheus-username", "", "basic auth user for Prometheus")
	f.StringVar(&o.prom.passwordFile, "prometheus-password-file", "", "file holding the basic auth password for Prometheus")
	f.StringVar(&o.prom.caFile, "prometheus-ca-file", "", "CA bundle to verify Prometheus' certificate")
	f.BoolVar(&o.prom.insecureSkipVerify, "prometheus-insecure-skip-verify", false, "do not verify Prometheus' certificate")
	f.DurationVar(&o.prom.timeout, "prometheus-timeout", 3*time.Second, "timeout of one Prometheus query")
	f.StringVar(&o.datadogURL, "datadog-url", "", "Datadog API base URL, for a proxy or a private endpoint (default: from DD_SITE)")

	// The external metrics API server's own flags: --secure-port, TLS,
	// delegated authentication and authorization.
	adapter.CustomMetricsAdapterServerOptions = options.NewCustomMetricsAdapterServerOptions()
	adapter.SecureServing.BindPort = 6443
	adapter.FlagSet = f
	adapter.InstallFlags()
	return cmd
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func newLogger(level string) (*zap.Logger, error) {
	var lvl zapcore.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	cfg := zap.NewProductionConfig()
	cfg.Level = zap.NewAtomicLevelAt(lvl)
	cfg.Sampling = nil
	return cfg.Build()
}

func restConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig == "" {
		return rest.InClusterConfig()
	}
	return clientcmd.BuildConfigFromFlags("", kubeconfig)
}

// daemon holds the wired parts of a running primetime.
type daemon struct {
	o        serveOptions
	log      *zap.Logger
	client   kubernetes.Interface
	store    *configwatch.Store
	board    *scaler.Board
	poller   *sources.Poller
	engine   *scaler.Engine
	actuator *actuate.Actuator
	history  *scaler.HistoryCache
	metrics  *scaler.Metrics
	leading  atomic.Bool
}

func runServe(ctx context.Context, o serveOptions, adapter *basecmd.AdapterBase) error {
	log, err := newLogger(o.logLevel)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	// One logger: the Kubernetes libraries log through klog, bridged to zap.
	klog.SetLogger(zapr.NewLogger(log.Named("k8s")))

	cfg, err := restConfig(o.kubeconfig)
	if err != nil {
		return fmt.Errorf("kubernetes client config: %w", err)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	if o.identity == "" {
		host, _ := os.Hostname()
		o.identity = fmt.Sprintf("%s_%d", host, os.Getpid())
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	srcMetrics := sources.NewMetrics(reg)
	d := &daemon{o: o, log: log, client: client, board: &scaler.Board{}, metrics: scaler.NewMetrics(reg)}

	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	recorder := broadcaster.NewRecorder(scheme(), corev1.EventSource{Component: "primetime"})

	d.store = configwatch.NewStore(recorder, log.Named("config"))
	synced := configwatch.Watch(ctx, client, o.watchNamespaces, d.store)

	hpaNS := ""
	if len(o.watchNamespaces) == 1 {
		hpaNS = o.watchNamespaces[0]
	}
	hpaFactory := informers.NewSharedInformerFactoryWithOptions(client, 10*time.Minute, informers.WithNamespace(hpaNS))
	hpaLister := hpaFactory.Autoscaling().V2().HorizontalPodAutoscalers().Lister()
	synced = append(synced, hpaFactory.Autoscaling().V2().HorizontalPodAutoscalers().Informer().HasSynced)
	hpaFactory.Start(ctx.Done())

	disco, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return err
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disco))
	scales, err := scale.NewForConfig(cfg, mapper, dynamic.LegacyAPIPathResolverFunc, scale.NewDiscoveryScaleKindResolver(disco))
	if err != nil {
		return err
	}
	d.actuator = &actuate.Actuator{Client: client, HPAs: hpaLister, Scales: scales, Mapper: mapper, Recorder: recorder, Log: log.Named("actuate")}

	d.poller = sources.NewPoller(sources.NewCache())
	if err := d.registerSources(ctx, cfg, srcMetrics); err != nil {
		return err
	}
	d.history = &scaler.HistoryCache{Poller: d.poller, Horizon: scaler.HistoryHorizon, Log: log.Named("history")}
	d.engine = &scaler.Engine{
		Interval: o.interval, Cluster: o.cluster, Config: d.store, Poller: d.poller,
		Replicas: d.actuator, History: d.history, Actuator: d.actuator, Board: d.board,
		Metrics: d.metrics, Sources: srcMetrics, Log: log.Named("engine"),
	}

	followSynced := ha.Follow(ctx, client, o.namespace, d.board, d.leading.Load, log.Named("ha"))
	configReady := func() bool {
		for _, s := range synced {
			if !s() {
				return false
			}
		}
		return true
	}
	ready := func() bool {
		if !configReady() {
			return false
		}
		if d.leading.Load() {
			return d.engine.Cycles() > 0
		}
		return followSynced() && d.board.Ready()
	}
	httpSrv := serveHTTP(o.metricsAddr, reg, ready, log)
	defer shutdownHTTP(httpSrv)

	// The external metrics API, on every replica.
	if o.kubeconfig != "" {
		adapter.RemoteKubeConfigFile = o.kubeconfig
		if adapter.Authentication.RemoteKubeConfigFile == "" {
			adapter.Authentication.RemoteKubeConfigFile = o.kubeconfig
		}
		if adapter.Authorization.RemoteKubeConfigFile == "" {
			adapter.Authorization.RemoteKubeConfigFile = o.kubeconfig
		}
	}
	adapter.WithExternalMetrics(metricsapi.NewProvider(d.board, 4*o.interval, time.Now))
	apiErr := make(chan error, 1)
	go func() { apiErr <- adapter.Run(ctx) }()

	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return errors.New("the ConfigMap and HPA informers did not sync")
	}
	log.Info("configuration loaded", zap.Int("targets", len(d.store.Snapshot().Targets)), zap.Int("windows", len(d.store.Snapshot().Windows)))

	leadErr := make(chan error, 1)
	if o.leaderElect {
		go func() {
			lost := func() { leadErr <- errors.New("lost the leader Lease") }
			if err := ha.RunElection(ctx, client, o.namespace, o.identity, d.lead, lost, log.Named("election")); err != nil {
				leadErr <- err
			}
		}()
	} else {
		go d.lead(ctx)
	}
	select {
	case <-ctx.Done():
		log.Info("shutting down")
		return nil
	case err := <-apiErr:
		return fmt.Errorf("external metrics API server: %w", err)
	case err := <-leadErr:
		log.Error("stopping: a replica that is no longer leader must not act", zap.Error(err))
		return err
	}
}

// registerSources sets up the load sources that are configured.
func (d *daemon) registerSources(ctx context.Context, cfg *rest.Config, m *sources.Metrics) error {
	if d.o.prom.url != "" {
		src, err := promsource.New(promsource.Config{URL: d.o.prom.url, Timeout: d.o.prom.timeout, HTTP: d.o.prom.httpConfig()}, m)
		if err != nil {
			return err
		}
		d.register(src)
	}
	if os.Getenv("DD_API_KEY") != "" {
		ddCfg := datadog.ConfigFromEnv(os.Getenv)
		ddCfg.Endpoint = d.o.datadogURL
		ddCfg.Logger, ddCfg.Observer, ddCfg.RateLimits = d.log.Named("datadog"), m, m
		src, err := datadog.New(ddCfg)
		if err != nil {
			return err
		}
		d.register(src)
	}
	d.register(scrape.New(scrape.NewInformerPods(ctx, d.client), scrape.Config{Observer: m}))
	mc, err := metricsclient.NewForConfig(cfg)
	if err != nil {
		return err
	}
	d.register(kubemetrics.New(mc, 5*time.Second, m))
	return nil
}

// register adds a source polled with its kind's default timing.
func (d *daemon) register(src sources.Source) {
	every, maxAge := sources.DefaultTiming(src.Kind(), d.o.interval)
	d.poller.Register(sources.Registration{Source: src, Interval: every, MaxAge: maxAge})
}

// lead runs while this replica leads: it polls the sources, evaluates,
// acts and hands its decisions to the followers.
func (d *daemon) lead(ctx context.Context) {
	d.leading.Store(true)
	d.metrics.SetLeader(true)
	defer func() { d.leading.Store(false); d.metrics.SetLeader(false) }()
	d.log.Info("leading", zap.String("identity", d.o.identity))
	if st, err := ha.Load(ctx, d.client, d.o.namespace); err != nil {
		d.log.Warn("cannot read the previous leader's state", zap.Error(err))
	} else if st != nil {
		d.engine.ImportBaselines(st.Baselines)
		floors := map[config.TargetKey]bool{}
		for _, p := range st.Decisions {
			floors[config.TargetKey{Namespace: p.Namespace, Name: p.Name}] = p.Floor
		}
		d.actuator.Restore(floors)
		d.log.Info("took over the previous leader's state", zap.String("previous", st.Leader), zap.Time("at", st.At), zap.Int("baselines", len(st.Baselines)))
	}
	d.engine.SyncConfig()
	for _, kind := range []config.SourceKind{config.SourcePrometheus, config.SourceDatadog, config.SourceScrape, config.SourceKubernetes} {
		go d.poller.Run(ctx, kind, time.Now)
	}
	go func() {
		t := time.NewTicker(scaler.HistoryRefresh)
		defer t.Stop()
		for {
			d.history.Refresh(ctx, d.store.Snapshot().Targets, time.Now())
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	// Give the sources one round before the first evaluation.
	select {
	case <-ctx.Done():
		return
	case <-time.After(min(d.o.interval, 2*time.Second)):
	}
	// The followers get the decisions at once when one changed (a leader
	// killed right after a change must not leave them serving the old
	// value), else once an interval, however often the leader evaluates.
	var published time.Time
	publishedChanges := int64(-1)
	d.engine.Run(ctx, time.Now, func(now time.Time) {
		changes := d.engine.Changes()
		if changes == publishedChanges && now.Sub(published) < d.o.interval*9/10 {
			return
		}
		published, publishedChanges = now, changes
		st := &ha.State{At: now, Leader: d.o.identity, Decisions: d.board.All(), Baselines: d.engine.ExportBaselines()}
		if err := ha.Publish(ctx, d.client, d.o.namespace, st); err != nil && ctx.Err() == nil {
			d.log.Warn("cannot hand the decisions to the followers", zap.Error(err))
		}
	})
}

func serveHTTP(addr string, reg *prometheus.Registry, ready func() bool, log *zap.Logger) *http.Server {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready() {
			http.Error(w, "not ready: configuration not loaded or no evaluation yet", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server", zap.Error(err))
		}
	}()
	return srv
}

func shutdownHTTP(srv *http.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
}
