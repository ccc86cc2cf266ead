package e2e

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/primetime-dev/primetime/e2e/stage"
	"github.com/primetime-dev/primetime/e2e/testbed"
)

// TestScaleModeQuietNight: a quiet night takes a scale-mode workload to 0;
// in the morning there are no pods, so no load, and it goes back to the
// replicas it had when the night began.
func TestScaleModeQuietNight(t *testing.T) {
	scenario(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := stage.New(t, ctx, stage.Options{Rate: 60, Startup: 5 * time.Second, Cluster: sharedCluster(t), Namespace: "quiet-night"})
	s.Deploy(t, ctx, 3, 0, 0) // no HPA
	s.Configure(t, ctx, fmt.Sprintf(`targets:
  - name: web
    scaleTargetRef: {kind: Deployment, name: web}
    load: {scrape: {selector: app=web, port: %d, counter: http_requests_total}}
    capacityPerReplica: 10
    minReplicas: 0
    maxReplicas: 50
    leadTime: 0s
    mode: scale
`, s.Gen.Port()), "")
	pt := s.StartPrimetime(t, "--interval=5s")
	// 60 requests/s at 10 per replica: 6 (7 when a scrape reads a little more).
	testbed.Eventually(t, 2*time.Minute, time.Second, func() (bool, string) {
		spec, ready := s.Replicas(ctx)
		return (spec == 6 || spec == 7) && ready == spec, fmt.Sprintf("%d replicas (%d ready), want 6 (or 7) all ready before the night", spec, ready)
	})
	night := time.Now().Add(10 * time.Second).Truncate(time.Second)
	morning := night.Add(time.Minute)
	if _, err := s.C.Client.CoreV1().ConfigMaps(s.NS).Create(ctx, stage.ConfigMap(s.NS, "nights", "primetime.dev/windows", "nights.yaml", fmt.Sprintf(`windows:
  - name: night
    start: %q
    duration: 1m
    replicas: 0
    quiet: true
    targets: [%s/web]
`, night.UTC().Format(time.RFC3339), s.NS)), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The evening's replicas are 6, or 7 when a scrape reads a little over
	// 60 requests/s (7 is more than the 10% tolerance above 6): the night
	// records whichever the workload had when the cap began.
	var evening string
	var zeroAt time.Time // when the test first saw the cap in force
	testbed.Eventually(t, time.Until(morning), time.Second, func() (bool, string) {
		spec, ready := s.Replicas(ctx)
		if spec == 0 && zeroAt.IsZero() {
			zeroAt = time.Now()
		}
		d, _ := s.C.Client.AppsV1().Deployments(s.NS).Get(ctx, "web", metav1.GetOptions{})
		evening = d.Annotations["primetime.dev/original-replicas"]
		return spec == 0 && (evening == "6" || evening == "7"), fmt.Sprintf("%d replicas (%d ready) in the night, want 0 and the evening's 6 or 7 recorded (annotations %v)", spec, ready, d.Annotations)
	})
	want, _ := strconv.Atoi(evening)
	testbed.Eventually(t, time.Until(morning)+20*time.Second, 500*time.Millisecond, func() (bool, string) {
		spec, ready := s.Replicas(ctx)
		desired, _ := pt.Metric("primetime_target_replicas", `kind="desired"`)
		limit, capped := pt.Metric("primetime_target_replicas", `kind="cap"`)
		load, known := pt.Metric("primetime_target_load", `kind="observed"`)
		d, _ := s.C.Client.AppsV1().Deployments(s.NS).Get(ctx, "web", metav1.GetOptions{})
		return int(spec) == want && time.Now().After(morning), fmt.Sprintf("%d replicas (%d ready) at %s, want the evening's %d once the night is over (desired %v, cap %v %v, load %v %v, annotations %v)",
			spec, ready, time.Now().Format(time.TimeOnly), want, desired, limit, capped, load, known, d.Annotations)
	})
	t.Logf("scenario 15c: 0 replicas through the quiet night; the evening's %d again %s after it ended, with no load known", want, time.Since(morning).Round(100*time.Millisecond))
	// The night's report, on the nights ConfigMap: the evening's replicas
	// for as long as the cap was in force, from the cycle that wrote it
	// (when a loaded machine sees the window late, the night is shorter).
	testbed.Eventually(t, 30*time.Second, time.Second, func() (bool, string) {
		ev := eventsOf(ctx, s, "WindowReport")
		return len(ev) == 1, fmt.Sprintf("%d WindowReport Events", len(ev))
	})
	report := eventsOf(ctx, s, "WindowReport")[0].Message
	m := regexp.MustCompile(`^night on \w{3} \d{1,2} \w{3} \d\d:\d\d: quiet-night/web was capped; the quiet window saved ([0-9.]+) replica-hours$`).FindStringSubmatch(report)
	if m == nil {
		t.Fatalf("WindowReport %q, want the replica-hours the night saved", report)
	}
	saved, _ := strconv.ParseFloat(m[1], 64)
	capped := morning.Sub(zeroAt)
	// Less one 5 s cycle and the test's 1 s poll at most, more the write's
	// latency and the report's rounding.
	if most := float64(want) * capped.Hours(); saved < most-float64(want)*(7*time.Second).Hours()-0.005 || saved > most+float64(want)*(3*time.Second).Hours()+0.005 {
		t.Errorf("%v replica-hours saved, want %.3f less at most one 5 s cycle's (the evening's %d for the %s the night was capped): %s", saved, most, want, capped.Round(100*time.Millisecond), report)
	}
	t.Logf("scenario 15c: capped %s of the night's minute", capped.Round(100*time.Millisecond))
	t.Logf("scenario 15c: WindowReport %q", report)
	// The pods serve again: the load is known and tracking keeps 6 (or 7).
	testbed.Eventually(t, time.Minute, time.Second, func() (bool, string) {
		spec, ready := s.Replicas(ctx)
		return (spec == 6 || spec == 7) && ready == spec, fmt.Sprintf("%d replicas (%d ready), want 6 or 7 all ready", spec, ready)
	})
}

// TestScaleModeSteadyLoad: a steady 100 requests/s at 10 per replica reads
// 10 or 11 replicas' worth from one scrape to the next; like an HPA with its
// 10% tolerance, scale mode writes nothing for 10 minutes.
func TestScaleModeSteadyLoad(t *testing.T) {
	scenario(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := stage.New(t, ctx, stage.Options{Rate: 100, Startup: 5 * time.Second, Cluster: sharedCluster(t), Namespace: "steady"})
	s.Deploy(t, ctx, 10, 0, 0) // no HPA
	s.Configure(t, ctx, stage.WebTarget("1m", "scale"), "")
	// The 10 pods serve, and Prometheus has seen them for a whole rate
	// window, before primetime starts.
	testbed.Eventually(t, 2*time.Minute, time.Second, func() (bool, string) {
		_, ready := s.Replicas(ctx)
		v, err := s.Prom.Query("sum(rate(http_requests_total[15s]))")
		return ready == 10 && err == nil && v > 97 && v < 103, fmt.Sprintf("%d ready, rate %.1f (%v)", ready, v, err)
	})
	pt := s.StartPrimetime(t, "--prometheus-url="+s.Prom.URL, "--interval=5s")
	testbed.Eventually(t, time.Minute, time.Second, func() (bool, string) {
		_, ok := pt.Metric("primetime_target_load", `kind="observed"`, `target="web"`)
		return ok, "no observed load yet"
	})
	began := time.Now()
	var desired []float64
	for time.Since(began) < 10*time.Minute {
		if spec, _ := s.Replicas(ctx); spec != 10 {
			t.Fatalf("replicas %d %s into a steady load, want the 10 it had (desired so far %v)", spec, time.Since(began).Round(time.Second), desired)
		}
		if d, ok := pt.Metric("primetime_target_replicas", `kind="desired"`, `target="web"`); ok && (len(desired) == 0 || desired[len(desired)-1] != d) {
			desired = append(desired, d)
		}
		time.Sleep(2 * time.Second)
	}
	writes, _ := pt.Metric("primetime_writes_total", `kind="workload"`)
	if writes != 0 {
		t.Errorf("primetime_writes_total{kind=workload} = %v over 10 minutes", writes)
	}
	t.Logf("scenario 15d: 0 writes over 10 minutes at a steady 100 req/s; desired replicas went %v", desired)
}
