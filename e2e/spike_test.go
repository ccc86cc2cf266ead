package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// scrapeTarget is the stage's target read straight from the pods'
// counters: 10 requests/s per replica, 2 to 50 replicas.
func scrapeTarget(port int) string {
	return fmt.Sprintf(`targets:
  - name: web
    scaleTargetRef: {kind: Deployment, name: web}
    load: {scrape: {selector: app=web, port: %d, counter: http_requests_total}}
    capacityPerReplica: 10
    minReplicas: 2
    maxReplicas: 50
`, port)
}

// TestUnplannedSpike is scenario b: the traffic goes 5x with no window
// announced, the target reading the pods themselves. The HPA syncs every
// 15 s (the Kubernetes default) and its scale-up policy allows the jump;
// the Deployment must reach the new need within one scrape interval (5 s)
// plus two HPA syncs.
func TestUnplannedSpike(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const hpaSync, scrapeInterval = 15 * time.Second, 5 * time.Second
	s := newStage(t, ctx, stageOptions{rate: 45, startup: 5 * time.Second, hpaSync: hpaSync})
	s.deploy(t, ctx, 5, 2, 50)
	s.configure(t, ctx, scrapeTarget(s.gen.Port()), "")
	StartPrimetime(t, s.c, "--interval=15s")

	s.settle(t, ctx, 5) // 45 requests/s at 10 per replica

	// 5x: 225 requests/s need 23 replicas.
	const need = 23
	spike := time.Now()
	s.gen.SetRate(225)
	limit := scrapeInterval + 2*hpaSync
	var scaled, ready time.Time
	for time.Since(spike) < limit+time.Minute && ready.IsZero() {
		spec, r := s.replicas(ctx)
		if spec >= need && scaled.IsZero() {
			scaled = time.Now()
		}
		if r >= need {
			ready = time.Now()
		}
		time.Sleep(250 * time.Millisecond)
	}
	if scaled.IsZero() {
		spec, r := s.replicas(ctx)
		t.Fatalf("%s after the spike: %d replicas (%d ready), want %d", time.Since(spike).Round(time.Second), spec, r, need)
	}
	reaction := scaled.Sub(spike)
	t.Logf("scenario b: %d replicas %s after the 5x spike (limit %s), %d ready after %s (5 s start-up)",
		need, reaction.Round(100*time.Millisecond), limit, need, ready.Sub(spike).Round(100*time.Millisecond))
	if reaction > limit {
		t.Errorf("reaction %s, more than one scrape interval plus two HPA syncs (%s)", reaction.Round(100*time.Millisecond), limit)
	}
	// It holds: the new pods taking their share of the traffic must not
	// read as a fall in load.
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(time.Second) {
		if spec, _ := s.replicas(ctx); spec < need {
			t.Fatalf("fell back to %d replicas at 225 requests/s", spec)
		}
	}
}
