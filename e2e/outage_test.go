package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/primetime-dev/primetime/e2e/stage"
	"github.com/primetime-dev/primetime/e2e/testbed"
)

// TestSourceOutage is scenario c: Prometheus is killed mid-run for 90 s,
// longer than its 1 minute staleness limit, while the traffic triples.
// primetime cannot see the load: the Deployment must not lose a replica
// while Prometheus is down (first the last good value is served, then an
// error, on which the HPA holds), and must follow the new load once
// Prometheus is back.
func TestSourceOutage(t *testing.T) {
	scenario(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := stage.New(t, ctx, stage.Options{Rate: 45, Startup: 5 * time.Second, Cluster: sharedCluster(t), Namespace: "outage"})
	s.Deploy(t, ctx, 5, 2, 50)
	s.Configure(t, ctx, stage.WebTarget("2m", "metric"), "")
	pt := s.StartPrimetime(t, "--prometheus-url="+s.Prom.URL, "--interval=5s")
	s.Settle(t, ctx, 5)

	s.Prom.Kill()
	down := time.Now()
	s.Gen.SetRate(145) // unseen while Prometheus is down
	var sawError bool
	for time.Since(down) < 90*time.Second {
		if spec, _ := s.Replicas(ctx); spec < 5 {
			t.Fatalf("%d replicas %s into the outage, fewer than the 5 before it", spec, time.Since(down).Round(time.Second))
		}
		if _, err := s.Value(ctx, "primetime_replicas"); err != nil && !sawError {
			sawError = true
			t.Logf("the external metric is an error %s into the outage: %v", time.Since(down).Round(time.Second), err)
		}
		time.Sleep(time.Second)
	}
	if !sawError {
		t.Errorf("the external metric was still served 90 s into the outage, past the 1 minute staleness limit")
	}
	if v, ok := pt.Metric("primetime_source_requests_total", `source="prometheus"`, `outcome="error"`); !ok || v == 0 {
		t.Errorf("primetime_source_requests_total{source=prometheus,outcome=error} = %v (found %v), want the failures counted", v, ok)
	}

	// Back: 145 requests/s need 15 replicas.
	s.Prom.Restart(t)
	back := time.Now()
	testbed.Eventually(t, 2*time.Minute, time.Second, func() (bool, string) {
		spec, ready := s.Replicas(ctx)
		return spec == 15, fmt.Sprintf("%d replicas (%d ready) after Prometheus came back, want 15", spec, ready)
	})
	t.Logf("scenario c: no replica lost in a 90 s outage; 15 replicas %s after Prometheus came back",
		time.Since(back).Round(time.Second))
}
