package kubemetrics

import (
	"context"
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
	"k8s.io/metrics/pkg/client/clientset/versioned/fake"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/sources"
)

func podMetrics(name, app string, at time.Time, cpus ...string) *metricsv1beta1.PodMetrics {
	pm := &metricsv1beta1.PodMetrics{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop", Labels: map[string]string{"app": app}},
		Timestamp:  metav1.NewTime(at), Window: metav1.Duration{Duration: 30 * time.Second},
	}
	for i, c := range cpus {
		pm.Containers = append(pm.Containers, metricsv1beta1.ContainerMetrics{
			Name: string(rune('a' + i)), Usage: corev1.ResourceList{"cpu": resource.MustParse(c), "memory": resource.MustParse("1Gi")},
		})
	}
	return pm
}

func TestSumsCPUOfMatchingPods(t *testing.T) {
	now := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
	client := fake.NewSimpleClientset()
	// The metrics API serves PodMetrics as resource "pods"; the fake's
	// tracker must be told so, or List finds nothing.
	gvr := schema.GroupVersionResource{Group: "metrics.k8s.io", Version: "v1beta1", Resource: "pods"}
	for _, pm := range []*metricsv1beta1.PodMetrics{
		podMetrics("web-1", "web", now.Add(-20*time.Second), "250m", "1"),
		podMetrics("web-2", "web", now.Add(-50*time.Second), "500m"),
		podMetrics("api-1", "api", now, "8"),
	} {
		if err := client.Tracker().Create(gvr, pm, "shop"); err != nil {
			t.Fatal(err)
		}
	}
	src := New(client, time.Second, nil)
	q := sources.Query{Namespace: "shop", Spec: ground.LoadSpec{Kubernetes: &ground.KubernetesSpec{Selector: "app=web", Resource: "cpu"}}}
	none := sources.Query{Namespace: "shop", Spec: ground.LoadSpec{Kubernetes: &ground.KubernetesSpec{Selector: "app=cart", Resource: "cpu"}}}
	res := src.Fetch(context.Background(), []sources.Query{q, none}, now)
	r := res[q.Key()]
	if r.Err != nil || r.Value.V != 1.75 {
		t.Fatalf("got %+v, want 1.75 cores", r)
	}
	if !r.Value.At.Equal(now.Add(-50 * time.Second)) {
		t.Errorf("the sum is as old as its oldest pod sample, got %s", r.Value.At)
	}
	if !errors.Is(res[none.Key()].Err, sources.ErrNoData) {
		t.Errorf("no matching pod: %v, want no data", res[none.Key()].Err)
	}
	if _, err := src.History(context.Background(), q, now.Add(-time.Hour), now, time.Minute); !errors.Is(err, sources.ErrNoHistory) {
		t.Errorf("history: %v", err)
	}
}
