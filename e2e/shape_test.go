package e2e

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/primetime-dev/primetime/e2e/stage"
	"github.com/primetime-dev/primetime/e2e/testbed"
	"github.com/primetime-dev/primetime/policies"
	"github.com/primetime-dev/primetime/policies/config"
	"github.com/primetime-dev/primetime/scaler/actuate"
	"github.com/primetime-dev/primetime/scaler/ha"
)

// TestLearnedShape: a "shape: learned" window (hpa-floor mode) whose
// learning group has 3 reports for the target, handed over in the state
// before primetime starts: their first waves peaked 30 s after the start,
// with no second wave. The HPA's minReplicas is raised to the whole floor
// before the start and held flat until the group's peak time has passed,
// though the spot's load already falls, and for the target's scale-down
// stabilisation after it (behavior.scaleDown: 15 s here, 300 s by
// default, HoldShaped); then, inside the window and while it is still
// active, it follows the load down (×1.25) instead of being held to the
// window's end. The WindowReport says so, the group learns a fourth
// lesson, and the load was never above the ready replicas' capacity.
func TestLearnedShape(t *testing.T) {
	scenario(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const (
		usual, spike, decayed = 50.0, 200.0, 100.0 // requests/s, 10 a replica
		peakAfter             = 30 * time.Second   // the group's learned first peak
		duration, cooldown    = 2 * time.Minute, 15 * time.Second
		hold, interval        = 15 * time.Second, 5 * time.Second // behavior.scaleDown, --interval
	)
	s := stage.New(t, ctx, stage.Options{Rate: usual, Startup: 5 * time.Second, Cluster: sharedCluster(t), Namespace: "learned-shape"})
	s.Deploy(t, ctx, 5, 2, 50)

	// What the group's last three spots taught, as a former leader hands
	// it over: 4x, first peak 30 s after the start, half gone 40 s later.
	var lessons []policies.Lesson
	for day := 3; day >= 1; day-- {
		lessons = append(lessons, policies.Lesson{Window: fmt.Sprintf("spot-%d", 4-day),
			Start: time.Now().Add(-time.Duration(day) * 24 * time.Hour).Truncate(time.Minute).UTC(),
			Ratio: 4, PeakAfter: peakAfter, HalfDecay: 40 * time.Second})
	}
	key := s.NS + "/web|spots"
	if err := ha.Publish(ctx, s.C.Client, s.NS, &ha.State{At: time.Now(), Leader: "a-former-leader", Lessons: map[string][]policies.Lesson{key: lessons}}); err != nil {
		t.Fatal(err)
	}
	s.Configure(t, ctx, stage.WebTarget("30s", "hpa-floor")+fmt.Sprintf("    behavior: {scaleDown: {stabilizationWindowSeconds: %d}}\n", int(hold/time.Second)), "")
	pt := s.StartPrimetime(t, "--prometheus-url="+s.Prom.URL, fmt.Sprintf("--interval=%s", interval))
	observed := func() float64 {
		v, _ := pt.Metric("primetime_target_load", `target="web"`, `kind="observed"`)
		return v
	}
	floorMetric := func() float64 {
		v, _ := pt.Metric("primetime_target_replicas", `target="web"`, `kind="floor"`)
		return v
	}
	// The usual load is read, and the lessons were taken over (the new
	// leader hands them on with its own state).
	testbed.Eventually(t, time.Minute, time.Second, func() (bool, string) {
		st, err := ha.Load(ctx, s.C.Client, s.NS)
		n := 0
		if err == nil && st != nil && st.Leader != "a-former-leader" {
			n = len(st.Lessons[key])
		}
		v := observed()
		return n == 3 && v > 0.9*usual && v < 1.1*usual, fmt.Sprintf("observed load %.1f; the leader's state holds %d lessons of %s (%v)", v, n, key, err)
	})

	// The window, announced 45 s ahead: its floor starts 30 s before.
	start := time.Now().Add(45 * time.Second).Truncate(time.Second)
	end := start.Add(duration)
	if _, err := s.C.Client.CoreV1().ConfigMaps(s.NS).Create(ctx, stage.ConfigMap(s.NS, "tv-spots", config.LabelWindows, "spots.yaml", fmt.Sprintf(`windows:
  - name: spot-4
    group: spots
    shape: learned
    start: %q
    duration: %s
    cooldown: %s
    expect: 4x
    targets: [%s/web]
`, start.UTC().Format(time.RFC3339), duration, cooldown, s.NS)), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	hpas := s.C.Client.AutoscalingV2().HorizontalPodAutoscalers(s.NS)
	minOf := func() (int32, string) {
		h, err := hpas.Get(ctx, "web", metav1.GetOptions{})
		if err != nil || h.Spec.MinReplicas == nil {
			return 0, ""
		}
		return *h.Spec.MinReplicas, h.Annotations[actuate.AnnotationOriginalMin]
	}
	// Whatever the harness sees, all along: the load the generator sends
	// is never above what the ready replicas serve.
	var overs []string
	checkCapacity := func() (spec, ready int32) {
		spec, ready = s.Replicas(ctx)
		if rate := s.Gen.Rate(); rate > float64(ready)*10 {
			overs = append(overs, fmt.Sprintf("%.0f requests/s on %d ready replicas at +%s", rate, ready, time.Since(start).Round(time.Second)))
		}
		return spec, ready
	}

	// (1) The whole floor before the start: 4 × 50 = 200 requests/s at 10
	// a replica, 20 (21 or 22 when the usual load read a little above 50),
	// ready by the start.
	var full int32
	testbed.Eventually(t, time.Until(start), 500*time.Millisecond, func() (bool, string) {
		m, ann := minOf()
		full = m
		spec, ready := s.Replicas(ctx)
		return m >= 20 && m <= 22 && ann == "2" && ready >= m, fmt.Sprintf("minReplicas %d (original %q), %d replicas, %d ready", m, ann, spec, ready)
	})
	t.Logf("the whole floor, minReplicas %d, ready %s before the start", full, time.Until(start).Round(time.Second))
	for time.Now().Before(start) {
		if m, _ := minOf(); m != full {
			t.Fatalf("minReplicas %d before the start, after %d", m, full)
		}
		checkCapacity()
		time.Sleep(200 * time.Millisecond)
	}

	// The spot: 4x at once. Once primetime has read its peak, the load
	// falls to 100 requests/s (before the group's peak time), then, once
	// the floor follows it, back to the usual. The floor is the whole one
	// until the group's peak time, and the highest of the last 15 s after
	// it: the first cycle below it is 15 s after the last whole one (at
	// +25 s or later).
	s.Gen.SetRate(spike)
	var peakRead, steppedAt, backAt time.Time
	var steps []string
	last, lowest := full, full
	testbed.Eventually(t, time.Until(end), 500*time.Millisecond, func() (bool, string) {
		now := time.Now()
		m, _ := minOf()
		_, ready := checkCapacity()
		v := observed()
		if m != last {
			steps = append(steps, fmt.Sprintf("%d at +%s (load read %.0f)", m, now.Sub(start).Round(time.Second), v))
			last = m
		}
		lowest = min(lowest, m)
		switch {
		case peakRead.IsZero() && m < full:
			t.Fatalf("minReplicas %d at +%s, before the spot's peak was read (load read %.0f)", m, now.Sub(start).Round(time.Second), v)
		case peakRead.IsZero() && v >= 0.9*spike:
			peakRead = now
			s.Gen.SetRate(decayed)
		case !peakRead.IsZero() && steppedAt.IsZero() && m < full:
			steppedAt = now
			if now.Before(start.Add(peakAfter + hold - interval)) {
				t.Errorf("minReplicas %d at +%s, before the group's peak at +%s and the %s hold after it: the floor was not held", m, now.Sub(start).Round(time.Second), peakAfter, hold)
			}
			if a, ok := pt.Metric("primetime_window_active", `window="spot-4"`, `phase="active"`); !ok || a != 1 {
				t.Errorf("minReplicas stepped down to %d at +%s with primetime_window_active{phase=\"active\"} %v (%v), want the window active", m, now.Sub(start).Round(time.Second), a, ok)
			}
		case !steppedAt.IsZero() && backAt.IsZero() && v <= 1.1*decayed:
			backAt = now
			s.Gen.SetRate(usual)
		}
		if !steppedAt.IsZero() && m >= full {
			t.Errorf("minReplicas back up to %d at +%s, after it followed the load down (load read %.0f)", m, now.Sub(start).Round(time.Second), v)
		}
		// 50 requests/s with 25% headroom: 7 replicas (8 when a reading is
		// a little above 56).
		return !backAt.IsZero() && m <= 8, fmt.Sprintf("inside the window: minReplicas %d (full floor %d), floor %v, %d ready, load read %.0f; steps: %s",
			m, full, floorMetric(), ready, v, strings.Join(steps, ", "))
	})
	if time.Now().After(end) {
		t.Fatalf("the floor followed the load down only after the window's end (+%s): %s", duration, strings.Join(steps, ", "))
	}
	t.Logf("(2) inside the window, the peak read at +%s, the load at %v from then; minReplicas below %d from +%s, back at the usual from +%s; steps: %s; %s before the window's end",
		peakRead.Sub(start).Round(time.Second), decayed, full, steppedAt.Sub(start).Round(time.Second), backAt.Sub(start).Round(time.Second),
		strings.Join(steps, ", "), time.Until(end).Round(time.Second))

	// Held at the load's level to the window's end: the floor does not
	// climb back to the whole floor, nor fall below what the load needs.
	for time.Now().Before(end) {
		m, _ := minOf()
		checkCapacity()
		if m > 8 {
			t.Errorf("minReplicas back up to %d at +%s with the load at its usual", m, time.Since(start).Round(time.Second))
			break
		}
		time.Sleep(time.Second)
	}

	// (3) Released after the cooldown: minReplicas restored, and the
	// report on the windows ConfigMap.
	testbed.Eventually(t, time.Until(end)+cooldown+time.Minute, time.Second, func() (bool, string) {
		checkCapacity()
		m, ann := minOf()
		return m == 2 && ann == "", fmt.Sprintf("after the window: minReplicas %d, annotation %q", m, ann)
	})
	var report string
	testbed.Eventually(t, time.Minute, time.Second, func() (bool, string) {
		ev := eventsOf(ctx, s, "WindowReport")
		if len(ev) > 0 {
			report = ev[0].Message
			if ev[0].InvolvedObject.Kind != "ConfigMap" || ev[0].InvolvedObject.Name != "tv-spots" {
				t.Errorf("WindowReport on %+v, want the windows ConfigMap tv-spots", ev[0].InvolvedObject)
			}
		}
		return len(ev) == 1, fmt.Sprintf("%d WindowReport Events", len(ev))
	})
	checkShapeReport(t, report, full, peakAfter, duration)
	// The spot teaches the group a fourth lesson, handed over with the
	// others: its own ratio and first peak.
	var learned string
	testbed.Eventually(t, 30*time.Second, time.Second, func() (bool, string) {
		st, err := ha.Load(ctx, s.C.Client, s.NS)
		if err != nil || st == nil {
			return false, fmt.Sprintf("handed-over state: %v", err)
		}
		ls := st.Lessons[key]
		for _, l := range ls {
			if l.Window == "spot-4" && l.Start.Equal(start) {
				learned = fmt.Sprintf("%.2fx, first peak at +%s, half decay %s", l.Ratio, l.PeakAfter, l.HalfDecay)
				if l.Ratio < 3.5 || l.Ratio > 4.3 || l.PeakAfter <= 0 || l.PeakAfter > time.Minute {
					t.Errorf("the lesson of spot-4: %+v; want about 4x with its first peak within a minute", l)
				}
				return len(ls) == 4, fmt.Sprintf("%d lessons of %s", len(ls), key)
			}
		}
		return false, fmt.Sprintf("%d lessons of %s, none of spot-4", len(ls), key)
	})
	t.Logf("the group learned from spot-4: %s", learned)
	if len(overs) > 0 {
		t.Errorf("load above the ready replicas' capacity %d times: %s", len(overs), strings.Join(overs, "; "))
	}
}

// shapeReport reads the WindowReport of TestLearnedShape's spot.
var (
	shapePeak     = regexp.MustCompile(`^spot-4 on \w{3} \d{1,2} \w{3} \d\d:\d\d: [^ ]+/web peaked at ([0-9.]+)x its usual load \(([0-9.]+) for ([0-9.]+)\) ((?:\d+ min ?)?(?:\d+ s)?) after the start \(expected 4x\)`)
	shapeFollowed = regexp.MustCompile(`; the floor followed the load down from ((?:\d+ min ?)?(?:\d+ s)?) after the start`)
	shapeAtStart  = regexp.MustCompile(`; (\d+) replicas at the start for a floor of (\d+)`)
)

func checkShapeReport(t *testing.T, report string, full int32, peakAfter, duration time.Duration) {
	t.Helper()
	t.Logf("(3) WindowReport %q", report)
	num := func(s string) float64 {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	m := shapePeak.FindStringSubmatch(report)
	if m == nil {
		t.Fatalf("WindowReport %q does not say the spot's peak", report)
	}
	ratio, peak, baseline, toPeak := num(m[1]), num(m[2]), num(m[3]), spanOf(t, m[4])
	if peak < 180 || peak > 215 || baseline < 48 || baseline > 55 || ratio < 3.5 || ratio > 4.3 || toPeak > time.Minute {
		t.Errorf("peak %v for %v (%vx) %s after the start; want about 200 for 50 (4x) within a minute: %s", peak, baseline, ratio, toPeak, report)
	}
	f := shapeFollowed.FindStringSubmatch(report)
	if f == nil {
		t.Fatalf("WindowReport %q does not say the floor followed the load down inside the window (\"the floor followed the load down from \")", report)
	}
	if from := spanOf(t, f[1]); from < peakAfter || from >= duration {
		t.Errorf("the floor followed the load down from %s after the start; want from the group's peak (%s) to the window's end (%s): %s", from, peakAfter, duration, report)
	}
	if a := shapeAtStart.FindStringSubmatch(report); a == nil || num(a[2]) != float64(full) || num(a[1]) < float64(full) {
		t.Errorf("WindowReport %q: want %d replicas at the start for a floor of %d", report, full, full)
	}
	if !strings.Contains(report, "; never above capacity") {
		t.Errorf("WindowReport %q: the load was above capacity, want never", report)
	}
}
