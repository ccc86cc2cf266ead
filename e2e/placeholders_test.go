package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/primetime-dev/primetime/e2e/stage"
	"github.com/primetime-dev/primetime/e2e/testbed"
	"github.com/primetime-dev/primetime/policies/config"
	"github.com/primetime-dev/primetime/scaler/actuate"
)

// TestPlaceholders is issue #20's scenario: a target with nodes:
// {leadTime: 1m} and a 4x window (a floor of 20 from 5 replicas) gets
// placeholder pods one minute before its floor starts, with the
// workload's requests, node selector and tolerations and the low
// PriorityClass; they go once the floor is reached. Its pods take 100 s
// to start, longer than the 1 minute lead time: PrescaleLate at the
// window's start. A second window's placeholders go when the target is
// deleted in the middle of its reservation.
func TestPlaceholders(t *testing.T) {
	scenario(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := stage.New(t, ctx, stage.Options{Rate: 50, Startup: 100 * time.Second, Cluster: sharedCluster(t), Namespace: "nodes",
		PodSpec: func(p *corev1.PodSpec) {
			p.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("128Mi")}
			p.NodeSelector = map[string]string{"pool": "web"}
			p.Tolerations = []corev1.Toleration{{Key: "pool", Value: "web", Effect: corev1.TaintEffectNoSchedule}}
		}})
	never := corev1.PreemptNever
	_, err := s.C.Client.SchedulingV1().PriorityClasses().Create(ctx, &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: actuate.DefaultPlaceholderPriorityClass},
		Value: -10, PreemptionPolicy: &never, Description: "primetime's placeholder pods (the chart creates it)"}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	s.Deploy(t, ctx, 5, 2, 50)
	start := time.Now().Add(150 * time.Second).Truncate(time.Second)
	floorStart := start.Add(-time.Minute)
	reserveFrom := floorStart.Add(-time.Minute)
	s.Configure(t, ctx, stage.WebTarget("1m", "metric")+"    nodes: {leadTime: 1m}\n", fmt.Sprintf(`windows:
  - name: tf1-spot
    start: %q
    duration: 1m
    expect: 4x
    targets: [%s/web]
`, start.UTC().Format(time.RFC3339), s.NS))
	pt := s.StartPrimetime(t, "--prometheus-url="+s.Prom.URL, "--interval=5s")

	placeholders := func() []corev1.Pod {
		list, err := s.C.Client.CoreV1().Pods(s.NS).List(ctx, metav1.ListOptions{LabelSelector: actuate.LabelPlaceholderFor + "=web"})
		if err != nil {
			return nil
		}
		return list.Items
	}
	// None before floor start − nodes.leadTime.
	for time.Now().Before(reserveFrom.Add(-3 * time.Second)) {
		if n := len(placeholders()); n != 0 {
			t.Fatalf("%d placeholders %s before the reservation starts", n, time.Until(reserveFrom).Round(time.Second))
		}
		time.Sleep(time.Second)
	}
	// Then the floor's replicas beyond the 5 running: 4 × 50 / 10 = 20
	// (21 when Prometheus reads the usual load a little above 50).
	var pods []corev1.Pod
	testbed.Eventually(t, time.Until(floorStart), time.Second, func() (bool, string) {
		pods = placeholders()
		return len(pods) == 15 || len(pods) == 16, fmt.Sprintf("%d placeholders, want 15 (or 16)", len(pods))
	})
	t.Logf("scenario #20: %d placeholders %s after the reservation started, %s before the floor", len(pods),
		time.Since(reserveFrom).Round(time.Second), time.Until(floorStart).Round(time.Second))
	p := pods[0]
	c := p.Spec.Containers[0]
	switch {
	case p.Spec.PriorityClassName != actuate.DefaultPlaceholderPriorityClass || p.Spec.Priority == nil || *p.Spec.Priority != -10:
		t.Errorf("priority class %q priority %v, want %s at -10", p.Spec.PriorityClassName, p.Spec.Priority, actuate.DefaultPlaceholderPriorityClass)
	case c.Resources.Requests.Cpu().String() != "250m" || c.Resources.Requests.Memory().String() != "128Mi":
		t.Errorf("requests %v, want the workload's 250m and 128Mi", c.Resources.Requests)
	case p.Spec.NodeSelector["pool"] != "web" || len(p.Spec.Tolerations) == 0 || p.Spec.Tolerations[0].Key != "pool":
		t.Errorf("node selector %v, tolerations %v: want the workload's", p.Spec.NodeSelector, p.Spec.Tolerations)
	case p.Labels["app"] != "":
		t.Errorf("labels %v: a placeholder must not carry the workload's (its Service would route to it)", p.Labels)
	}

	// The floor starts: the HPA asks for 20 pods, and the placeholders go.
	testbed.Eventually(t, time.Until(start)+15*time.Second, time.Second, func() (bool, string) {
		n := len(placeholders())
		return n == 0, fmt.Sprintf("%d placeholders after the floor started", n)
	})
	t.Logf("scenario #20: placeholders gone %s after the floor started", time.Since(floorStart).Round(time.Second))

	// The pods take 100 s to start, the lead time is 1 minute: at the
	// window's start the floor is not ready.
	late := regexp.MustCompile(`^window "tf1-spot": (\d+) of (\d+) pods not ready at \d\d:\d\d UTC: raise leadTime \(1m\) or nodes.leadTime \(1m\)$`)
	var msg string
	if n := len(eventsOf(ctx, s, actuate.ReasonPrescaleLate)); n != 0 {
		t.Errorf("%d PrescaleLate Events before the window started", n)
	}
	testbed.Eventually(t, time.Until(start)+45*time.Second, time.Second, func() (bool, string) {
		ev := eventsOf(ctx, s, actuate.ReasonPrescaleLate)
		if len(ev) > 0 {
			msg = ev[0].Message
		}
		return len(ev) == 1 && late.MatchString(msg), fmt.Sprintf("%d PrescaleLate Events: %q", len(ev), msg)
	})
	t.Logf("scenario #20: PrescaleLate %q", msg)
	// Once the pods are ready (100 s after the floor started, 40 s after
	// the window's start, give or take the HPA's sync), the lead time that
	// would have been enough: 1m + the delay + 30 s, to the half minute.
	ready := regexp.MustCompile(`^window "tf1-spot": the floor of \d+ was ready (\S+) after the start; leadTime (\S+) \(now 1m\) would have had it ready in time$`)
	testbed.Eventually(t, 2*time.Minute, time.Second, func() (bool, string) {
		ev := eventsOf(ctx, s, actuate.ReasonPrescaleReady)
		if len(ev) > 0 {
			msg = ev[0].Message
		}
		return len(ev) == 1 && ready.MatchString(msg), fmt.Sprintf("%d PrescaleReady Events: %q", len(ev), msg)
	})
	m := ready.FindStringSubmatch(msg)
	lateBy, err := time.ParseDuration(m[1])
	if err != nil {
		t.Fatal(err)
	}
	if lateBy < 30*time.Second || lateBy > 90*time.Second {
		t.Errorf("ready %s after the start, want 30-90 s (pods take 100 s, the floor started 60 s before the window)", lateBy)
	}
	if want := config.FormatDuration(actuate.SuggestedLeadTime(time.Minute, lateBy)); m[2] != want {
		t.Errorf("suggested leadTime %s, want %s", m[2], want)
	}
	t.Logf("scenario #20: PrescaleReady %q", msg)

	// Before the next spot an SRE plans with what serve saw: the
	// ConfigMaps as kubectl gives them, and serve's /reports.
	dir := t.TempDir()
	targetsFile := testbed.WriteFile(t, dir, "targets.yaml", []byte(kubectl(t, s.C, nil, "-n", s.NS, "get", "configmap", "primetime-targets", "-o", "yaml")))
	windowsFile := testbed.WriteFile(t, dir, "windows.yaml", []byte(kubectl(t, s.C, nil, "-n", s.NS, "get", "configmap", "tv-spots", "-o", "yaml")))
	plan, err := exec.Command(stage.Binary(t), "plan", "--targets", targetsFile, "--windows", windowsFile, "--reports", "http://"+pt.MetricsAddr+"/reports").CombinedOutput()
	if err != nil {
		t.Fatalf("plan --reports: %v\n%s", err, plan)
	}
	advice := fmt.Sprintf("  lead time: tf1-spot on %s was ready %s late: a leadTime of %s (now 1m) would have had it ready in time\n",
		start.UTC().Format("Mon 2 Jan 15:04 MST"), m[1], m[2])
	if !strings.Contains(string(plan), advice) {
		t.Errorf("plan --reports does not say:\n%s\nit says:\n%s", advice, plan)
	}
	t.Logf("scenario #20: plan --reports says %q", strings.TrimSpace(advice))

	// A second window: placeholders again, then the target deleted in the
	// middle of the reservation takes them away.
	start2 := time.Now().Add(2*time.Minute + 20*time.Second).Truncate(time.Second)
	cms := s.C.Client.CoreV1().ConfigMaps(s.NS)
	cm, err := cms.Get(ctx, "tv-spots", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["spots.yaml"] += fmt.Sprintf(`  - name: m6-spot
    start: %q
    duration: 1m
    expect: 8x
    targets: [%s/web]
`, start2.UTC().Format(time.RFC3339), s.NS)
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	testbed.Eventually(t, time.Until(start2.Add(-time.Minute)), time.Second, func() (bool, string) {
		n := len(placeholders())
		return n > 0, fmt.Sprintf("%d placeholders for the second window", n)
	})
	if err := cms.Delete(ctx, "primetime-targets", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	deleted := time.Now()
	testbed.Eventually(t, 30*time.Second, time.Second, func() (bool, string) {
		n := len(placeholders())
		return n == 0, fmt.Sprintf("%d placeholders after the target was deleted", n)
	})
	t.Logf("scenario #20: placeholders gone %s after the target was deleted mid-reservation", time.Since(deleted).Round(time.Second))
}
