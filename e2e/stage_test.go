package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/primetime-dev/primetime/e2e/loadgen"
	"github.com/primetime-dev/primetime/e2e/testbed"
	"github.com/primetime-dev/primetime/policies/config"
)

// stage is a storefront on a real control plane: a Deployment whose pods
// the fake kubelet starts on loopback addresses, a load generator serving
// their traffic, Prometheus scraping it, and an HPA on primetime_replicas.
type stage struct {
	c    *testbed.Cluster
	gen  *loadgen.Generator
	prom *testbed.Prometheus
}

// stageOptions sets up a stage.
type stageOptions struct {
	// rate is the initial total request rate.
	rate float64
	// startup is the pods' start-up delay (created to ready).
	startup time.Duration
	// hpaSync is the HPA controller's sync period; 5 s unless set (the
	// Kubernetes default is 15 s).
	hpaSync time.Duration
}

func newStage(t *testing.T, ctx context.Context, o stageOptions) *stage {
	t.Helper()
	if o.hpaSync == 0 {
		o.hpaSync = 5 * time.Second
	}
	c := testbed.StartCluster(t, testbed.ClusterOptions{ControllerManager: true, HPASyncPeriod: o.hpaSync})
	c.Namespace(t, "storefront", nil)
	gen := loadgen.New(testbed.FreePort(t), o.rate)
	t.Cleanup(gen.Close)
	c.StartKubelet(ctx, "storefront", o.startup, func(ip string) {
		if err := gen.AddPod(ip); err != nil {
			t.Logf("load generator: %v", err)
		}
	}, gen.RemovePod)
	agg, err := gen.ServeAggregate(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	prom := testbed.StartPrometheus(t, testbed.PrometheusOptions{Targets: []string{agg}})
	return &stage{c: c, gen: gen, prom: prom}
}

// deploy creates the web Deployment and its HPA on primetime_replicas, with
// a behaviour that lets the HPA follow primetime at once.
func (s *stage) deploy(t *testing.T, ctx context.Context, replicas, minReplicas, maxReplicas int32) {
	t.Helper()
	labels := map[string]string{"app": "web"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "storefront"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "registry.invalid/web:1"}}},
			},
		},
	}
	if _, err := s.c.Client.AppsV1().Deployments("storefront").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	zero, period := int32(0), int32(5)
	one, noTolerance := resource.MustParse("1"), resource.MustParse("0")
	hpa := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "storefront"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
			MinReplicas:    &minReplicas, MaxReplicas: maxReplicas,
			Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ExternalMetricSourceType, External: &autoscalingv2.ExternalMetricSource{
				Metric: autoscalingv2.MetricIdentifier{Name: "primetime_replicas", Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"target": "web"}}},
				Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: &one},
			}}},
			Behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{
				// Tolerance 0, as README recommends: primetime publishes
				// whole replicas, and a last step of a ramp (17 → 18) is
				// within the default 10%.
				ScaleUp: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: &zero, Tolerance: &noTolerance,
					Policies: []autoscalingv2.HPAScalingPolicy{{Type: autoscalingv2.PodsScalingPolicy, Value: 100, PeriodSeconds: period}}},
				ScaleDown: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: &zero,
					Policies: []autoscalingv2.HPAScalingPolicy{{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: period}}},
			},
		},
	}
	if _, err := s.c.Client.AutoscalingV2().HorizontalPodAutoscalers("storefront").Create(ctx, hpa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func (s *stage) configure(t *testing.T, ctx context.Context, targets, windows string) {
	t.Helper()
	cms := s.c.Client.CoreV1().ConfigMaps("storefront")
	if _, err := cms.Create(ctx, configMap("storefront", "primetime-targets", config.LabelTargets, "targets.yaml", targets), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if windows != "" {
		if _, err := cms.Create(ctx, configMap("storefront", "tv-spots", config.LabelWindows, "spots.yaml", windows), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// webTarget is the stage's target: the aggregate request rate from
// Prometheus, 10 requests/s per replica, 2 to 50 replicas.
func webTarget(leadTime, mode string) string {
	return fmt.Sprintf(`targets:
  - name: web
    scaleTargetRef: {kind: Deployment, name: web}
    load: {prometheus: 'sum(rate(http_requests_total[15s]))'}
    capacityPerReplica: 10
    minReplicas: 2
    maxReplicas: 50
    leadTime: %s
    mode: %s
`, leadTime, mode)
}

func (s *stage) replicas(ctx context.Context) (spec, ready int32) {
	d, err := s.c.Client.AppsV1().Deployments("storefront").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		return 0, 0
	}
	return *d.Spec.Replicas, d.Status.ReadyReplicas
}

// settle waits until primetime publishes want for the web target and the
// Deployment has had want ready replicas for 10 s.
func (s *stage) settle(t *testing.T, ctx context.Context, want int32) {
	t.Helper()
	var since time.Time
	testbed.Eventually(t, 3*time.Minute, time.Second, func() (bool, string) {
		v, err := externalValue(ctx, s.c, "storefront", "primetime_replicas", "web")
		spec, ready := s.replicas(ctx)
		if err != nil || v != fmt.Sprint(want) || spec != want || ready != want {
			since = time.Time{}
			return false, fmt.Sprintf("primetime_replicas %q (%v), %d replicas, %d ready; want %d", v, err, spec, ready, want)
		}
		if since.IsZero() {
			since = time.Now()
		}
		return time.Since(since) >= 10*time.Second, "settling"
	})
}

// paceScaleUp gives the HPA the scale-up pace of the Kubernetes default
// behaviour without its doubling: pods more replicas per period, so that
// reaching a floor is a ramp.
func (s *stage) paceScaleUp(t *testing.T, ctx context.Context, pods, periodSeconds int32) {
	t.Helper()
	hpas := s.c.Client.AutoscalingV2().HorizontalPodAutoscalers("storefront")
	h, err := hpas.Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h.Spec.Behavior.ScaleUp.Policies = []autoscalingv2.HPAScalingPolicy{{Type: autoscalingv2.PodsScalingPolicy, Value: pods, PeriodSeconds: periodSeconds}}
	if _, err := hpas.Update(ctx, h, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}
