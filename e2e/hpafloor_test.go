package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/primetime-dev/primetime/e2e/stage"
	"github.com/primetime-dev/primetime/e2e/testbed"
	"github.com/primetime-dev/primetime/scaler/actuate"
)

// TestHPAFloor is scenario e: in hpa-floor mode primetime raises the HPA's
// minReplicas before the window and restores the original after it.
func TestHPAFloor(t *testing.T) {
	scenario(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := stage.New(t, ctx, stage.Options{Rate: 50, Startup: 5 * time.Second, Cluster: sharedCluster(t), Namespace: "hpafloor"})
	s.Deploy(t, ctx, 5, 3, 50)
	start := time.Now().Add(2 * time.Minute).Truncate(time.Second)
	holdEnd := start.Add(time.Minute + 30*time.Second)
	s.Configure(t, ctx, stage.WebTarget("1m", "hpa-floor"), fmt.Sprintf(`windows:
  - name: newsletter
    start: %q
    duration: 1m
    cooldown: 30s
    replicas: 8
    targets: [%s/web]
`, start.UTC().Format(time.RFC3339), s.NS))
	s.StartPrimetime(t, "--prometheus-url="+s.Prom.URL, "--interval=5s")
	hpas := s.C.Client.AutoscalingV2().HorizontalPodAutoscalers(s.NS)
	minOf := func() (int32, string) {
		h, err := hpas.Get(ctx, "web", metav1.GetOptions{})
		if err != nil || h.Spec.MinReplicas == nil {
			return 0, ""
		}
		return *h.Spec.MinReplicas, h.Annotations[actuate.AnnotationOriginalMin]
	}
	if m, ann := minOf(); m != 3 || ann != "" {
		t.Fatalf("before the lead time: minReplicas %d, annotation %q", m, ann)
	}
	var raisedAt time.Time
	testbed.Eventually(t, time.Until(start), time.Second, func() (bool, string) {
		m, ann := minOf()
		raisedAt = time.Now()
		return m == 8 && ann == "3", fmt.Sprintf("minReplicas %d, annotation %q", m, ann)
	})
	t.Logf("scenario e: minReplicas raised to 8 %s before the window", start.Sub(raisedAt).Round(time.Second))
	// After the cooldown minReplicas follows the step-down (6, then 5, one
	// step a minute, the rest level being 50/10 = 5), then the original 3
	// comes back and the annotation goes.
	testbed.Eventually(t, time.Until(holdEnd)+3*time.Minute, 2*time.Second, func() (bool, string) {
		m, ann := minOf()
		return m == 3 && ann == "", fmt.Sprintf("minReplicas %d, annotation %q", m, ann)
	})
	if time.Now().Before(holdEnd) {
		t.Errorf("minReplicas restored before the end of the cooldown")
	}
}
