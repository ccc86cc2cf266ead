package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/primetime-dev/primetime/e2e/stage"
)

// TestUnplannedSpike is scenario b: the traffic goes 5x with no window
// announced, the target reading the pods themselves. The HPA syncs every
// 15 s (the Kubernetes default) and its scale-up policy allows the jump;
// the Deployment must reach the new need within one scrape interval (5 s)
// plus two HPA syncs.
func TestUnplannedSpike(t *testing.T) {
	scenario(t) // on a control plane of its own: the HPA syncs every 15 s here
	runApart(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const hpaSync, scrapeInterval = 15 * time.Second, 5 * time.Second
	s := stage.New(t, ctx, stage.Options{Rate: 45, Startup: 5 * time.Second, HPASync: hpaSync})
	s.Deploy(t, ctx, 5, 2, 50)
	s.Configure(t, ctx, stage.ScrapeTarget(s.Gen.Port()), "")
	s.StartPrimetime(t, "--interval=15s")

	s.Settle(t, ctx, 5) // 45 requests/s at 10 per replica

	// 5x: 225 requests/s at 10 per replica is 22.5 replicas' worth. The
	// pods' counters are read over 5 s rounds whose timing jitters by a
	// tenth of a second or more on a loaded machine, so the measured rate
	// is 225 ± 2–3% and may read 22.0 as well as 22.5: the reaction is
	// measured to 22 replicas, the need rounded down (98% of it).
	const need = 22
	spike := time.Now()
	s.Gen.SetRate(225)
	limit := scrapeInterval + 2*hpaSync
	var scaled, ready time.Time
	for time.Since(spike) < limit+time.Minute && ready.IsZero() {
		spec, r := s.Replicas(ctx)
		if spec >= need && scaled.IsZero() {
			scaled = time.Now()
		}
		if r >= need {
			ready = time.Now()
		}
		time.Sleep(250 * time.Millisecond)
	}
	if scaled.IsZero() {
		spec, r := s.Replicas(ctx)
		t.Fatalf("%s after the spike: %d replicas (%d ready), want %d", time.Since(spike).Round(time.Second), spec, r, need)
	}
	reaction := scaled.Sub(spike)
	t.Logf("scenario b: %d replicas %s after the 5x spike (limit %s), %d ready after %s (5 s start-up)",
		need, reaction.Round(100*time.Millisecond), limit, need, ready.Sub(spike).Round(100*time.Millisecond))
	if reaction > limit {
		t.Errorf("reaction %s, more than one scrape interval plus two HPA syncs (%s)", reaction.Round(100*time.Millisecond), limit)
	}
	// It holds: the new pods taking their share of the traffic must not
	// read as a fall in load. A round read 2–3% low on a loaded machine
	// asks 21.9 replicas, which the HPA rounds to 22 or, past its 10%
	// tolerance, may step to 21; a fall below that is the new pods' share
	// read as less load.
	lowest := int32(need)
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(time.Second) {
		spec, _ := s.Replicas(ctx)
		lowest = min(lowest, spec)
		if spec < need-1 {
			t.Fatalf("fell back to %d replicas at 225 requests/s, want %d or more", spec, need-1)
		}
	}
	t.Logf("held for 30 s: %d replicas at the lowest", lowest)
}
