package actuate

import (
	"context"
	"time"

	"go.uber.org/zap"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/scale"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
)

// Clients are what the actuator talks to the API server with.
type Clients struct {
	Config   *rest.Config
	Client   kubernetes.Interface
	Recorder record.EventRecorder
}

// Start builds the actuator of the hpa-floor and scale modes over
// namespace (all of them when empty) and starts the informers it reads:
// the HPAs, and the workloads of scale mode (through discovery, any kind
// with a /scale subresource). It returns the informers' HasSynced.
func Start(ctx context.Context, c Clients, namespace string, m *Metrics, log *zap.Logger) (*Actuator, []cache.InformerSynced, error) {
	factory := informers.NewSharedInformerFactoryWithOptions(c.Client, 10*time.Minute, informers.WithNamespace(namespace))
	hpaInformer := factory.Autoscaling().V2().HorizontalPodAutoscalers().Informer()
	hpas, err := NewHPAIndex(hpaInformer)
	if err != nil {
		return nil, nil, err
	}
	factory.Start(ctx.Done())
	disco, err := discovery.NewDiscoveryClientForConfig(c.Config)
	if err != nil {
		return nil, nil, err
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disco))
	scales, err := scale.NewForConfig(c.Config, mapper, dynamic.LegacyAPIPathResolverFunc, scale.NewDiscoveryScaleKindResolver(disco))
	if err != nil {
		return nil, nil, err
	}
	dyn, err := dynamic.NewForConfig(c.Config)
	if err != nil {
		return nil, nil, err
	}
	workloads := &Workloads{Dynamic: dyn, Mapper: mapper, Namespace: namespace}
	workloads.Start(ctx)
	a := (&Actuator{Client: c.Client, HPAs: hpas, Workloads: workloads, Scales: scales, Recorder: c.Recorder, Log: log}).WithMetrics(m)
	return a, []cache.InformerSynced{hpaInformer.HasSynced, workloads.HasSynced}, nil
}
