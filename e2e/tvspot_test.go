package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/primetime-dev/primetime/e2e/stage"
	"github.com/primetime-dev/primetime/e2e/testbed"
)

// TestTVSpot is scenario a: a spot announced 3 minutes ahead with a 2 minute
// lead time and 4x the load. The Deployment's ready replicas (20 s start-up
// included) must reach the floor before the spot starts, and step back down
// after the cooldown.
func TestTVSpot(t *testing.T) {
	scenario(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := stage.New(t, ctx, stage.Options{Rate: 50, Startup: 20 * time.Second, Cluster: sharedCluster(t), Namespace: "tvspot"}) // 50 requests/s: 5 replicas at 10 each
	s.Deploy(t, ctx, 5, 2, 50)
	start := time.Now().Add(3 * time.Minute).Truncate(time.Second)
	windowEnd := start.Add(time.Minute)
	holdEnd := windowEnd.Add(time.Minute)
	s.Configure(t, ctx, stage.WebTarget("2m", "metric"), fmt.Sprintf(`windows:
  - name: tf1-spot
    start: %q
    duration: 1m
    cooldown: 1m
    expect: 4x
    targets: [%s/web]
`, start.UTC().Format(time.RFC3339), s.NS))
	pt := s.StartPrimetime(t, "--prometheus-url="+s.Prom.URL, "--interval=5s")
	// Grafana's and the alerts' Prometheus: it scrapes primetime.
	monitoring := testbed.StartPrometheus(t, testbed.PrometheusOptions{Targets: []string{pt.MetricsAddr}})
	began := time.Now()

	// The floor: 4 × 50 = 200 requests/s at 10 per replica = 20 replicas.
	const floor = 20
	var reached time.Time
	for time.Now().Before(start) {
		if _, ready := s.Replicas(ctx); ready >= floor {
			reached = time.Now()
			break
		}
		time.Sleep(time.Second)
	}
	if reached.IsZero() {
		spec, ready := s.Replicas(ctx)
		t.Fatalf("at the spot's start: %d ready of %d replicas, want %d ready", ready, spec, floor)
	}
	t.Logf("scenario a: %d ready replicas %s before the window starts", floor, start.Sub(reached).Round(time.Second))
	if spec, _ := s.Replicas(ctx); spec > floor+1 {
		t.Errorf("pre-scaled to %d replicas, more than the floor of %d", spec, floor)
	}

	// Held through the window and the cooldown.
	for time.Now().Before(holdEnd.Add(-5 * time.Second)) {
		if spec, _ := s.Replicas(ctx); spec < floor {
			t.Fatalf("%d replicas at %s, before the end of the cooldown", spec, time.Now().Format(time.TimeOnly))
		}
		time.Sleep(2 * time.Second)
	}
	// Then it steps down: 15, 12, 10, ... one step a minute.
	var steps []string
	last := int32(floor)
	testbed.Eventually(t, 3*time.Minute, 2*time.Second, func() (bool, string) {
		spec, _ := s.Replicas(ctx)
		if spec != last {
			steps = append(steps, fmt.Sprintf("%d at +%s", spec, time.Since(holdEnd).Round(time.Second)))
			last = spec
		}
		return spec <= 12, "replicas " + strings.Join(steps, ", ")
	})
	t.Logf("step-down after the cooldown: %s", strings.Join(steps, ", "))

	// The chart's dashboards and alerts, on what Prometheus scraped from
	// primetime through the spot.
	checkChartQueries(t, monitoring.URL, s.NS, began, time.Now())
}
