package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/primetime-dev/primetime/e2e/stage"
	"github.com/primetime-dev/primetime/e2e/testbed"
	"github.com/primetime-dev/primetime/policies/config"
)

// TestFleetFloorStart: a `*` window over 1,000 hpa-floor targets. From the
// floor's start, every HPA must carry its floor within 60 s, at the
// default --kube-api-qps of 20 (a control plane of its own: 1,000 HPAs
// would load the shared one's HPA controller).
func TestFleetFloorStart(t *testing.T) {
	scenario(t)
	const n = 1000
	ctx := context.Background()
	c := testbed.StartCluster(t, testbed.ClusterOptions{})
	c.Namespace(t, "fleet", nil)
	hpas := c.Client.AutoscalingV2().HorizontalPodAutoscalers("fleet")
	var targets strings.Builder
	targets.WriteString("targets:\n")
	two := int32(2)
	for i := range n {
		name := fmt.Sprintf("app-%d", i)
		h := &autoscalingv2.HorizontalPodAutoscaler{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "fleet"},
			Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
				ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: name},
				MinReplicas:    &two, MaxReplicas: 50,
			},
		}
		if _, err := hpas.Create(ctx, h, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&targets, "  - {name: %s, scaleTargetRef: {kind: Deployment, name: %s}, load: {prometheus: up}, capacityPerReplica: 10, maxReplicas: 50, leadTime: 30s, mode: hpa-floor}\n", name, name)
	}
	floorStart := time.Now().Add(40 * time.Second).Truncate(time.Second)
	windows := fmt.Sprintf("windows:\n  - {name: sale, start: %q, duration: 5m, replicas: 5, targets: [\"*\"]}\n", floorStart.Add(30*time.Second).UTC().Format(time.RFC3339))
	cms := c.Client.CoreV1().ConfigMaps("fleet")
	if _, err := cms.Create(ctx, stage.ConfigMap("fleet", "targets", config.LabelTargets, "targets.yaml", targets.String()), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cms.Create(ctx, stage.ConfigMap("fleet", "sale", config.LabelWindows, "sale.yaml", windows), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pt := stage.StartPrimetime(t, c, "--prometheus-url=http://127.0.0.1:1", "--interval=5s")
	var raised int
	testbed.Eventually(t, time.Until(floorStart)+90*time.Second, time.Second, func() (bool, string) {
		list, err := hpas.List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		raised = 0
		for _, h := range list.Items {
			if *h.Spec.MinReplicas == 5 {
				raised++
			}
		}
		return raised == n, fmt.Sprintf("%d of %d HPAs carry the floor %s after it started", raised, n, time.Since(floorStart).Round(time.Second))
	})
	took := time.Since(floorStart)
	events, _ := pt.Metric("primetime_events_total", `reason="PrescaleStarted"`, `outcome="summarised"`)
	t.Logf("scenario 15e: all %d HPAs carried the floor %s after it started (goal 60 s); %v PrescaleStarted Events summarised", n, took.Round(100*time.Millisecond), events)
	if took > 60*time.Second {
		t.Errorf("%s from the floor's start until all %d HPAs carried it, more than 60 s", took.Round(100*time.Millisecond), n)
	}
}

// TestTenThousandTargets measures the daemon with 10,000 metric-mode
// targets and 50 windows on a real API server: its resident memory, its
// /metrics, and the evaluation time (figures for docs/performance.md).
func TestTenThousandTargets(t *testing.T) {
	scenario(t)
	runApart(t)
	const n, perConfigMap = 10000, 1000
	ctx := context.Background()
	c := testbed.StartCluster(t, testbed.ClusterOptions{})
	prom := testbed.StartPrometheus(t, testbed.PrometheusOptions{})
	for ns := range 10 {
		c.Namespace(t, fmt.Sprintf("shop-%d", ns), nil)
	}
	for cm := range n / perConfigMap {
		var b strings.Builder
		b.WriteString("targets:\n")
		for i := range perConfigMap {
			k := cm*perConfigMap + i
			fmt.Fprintf(&b, "  - {name: app-%d, namespace: shop-%d, scaleTargetRef: {kind: Deployment, name: app-%d}, load: {prometheus: 'vector(%d)'}, capacityPerReplica: 10, maxReplicas: 300, leadTime: 1m}\n", k, k%10, k, 100+k%50)
		}
		if _, err := c.Client.CoreV1().ConfigMaps("shop-0").Create(ctx, stage.ConfigMap("shop-0", fmt.Sprintf("targets-%d", cm), config.LabelTargets, "targets.yaml", b.String()), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var w strings.Builder
	w.WriteString("windows:\n")
	now := time.Now().UTC()
	for i := range 50 {
		sel := fmt.Sprintf("shop-%d/*", i%10)
		if i%10 == 9 {
			sel = "*"
		}
		// Floors start one after another while the daemon runs (a minute
		// of lead), from its first minute on.
		fmt.Fprintf(&w, "  - {name: w-%d, start: %q, duration: 2h, expect: %dx, targets: [%q]}\n", i, now.Add(2*time.Minute+time.Duration(i)*2*time.Second).Format(time.RFC3339), 2+i%3, sel)
	}
	if _, err := c.Client.CoreV1().ConfigMaps("shop-0").Create(ctx, stage.ConfigMap("shop-0", "windows", config.LabelWindows, "w.yaml", w.String()), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	profiles := os.Getenv("PRIMETIME_E2E_PROFILE") // a directory for the heap profile
	args := []string{"--prometheus-url=" + prom.URL, "--interval=5s"}
	if profiles != "" {
		args = append(args, "--metrics-pprof")
	}
	pt := stage.StartPrimetime(t, c, args...)
	testbed.Eventually(t, 2*time.Minute, time.Second, func() (bool, string) {
		v, ok := pt.Metric("primetime_config_entries", `kind="targets"`, `state="valid"`)
		return ok && v == n, fmt.Sprintf("%v targets loaded", v)
	})
	// Past the floors' starts (1 to 2.6 minutes after now), twelve cycles more.
	testbed.Eventually(t, 5*time.Minute, time.Second, func() (bool, string) {
		_, ok := pt.Metric("primetime_window_targets", `window="w-49"`)
		return ok, "the last window's floor has not started"
	})
	first, _ := pt.Metric("primetime_evaluation_duration_seconds_count")
	testbed.Eventually(t, 3*time.Minute, time.Second, func() (bool, string) {
		c, _ := pt.Metric("primetime_evaluation_duration_seconds_count")
		return c >= first+12, fmt.Sprintf("%.0f cycles since every floor started", c-first)
	})
	cycles, _ := pt.Metric("primetime_evaluation_duration_seconds_count")
	total, _ := pt.Metric("primetime_evaluation_duration_seconds_sum")
	resp, err := http.Get("http://" + pt.MetricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	series := 0
	for _, line := range strings.Split(string(body), "\n") {
		if line != "" && !strings.HasPrefix(line, "#") {
			series++
		}
	}
	rss := rssOf(t, pt.Pid())
	if status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pt.Pid())); err == nil {
		for _, line := range strings.Split(string(status), "\n") {
			if strings.HasPrefix(line, "Rss") {
				t.Log(strings.Join(strings.Fields(line), " "))
			}
		}
	}
	if profiles != "" {
		for _, p := range []string{"heap", "allocs"} {
			if resp, err := http.Get("http://" + pt.MetricsAddr + "/debug/pprof/" + p); err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				_ = os.WriteFile(filepath.Join(profiles, p+".pb.gz"), b, 0o644)
			}
		}
		_ = os.WriteFile(filepath.Join(profiles, "metrics.txt"), body, 0o644)
	}
	t.Logf("scenario 15f: 10,000 targets, 50 windows: %.0f cycles, %.1f ms per evaluation (mean); RSS %.0f MiB; /metrics %.1f MB, %d series",
		cycles, 1000*total/cycles, float64(rss)/(1<<20), float64(len(body))/1e6, series)
	// The goal is 150 MiB (issue #15), not met: about 90 MiB of the RSS are
	// the binary's own pages (RssFile above). This bound catches a
	// regression to what the state handover and the client_golang series
	// cost before (380 MiB). It was 256 MiB until issues #18 and #20 added
	// per-occurrence traffic, learning and reservations: 234-238 MiB
	// before them, 260-288 MiB after (RssAnon 152 -> 177 MiB), measured in
	// five runs on 2026-12-03, 236 MiB once latches and report builders
	// stopped doubling (docs/performance.md); 335 MiB alone with learned
	// shapes until the ready replicas stopped resolving each target's
	// kind at every cycle, 261 MiB after (2026-12-07). The bound is for the
	// suite as CI runs it, the other scenarios sharing the 2 cores: there
	// the collector lets the heap grow further between cycles, 297-309 MiB
	// (RssAnon 220 MiB) in two clean-clone runs on 2026-12-08 against
	// 261-284 MiB alone. 340 MiB still catches both regressions above (335
	// MiB alone, about 360 beside the others; 380 MiB).
	if rss > 340<<20 {
		t.Errorf("RSS %.0f MiB with 10,000 targets, more than 340 MiB", float64(rss)/(1<<20))
	}
	// The time of a cycle is the benchmark's (BenchmarkEngineCycleWithActuation):
	// here the other scenarios share the 2 cores (118 ms alone, 444 ms
	// beside them in one run). What a user would notice is a daemon that
	// cannot keep up with its 5 s interval.
	if mean := total / cycles; cycles < 5 || mean > 2.5 {
		t.Errorf("%.0f cycles of %.0f ms on average: the daemon cannot keep up with its 5 s interval", cycles, 1000*mean)
	}
}

// rssOf reads a process's resident memory.
func rssOf(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmRSS")
	return 0
}
