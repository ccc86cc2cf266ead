package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/primetime-dev/primetime/e2e/stage"
	"github.com/primetime-dev/primetime/e2e/testbed"
	"github.com/primetime-dev/primetime/policies/config"
	"github.com/primetime-dev/primetime/scaler/actuate"
	"github.com/primetime-dev/primetime/scaler/configwatch"
)

// floorTarget is an hpa-floor target on the web Deployment whose own
// minReplicas (6) makes a window's step-down one step from a floor of 8.
const floorTarget = `targets:
  - name: web
    scaleTargetRef: {kind: Deployment, name: web}
    load: {prometheus: 'up'}
    capacityPerReplica: 10
    minReplicas: 6
    maxReplicas: 50
    leadTime: 30s
    mode: hpa-floor
%s`

// floorWindow is a window of 8 replicas from start (a floor from 30 s
// before it, 1 minute long, no cooldown).
func floorWindow(ns string, start time.Time) string {
	return fmt.Sprintf(`windows:
  - name: newsletter
    start: %q
    duration: 1m
    cooldown: 0s
    replicas: 8
    targets: [%s/web]
`, start.UTC().Format(time.RFC3339), ns)
}

// hpaState reads the web HPA's minReplicas and primetime's annotations.
func hpaState(ctx context.Context, s *stage.Stage) (int32, map[string]string) {
	h, err := s.C.Client.AutoscalingV2().HorizontalPodAutoscalers(s.NS).Get(ctx, "web", metav1.GetOptions{})
	if err != nil || h.Spec.MinReplicas == nil {
		return 0, nil
	}
	ann := map[string]string{}
	for k, v := range h.Annotations {
		if strings.HasPrefix(k, "primetime.dev/") {
			ann[k] = v
		}
	}
	return *h.Spec.MinReplicas, ann
}

// eventsOf lists the Events of a reason in the stage's namespace.
func eventsOf(ctx context.Context, s *stage.Stage, reason string) []corev1.Event {
	list, err := s.C.Client.CoreV1().Events(s.NS).List(ctx, metav1.ListOptions{FieldSelector: "reason=" + reason})
	if err != nil {
		return nil
	}
	return list.Items
}

