package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/primetime-dev/primetime/e2e/stage"
	"github.com/primetime-dev/primetime/e2e/testbed"
	"github.com/primetime-dev/primetime/scaler/ha"
)

// TestFailover is scenario f: two primetime replicas elect a leader; the
// leader is killed (SIGKILL, the Lease is not released) while the
// Deployment ramps up to a TV spot's floor. The other replica must take
// over within the lease duration plus a retry, keep serving the external
// metrics API meanwhile, and the ramp must complete before the spot with
// no replica decrease.
func TestFailover(t *testing.T) {
	scenario(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := stage.New(t, ctx, stage.Options{Rate: 45, Startup: 20 * time.Second, Cluster: sharedCluster(t), Namespace: "failover"})
	s.Deploy(t, ctx, 5, 2, 50)
	s.PaceScaleUp(t, ctx, 4, 15) // 5 → 18 takes four steps: a ramp of about a minute
	start := time.Now().Add(3 * time.Minute).Truncate(time.Second)
	s.Configure(t, ctx, stage.WebTarget("2m", "metric"), fmt.Sprintf(`windows:
  - name: tf1-spot
    start: %q
    duration: 1m
    cooldown: 1m
    expect: 4x
    targets: [%s/web]
`, start.UTC().Format(time.RFC3339), s.NS))
	replicas := s.StartPrimetimeReplicas(t, 2, "--prometheus-url="+s.Prom.URL, "--interval=5s")

	leaderOf := func() (leader, other *stage.Primetime) {
		for i, p := range replicas {
			if v, ok := p.Metric("primetime_leader"); ok && v == 1 {
				return p, replicas[1-i]
			}
		}
		return nil, nil
	}
	var leader, survivor *stage.Primetime
	testbed.Eventually(t, time.Minute, 250*time.Millisecond, func() (bool, string) {
		leader, survivor = leaderOf()
		return leader != nil, "no replica leads"
	})

	// Kill the leader once the ramp to the floor is under way.
	testbed.Eventually(t, time.Until(start), 250*time.Millisecond, func() (bool, string) {
		spec, ready := s.Replicas(ctx)
		return spec >= 9, fmt.Sprintf("%d replicas (%d ready), waiting for the ramp to pass 9", spec, ready)
	})
	// 4 × 45 requests/s at 10 per replica: 18, give or take what
	// Prometheus read when the floor was latched.
	v, err := s.Value(ctx, "primetime_replicas")
	var floor int32
	if _, scanErr := fmt.Sscan(v, &floor); err != nil || scanErr != nil || floor < 17 || floor > 20 {
		t.Fatalf("primetime_replicas %q (%v) before the kill, want the spot's floor of about 18", v, err)
	}
	spec, ready := s.Replicas(ctx)
	if spec >= floor {
		t.Fatalf("the ramp is over (%d replicas) before the leader could be killed mid-way", spec)
	}
	leader.Kill()
	killed := time.Now()
	t.Logf("killed the leader at %d replicas (%d ready), %s before the spot", spec, ready, start.Sub(killed).Round(time.Second))

	// Until the spot: the survivor takes over, the API keeps answering the
	// floor, and the Deployment never shrinks.
	var tookOver, reached time.Time
	served, failed := 0, 0
	last := spec
	for time.Now().Before(start) {
		if tookOver.IsZero() {
			if v, ok := survivor.Metric("primetime_leader"); ok && v == 1 {
				tookOver = time.Now()
			}
			switch v, err := s.Value(ctx, "primetime_replicas"); {
			case err != nil:
				if failed == 0 {
					t.Logf("the API failed %s after the kill: %v", time.Since(killed).Round(100*time.Millisecond), err)
				}
				failed++
			case v != fmt.Sprint(floor):
				t.Errorf("primetime_replicas %s during the takeover, want the floor %d the leader had latched", v, floor)
			default:
				served++
			}
		}
		spec, ready := s.Replicas(ctx)
		if spec < last {
			t.Fatalf("replicas fell from %d to %d %s after the leader was killed", last, spec, time.Since(killed).Round(time.Second))
		}
		last = spec
		if ready >= floor && reached.IsZero() {
			reached = time.Now()
		}
		time.Sleep(250 * time.Millisecond)
	}
	if tookOver.IsZero() {
		t.Fatalf("the surviving replica never took over")
	}
	takeover := tookOver.Sub(killed)
	// client-go's elector: the survivor dates the last renewal by the try
	// that saw it and takes the Lease at its first try a lease duration
	// later; tries are 1 to 2.2 retry periods apart.
	limit := ha.DefaultTiming.WorstTakeover()
	t.Logf("scenario f: the survivor led %s after the kill (lease %s, retry %s); the API answered %d of %d requests meanwhile",
		takeover.Round(100*time.Millisecond), ha.DefaultTiming.LeaseDuration, ha.DefaultTiming.RetryPeriod, served, served+failed)
	if takeover > limit {
		t.Errorf("takeover took %s, more than the lease duration plus a retry period (%s)", takeover.Round(100*time.Millisecond), limit)
	}
	if served == 0 || failed != 0 {
		t.Errorf("the external metrics API answered %d requests and failed %d during the takeover, want no failure", served, failed)
	}
	if reached.IsZero() {
		spec, ready := s.Replicas(ctx)
		t.Fatalf("at the spot's start: %d ready of %d replicas, want %d ready", ready, spec, floor)
	}
	t.Logf("scenario f: %d ready replicas %s before the spot, no replica lost", floor, start.Sub(reached).Round(time.Second))
}
