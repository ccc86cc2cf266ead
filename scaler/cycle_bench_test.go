package scaler_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/scaler"
	"github.com/primetime-dev/primetime/scaler/actuate"
	"github.com/primetime-dev/primetime/scaler/configwatch"
	"github.com/primetime-dev/primetime/sources"
)

// BenchmarkEngineCycleWithActuation is one whole cycle of the daemon's
// engine with the actuator, over hpa-floor targets with 50 windows (every
// target has a window in force): loads from the poller's cache, decisions,
// the board, the metrics snapshot, and the actuator planning every HPA
// from an informer cache against a fake clientset that counts requests.
// After the first cycle nothing changes: the figure to watch is
// requests/cycle, which must be 0.
func BenchmarkEngineCycleWithActuation(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("targets=%d/windows=50", n), func(b *testing.B) {
			store := configwatch.NewStore(nil, nil)
			var targets strings.Builder
			targets.WriteString("targets:\n")
			three := int32(3)
			var objs []k8sruntime.Object
			for i := range n {
				ns, name := fmt.Sprintf("ns-%d", i%100), fmt.Sprintf("app-%d", i)
				fmt.Fprintf(&targets, "  - {name: %s, namespace: %s, scaleTargetRef: {kind: Deployment, name: %s}, load: {prometheus: 'q%d'}, capacityPerReplica: 50, maxReplicas: 300, leadTime: 8m, mode: hpa-floor}\n", name, ns, name, i%500)
				h := &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, ResourceVersion: "1"},
					Spec: autoscalingv2.HorizontalPodAutoscalerSpec{MinReplicas: &three, MaxReplicas: 300,
						ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: name}},
					Status: autoscalingv2.HorizontalPodAutoscalerStatus{CurrentReplicas: 10}}
				objs = append(objs, h)
			}
			store.Apply(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ops", Name: "targets", ResourceVersion: "1"}, Data: map[string]string{"t.yaml": targets.String()}})
			store.Apply(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "marketing", Name: "windows", ResourceVersion: "1"}, Data: map[string]string{"w.yaml": benchWindows()}})
			if got := len(store.Snapshot().Targets); got != n {
				b.Fatalf("%d targets", got)
			}
			src := &loadSource{load: 1000}
			poller := sources.NewPoller(sources.NewCache())
			poller.Register(sources.Registration{Source: src, Interval: 15 * time.Second, MaxAge: time.Hour})
			client := fake.NewClientset(objs...)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			factory := informers.NewSharedInformerFactory(client, 0)
			inf := factory.Autoscaling().V2().HorizontalPodAutoscalers().Informer()
			index, err := actuate.NewHPAIndex(inf)
			if err != nil {
				b.Fatal(err)
			}
			factory.Start(ctx.Done())
			factory.WaitForCacheSync(ctx.Done())
			act := &actuate.Actuator{Client: client, HPAs: index, Recorder: record.NewFakeRecorder(100000), Log: zap.NewNop()}
			engine := &scaler.Engine{Interval: 15 * time.Second, Config: store, Poller: poller, Replicas: act, Actuator: act,
				Board: &scaler.Board{}, Metrics: scaler.NewMetrics(prometheus.NewRegistry()),
				Reports: scaler.NewWindowReporter(prometheus.NewRegistry(), nil, nil, nil, ground.None[float64]())}
			now := time.Date(2026, 11, 25, 20, 40, 0, 0, mustZone("Europe/Paris"))
			engine.SyncConfig()
			poller.Refresh(context.Background(), ground.SourcePrometheus, now)
			// The first cycle raises every floor; play the informer.
			engine.Cycle(context.Background(), now)
			if err := act.Drain(context.Background()); err != nil {
				b.Fatal(err)
			}
			first := len(client.Actions())
			// The informer sees the writes.
			for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
				raised := 0
				for _, o := range inf.GetStore().List() {
					if o.(*autoscalingv2.HorizontalPodAutoscaler).Annotations[actuate.AnnotationWrittenMin] != "" {
						raised++
					}
				}
				if raised == n {
					break
				}
				if time.Now().After(deadline) {
					b.Fatalf("%d of %d HPAs raised in the cache", raised, n)
				}
			}
			// From now on a counting clientset with nothing in it: a request
			// would be counted (and fail); the fake API's 10,000 copies are
			// not the daemon's heap.
			client = fake.NewClientset()
			act.Client = client
			runtime.GC()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				engine.Cycle(context.Background(), now.Add(time.Duration(i+1)*time.Second))
				if err := act.Drain(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(len(client.Actions()))/float64(b.N), "requests/cycle")
			b.ReportMetric(float64(first), "requests/first-cycle")
		})
	}
}

// benchWindows are 50 windows, every target under one or more.
func benchWindows() string {
	doc := "timezone: Europe/Paris\nwindows:\n"
	for i := range 50 {
		switch i % 5 {
		case 0:
			doc += fmt.Sprintf("  - {name: spot-%d, start: '2026-11-25 20:%02d', duration: 15m, expect: 5x, targets: [ns-%d/app-%d, ns-%d/*]}\n", i, i, i, i, (i+1)%100)
		case 1:
			doc += fmt.Sprintf("  - {name: sale-%d, start: '2026-11-25 08:00', duration: 16h, expect: 2x, targets: [ns-%d/*]}\n", i, i)
		case 2:
			doc += fmt.Sprintf("  - {name: newsletter-%d, cron: '%d 10 * * *', duration: 1h, expect: 3x, targets: [ns-%d/*]}\n", i, i, i)
		case 3:
			doc += fmt.Sprintf("  - {name: night-%d, cron: '0 20 * * MON-FRI', duration: 12h, replicas: 1, quiet: true, targets: [ns-%d/*]}\n", i, i)
		default:
			doc += fmt.Sprintf("  - {name: all-%d, start: '2026-11-25 20:%02d', duration: 30m, expect: 12000, targets: ['*']}\n", i, i)
		}
	}
	return doc
}