// TestSREEditDuringAWindow: an SRE raises minReplicas by hand during a
// window (an incident); primetime keeps it during the window and after it.
func TestSREEditDuringAWindow(t *testing.T) {
	scenario(t)
	ctx := context.Background()
	s := stage.Bare(t, sharedCluster(t), "sre-edit")
	s.Deploy(t, ctx, 3, 3, 50)
	start := time.Now().Add(45 * time.Second).Truncate(time.Second)
	s.Configure(t, ctx, fmt.Sprintf(floorTarget, ""), floorWindow(s.NS, start))
	s.StartPrimetime(t, "--prometheus-url=http://127.0.0.1:1", "--interval=5s")
	testbed.Eventually(t, time.Until(start), time.Second, func() (bool, string) {
		m, ann := hpaState(ctx, s)
		return m == 8, fmt.Sprintf("minReplicas %d %v, waiting for the floor of 8", m, ann)
	})
	hpas := s.C.Client.AutoscalingV2().HorizontalPodAutoscalers(s.NS)
	h, err := hpas.Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	twenty := int32(20)
	h.Spec.MinReplicas = &twenty
	if _, err := hpas.Update(ctx, h, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	edited := time.Now()
	// Through the window, the step-down and two minutes more.
	end := start.Add(time.Minute + 2*time.Minute + 30*time.Second)
	for time.Now().Before(end) {
		if m, ann := hpaState(ctx, s); m != 20 {
			t.Fatalf("minReplicas %d %s after the SRE set 20 (annotations %v)", m, time.Since(edited).Round(time.Second), ann)
		}
		time.Sleep(2 * time.Second)
	}
	if _, ann := hpaState(ctx, s); len(ann) != 0 {
		t.Errorf("annotations left after the window: %v", ann)
	}
	ev := eventsOf(ctx, s, actuate.ReasonPrescaleOverridden)
	if len(ev) != 1 || !strings.Contains(ev[0].Message, "minReplicas of HPA "+s.NS+"/web was changed by someone else to 20: primetime keeps it") {
		t.Errorf("PrescaleOverridden Events: %v", ev)
	}
	t.Logf("scenario 15a: the SRE's minReplicas 20 kept from %s during the window to %s after it", edited.Format(time.TimeOnly), time.Now().Format(time.TimeOnly))
}

// TestTargetDeletedMidWindow: the targets ConfigMap is deleted while the
// floor is up; the HPA gets its own minReplicas back within two cycles.
func TestTargetDeletedMidWindow(t *testing.T) {
	scenario(t)
	ctx := context.Background()
	s := stage.Bare(t, sharedCluster(t), "target-deleted")
	s.Deploy(t, ctx, 3, 3, 50)
	start := time.Now().Add(45 * time.Second).Truncate(time.Second)
	s.Configure(t, ctx, fmt.Sprintf(floorTarget, ""), floorWindow(s.NS, start))
	s.StartPrimetime(t, "--prometheus-url=http://127.0.0.1:1", "--interval=5s")
	testbed.Eventually(t, time.Until(start), time.Second, func() (bool, string) {
		m, ann := hpaState(ctx, s)
		return m == 8, fmt.Sprintf("minReplicas %d %v, waiting for the floor of 8", m, ann)
	})
	if err := s.C.Client.CoreV1().ConfigMaps(s.NS).Delete(ctx, "primetime-targets", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	deleted := time.Now()
	testbed.Eventually(t, 10*time.Second+2*time.Second, 250*time.Millisecond, func() (bool, string) {
		m, ann := hpaState(ctx, s)
		return m == 3 && len(ann) == 0, fmt.Sprintf("minReplicas %d, annotations %v", m, ann)
	})
	t.Logf("scenario 15b: minReplicas 3 restored and the annotations gone %s after the targets ConfigMap was deleted (two 5 s cycles: 10 s)",
		time.Since(deleted).Round(100*time.Millisecond))
	// Events reach the API server asynchronously (client-go's broadcaster):
	// wait for the one the restore records.
	testbed.Eventually(t, 10*time.Second, 250*time.Millisecond, func() (bool, string) {
		ev := eventsOf(ctx, s, actuate.ReasonPrescaleRestored)
		return len(ev) >= 1, fmt.Sprintf("%d PrescaleRestored Events", len(ev))
	})
	if ev := eventsOf(ctx, s, actuate.ReasonPrescaleRestored); len(ev) != 1 {
		t.Errorf("%d PrescaleRestored Events, want 1", len(ev))
	}
}

// TestTwoTargetsOnOneWorkload: a second hpa-floor target on the same
// Deployment, in a younger ConfigMap, is rejected naming both; the HPA is
// raised once, with no flapping.
func TestTwoTargetsOnOneWorkload(t *testing.T) {
	scenario(t)
	ctx := context.Background()
	s := stage.Bare(t, sharedCluster(t), "two-targets")
	s.Deploy(t, ctx, 3, 3, 50)
	start := time.Now().Add(40 * time.Second).Truncate(time.Second)
	s.Configure(t, ctx, fmt.Sprintf(floorTarget, ""), floorWindow(s.NS, start))
	second := strings.Replace(fmt.Sprintf(floorTarget, ""), "name: web\n", "name: web-again\n", 1)
	time.Sleep(time.Second) // a younger ConfigMap: creation times have a one-second resolution
	if _, err := s.C.Client.CoreV1().ConfigMaps(s.NS).Create(ctx, stage.ConfigMap(s.NS, "more-targets", config.LabelTargets, "targets.yaml", second), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pt := s.StartPrimetime(t, "--prometheus-url=http://127.0.0.1:1", "--interval=5s")
	var seen []int32
	for end := start.Add(20 * time.Second); time.Now().Before(end); time.Sleep(500 * time.Millisecond) {
		if m, _ := hpaState(ctx, s); len(seen) == 0 || seen[len(seen)-1] != m {
			seen = append(seen, m)
		}
	}
	if fmt.Sprint(seen) != "[3 8]" {
		t.Errorf("minReplicas went %v, want [3 8]: raised once, no flapping", seen)
	}
	ev := eventsOf(ctx, s, configwatch.ReasonInvalidEntry)
	var msgs []string
	for _, e := range ev {
		msgs = append(msgs, e.InvolvedObject.Name+": "+e.Message)
	}
	want := "more-targets: target \"web-again\": scaleTargetRef: Deployment " + s.NS + "/web is already driven by hpa-floor target " + s.NS + "/web (ConfigMap " + s.NS + "/primetime-targets); one workload takes one hpa-floor or scale target"
	if !strings.Contains(strings.Join(msgs, "\n"), want) || len(msgs) != 2 {
		t.Errorf("InvalidEntry Events:\n%s\nwant 2, one of them:\n%s", strings.Join(msgs, "\n"), want)
	}
	if v, ok := pt.Metric("primetime_config_entries", `kind="targets"`, `state="invalid"`); !ok || v != 1 {
		t.Errorf("primetime_config_entries{kind=targets,state=invalid} = %v %v, want 1", v, ok)
	}
}

// TestDryRun: a dryRun target's HPA is never written; its Events say what
// would have been.
func TestDryRun(t *testing.T) {
	scenario(t)
	ctx := context.Background()
	s := stage.Bare(t, sharedCluster(t), "dry-run")
	s.Deploy(t, ctx, 3, 3, 50)
	start := time.Now().Add(40 * time.Second).Truncate(time.Second)
	s.Configure(t, ctx, fmt.Sprintf(floorTarget, "    dryRun: true\n"), floorWindow(s.NS, start))
	pt := s.StartPrimetime(t, "--prometheus-url=http://127.0.0.1:1", "--interval=5s")
	want := "dry run of target " + s.NS + "/web: would set minReplicas from 3 to 8 of HPA " + s.NS + "/web; nothing written"
	testbed.Eventually(t, time.Until(start), time.Second, func() (bool, string) {
		ev := eventsOf(ctx, s, actuate.ReasonDryRun)
		return len(ev) == 1 && ev[0].Message == want, fmt.Sprintf("DryRun Events %v", ev)
	})
	for end := start.Add(30 * time.Second); time.Now().Before(end); time.Sleep(2 * time.Second) {
		if m, ann := hpaState(ctx, s); m != 3 || len(ann) != 0 {
			t.Fatalf("a dry run wrote the HPA: minReplicas %d, annotations %v", m, ann)
		}
	}
	if v, ok := pt.Metric("primetime_target_replicas", `kind="floor"`, `target="web"`); !ok || v != 8 {
		t.Errorf("the floor a dry run decides is not exported: %v %v", v, ok)
	}
	if n, _ := pt.Metric("primetime_writes_total", `kind="hpa"`, `outcome="success"`); n != 0 {
		t.Errorf("primetime_writes_total{kind=hpa,outcome=success} = %v in a dry run", n)
	}
}

// TestRestoreAfterUninstall: primetime dies mid-window (SIGKILL: it
// restores nothing itself) with an HPA's floor raised; `primetime restore`,
// what the chart's pre-delete hook runs, gives the HPA its minReplicas
// back and removes the annotations; run again, it finds nothing.
func TestRestoreAfterUninstall(t *testing.T) {
	scenario(t)
	ctx := context.Background()
	s := stage.Bare(t, sharedCluster(t), "uninstall")
	s.Deploy(t, ctx, 3, 3, 50)
	start := time.Now().Add(40 * time.Second).Truncate(time.Second)
	s.Configure(t, ctx, fmt.Sprintf(floorTarget, ""), floorWindow(s.NS, start))
	pt := s.StartPrimetime(t, "--prometheus-url=http://127.0.0.1:1", "--interval=5s")
	testbed.Eventually(t, time.Until(start), time.Second, func() (bool, string) {
		m, ann := hpaState(ctx, s)
		return m == 8, fmt.Sprintf("minReplicas %d %v, waiting for the floor of 8", m, ann)
	})
	pt.Kill()
	restore := func() string {
		t.Helper()
		out, err := exec.CommandContext(ctx, stage.Binary(t), "restore", "--kubeconfig="+s.C.Kubeconfig, "--namespaces="+s.NS).CombinedOutput()
		if err != nil {
			t.Fatalf("primetime restore: %v\n%s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	// The last lines: what it restored, then the placeholder pods it
	// removed (none here).
	began := time.Now()
	if got, want := restore(), "restored 1 objects primetime had written\nremoved 0 placeholder pods"; !strings.HasSuffix(got, want) {
		t.Errorf("primetime restore said %q, want it to end with %q", got, want)
	}
	took := time.Since(began)
	if m, ann := hpaState(ctx, s); m != 3 || len(ann) != 0 {
		t.Errorf("after primetime restore: minReplicas %d, annotations %v; want 3 and none", m, ann)
	}
	if got, want := restore(), "restored 0 objects primetime had written\nremoved 0 placeholder pods"; !strings.HasSuffix(got, want) {
		t.Errorf("primetime restore run again said %q, want it to end with %q", got, want)
	}
	t.Logf("scenario 15g: primetime restore gave minReplicas 3 back in %s, annotations removed; a second run found nothing", took.Round(10*time.Millisecond))
}
