//go:build !simulateonly

package main

import (
	"context"
	"fmt"
	"os"

	"github.com/go-logr/zapr"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	basecmd "sigs.k8s.io/custom-metrics-apiserver/pkg/cmd"

	"github.com/primetime-dev/primetime/scaler/actuate"
	"github.com/primetime-dev/primetime/scaler/metricsapi"
)

// kubeClients are the daemon's connections to the cluster.
type kubeClients struct {
	config   *rest.Config
	client   kubernetes.Interface
	events   record.EventBroadcaster
	recorder record.EventRecorder
}

// connect builds the clients and the Event recorder; the Kubernetes
// libraries' klog output goes to log. Events go through a clientset of
// their own, so that a burst of them never delays a write.
func connect(ctx context.Context, kubeconfig string, qps float32, burst int, log *zap.Logger) (*kubeClients, error) {
	klog.SetLogger(zapr.NewLogger(log.Named("k8s")))
	cfg, err := restConfig(kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client config: %w", err)
	}
	cfg.QPS, cfg.Burst = qps, burst
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	eventClient, err := kubernetes.NewForConfig(rest.CopyConfig(cfg))
	if err != nil {
		return nil, err
	}
	events := record.NewBroadcaster(record.WithContext(ctx))
	events.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: eventClient.CoreV1().Events("")})
	recorder := events.NewRecorder(scheme(), corev1.EventSource{Component: "primetime"})
	return &kubeClients{config: cfg, client: client, events: events, recorder: recorder}, nil
}

// actuator builds the actuator of the hpa-floor and scale modes and
// starts the informers it reads, over the one namespace watched or over
// all of them.
func (k *kubeClients) actuator(ctx context.Context, watchNamespaces []string, m *actuate.Metrics, log *zap.Logger) (*actuate.Actuator, []cache.InformerSynced, error) {
	ns := ""
	if len(watchNamespaces) == 1 {
		ns = watchNamespaces[0]
	}
	return actuate.Start(ctx, actuate.Clients{Config: k.config, Client: k.client, Recorder: k.recorder}, ns, m, log)
}

func restConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig == "" {
		return rest.InClusterConfig()
	}
	return clientcmd.BuildConfigFromFlags("", kubeconfig)
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

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func allSynced(synced []cache.InformerSynced) bool {
	for _, s := range synced {
		if !s() {
			return false
		}
	}
	return true
}

// serveExternalMetrics runs the external metrics API server until ctx ends;
// its error, if it stops, arrives on the channel.
func serveExternalMetrics(ctx context.Context, adapter *basecmd.AdapterBase, kubeconfig string, p *metricsapi.Provider) <-chan error {
	if kubeconfig != "" {
		adapter.RemoteKubeConfigFile = kubeconfig
		if adapter.Authentication.RemoteKubeConfigFile == "" {
			adapter.Authentication.RemoteKubeConfigFile = kubeconfig
		}
		if adapter.Authorization.RemoteKubeConfigFile == "" {
			adapter.Authorization.RemoteKubeConfigFile = kubeconfig
		}
	}
	adapter.WithExternalMetrics(p)
	apiErr := make(chan error, 1)
	go func() { apiErr <- adapter.Run(ctx) }()
	return apiErr
}
