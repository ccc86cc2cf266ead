package actuate

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/policies"
)

// placeholderRig is a fake cluster with storefront/web, a Deployment
// whose pods request 500m CPU and 256Mi in two containers, pinned to
// nodes of pool "web" and tolerating its taint.
func placeholderRig(t *testing.T) (*fake.Clientset, *Placeholders, *record.FakeRecorder) {
	t.Helper()
	spread := []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "topology.kubernetes.io/zone", WhenUnsatisfiable: corev1.ScheduleAnyway,
		LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}}
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "storefront", Name: "web"},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
			Spec: corev1.PodSpec{
				Containers: []corev1.Container{
					{Name: "app", Image: "web:1", Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
						corev1.ResourceCPU: resource.MustParse("400m"), corev1.ResourceMemory: resource.MustParse("200Mi")}}},
					{Name: "proxy", Image: "envoy:1", Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
						corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("56Mi")}}},
				},
				NodeSelector:              map[string]string{"pool": "web"},
				Tolerations:               []corev1.Toleration{{Key: "pool", Value: "web", Effect: corev1.TaintEffectNoSchedule}},
				TopologySpreadConstraints: spread,
			}}}}
	other := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "storefront", Name: "web-abc", Labels: map[string]string{"app": "web"}}}
	client := fake.NewClientset(dep, other)
	n := 0
	client.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		pod := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		if pod.Name == "" {
			n++
			pod.Name = fmt.Sprintf("%s%d", pod.GenerateName, n)
			pod.UID = types.UID("uid-" + pod.Name)
			pod.CreationTimestamp = metav1.NewTime(time.Unix(int64(n), 0))
		}
		return false, nil, nil
	})
	rec := record.NewFakeRecorder(100)
	return client, &Placeholders{Client: client, Recorder: rec}, rec
}

func placeholdersOf(t *testing.T, client *fake.Clientset) []corev1.Pod {
	t.Helper()
	list, err := client.CoreV1().Pods("").List(context.Background(), metav1.ListOptions{LabelSelector: LabelPlaceholderFor})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
	return list.Items
}

// TestPlaceholdersFollowTheReservation: 3 placeholders with the
// workload's summed requests (as limits too), its node selector,
// tolerations and spread, the low PriorityClass and no Service links;
// then 1 as the workload grows; none once the target is gone; the
// workload's own pods are never touched.
func TestPlaceholdersFollowTheReservation(t *testing.T) {
	client, p, rec := placeholderRig(t)
	ctx := context.Background()
	web := ground.Target{Namespace: "storefront", Name: "web", ScaleTargetRef: ground.ScaleTargetRef{Kind: "Deployment", Name: "web"},
		Nodes: &ground.NodesSpec{LeadTime: 6 * time.Minute}}
	res := policies.Reservation{Pods: 3, Window: "tf1-spot", Floor: 20, FloorStart: time.Date(2026, 11, 25, 19, 37, 0, 0, time.UTC)}
	step := func(pods int32, targets ...ground.Target) []corev1.Pod {
		t.Helper()
		res.Pods = pods
		ds := make([]policies.Decision, len(targets))
		for i := range ds {
			ds[i].Reservation = res
		}
		p.Desire(targets, ds)
		if err := p.Reconcile(ctx); err != nil {
			t.Fatal(err)
		}
		return placeholdersOf(t, client)
	}
	pods := step(3, web)
	if len(pods) != 3 {
		t.Fatalf("%d placeholders, want 3", len(pods))
	}
	spec := pods[0].Spec
	c := spec.Containers[0]
	switch {
	case len(spec.Containers) != 1 || c.Image != DefaultPlaceholderImage:
		t.Errorf("containers %+v, want one %s", spec.Containers, DefaultPlaceholderImage)
	case c.Resources.Requests.Cpu().String() != "500m" || c.Resources.Requests.Memory().String() != "256Mi" ||
		c.Resources.Limits.Cpu().String() != "500m" || c.Resources.Limits.Memory().String() != "256Mi":
		t.Errorf("resources %+v, want requests = limits = 500m, 256Mi", c.Resources)
	case spec.PriorityClassName != DefaultPlaceholderPriorityClass || spec.NodeSelector["pool"] != "web" ||
		len(spec.Tolerations) != 1 || len(spec.TopologySpreadConstraints) != 1 || *spec.EnableServiceLinks || *spec.AutomountServiceAccountToken:
		t.Errorf("spec %+v", spec)
	case pods[0].Labels[LabelPlaceholderFor] != "web" || pods[0].Labels["app"] != "" || pods[0].Annotations[AnnotationPlaceholderWindow] != "tf1-spot":
		t.Errorf("metadata %+v: want only the placeholder's labels (never the workload's: its Service would route to it)", pods[0].ObjectMeta)
	}
	if got := <-rec.Events; got != `Normal PlaceholdersCreated 3 placeholder pods reserve nodes for window "tf1-spot": a floor of 20 replicas from 19:37:00 UTC, 3 beyond the workload's` {
		t.Errorf("Event %q", got)
	}
	if pods := step(3, web); len(pods) != 3 {
		t.Errorf("a second reconcile: %d placeholders, want still 3", len(pods))
	}
	if pods := step(1, web); len(pods) != 1 || pods[0].Name != "web-placeholder-1" {
		t.Errorf("the workload grew: %v, want the oldest placeholder only", pods)
	}
	if pods := step(0); len(pods) != 0 {
		t.Errorf("the target gone: %d placeholders left", len(pods))
	}
	if _, err := client.CoreV1().Pods("storefront").Get(ctx, "web-abc", metav1.GetOptions{}); err != nil {
		t.Errorf("the workload's own pod: %v", err)
	}
}

// TestPlaceholdersOfAWorkloadWithoutRequests: nothing to reserve, said
// once on the workload.
func TestPlaceholdersOfAWorkloadWithoutRequests(t *testing.T) {
	client := fake.NewClientset(&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "api"},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "api:1"}}}}}})
	rec := record.NewFakeRecorder(10)
	p := &Placeholders{Client: client, Recorder: rec}
	api := ground.Target{Namespace: "shop", Name: "api", ScaleTargetRef: ground.ScaleTargetRef{Kind: "Deployment", Name: "api"}, Nodes: &ground.NodesSpec{LeadTime: time.Minute}}
	for range 2 {
		p.Desire([]ground.Target{api}, []policies.Decision{{Reservation: policies.Reservation{Pods: 2, Window: "sale"}}})
		if err := p.Reconcile(context.Background()); err == nil {
			t.Fatal("no error for a workload whose pods request nothing")
		}
	}
	if got := <-rec.Events; got != `Warning PlaceholdersFailed cannot reserve nodes for window "sale": the Deployment's pods request no resources: a placeholder would reserve nothing` {
		t.Errorf("Event %q", got)
	}
	if len(rec.Events) != 0 {
		t.Errorf("%d more Events, want the failure said once", len(rec.Events))
	}
}

// TestPrescaleLate: at a window's first cycle on air, 111 ready of a
// floor of 145 records one PrescaleLate Event with the advice; a second
// cycle, a window met 2 minutes after its start (a new leader), or a
// floor that was ready record none.
func TestPrescaleLate(t *testing.T) {
	paris, _ := time.LoadLocation("Europe/Paris")
	start := time.Date(2026, 11, 25, 20, 45, 0, 0, paris)
	w := &ground.Window{Name: "tf1-spot", Location: paris, Duration: 15 * time.Minute, Demand: ground.Demand{Kind: ground.DemandMultiplier, Value: 5}}
	web := ground.Target{Namespace: "storefront", Name: "web", Mode: ground.ModeMetric, LeadTime: 8 * time.Minute,
		ScaleTargetRef: ground.ScaleTargetRef{Kind: "Deployment", Name: "web"}, Nodes: &ground.NodesSpec{LeadTime: 6 * time.Minute}}
	decision := func(at time.Time, win *ground.Window) policies.Decision {
		e := policies.Effect{Occurrence: policies.Occurrence{Window: win, Start: start, End: start.Add(win.Duration)}, Phase: policies.PhaseActive, Replicas: ground.Some[int32](145)}
		return policies.Decision{Target: web.Key(), At: at, Desired: ground.Some[int32](145), By: policies.PolicyWindow,
			Schedule: policies.Schedule{Floor: ground.Some[int32](145), Effects: []policies.Effect{e}}}
	}
	cases := []struct {
		name  string
		ready int32
		at    []time.Duration // cycles after the start
		want  string
	}{
		{"late", 111, []time.Duration{5 * time.Second, 20 * time.Second},
			`Warning PrescaleLate window "tf1-spot": 34 of 145 pods not ready at 20:45 CET: raise leadTime (8m) or nodes.leadTime (6m)`},
		{"ready", 145, []time.Duration{5 * time.Second}, ""},
		{"met after a takeover", 20, []time.Duration{2 * time.Minute}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := record.NewFakeRecorder(10)
			checked := make(chan struct{}, 10)
			a := &Actuator{Recorder: rec, Ready: func(context.Context, *ground.Target) ground.Opt[int32] {
				defer func() { checked <- struct{}{} }()
				return ground.Some(tc.ready)
			}}
			win := *w
			for _, d := range tc.at {
				a.Desire([]ground.Target{web}, []policies.Decision{decision(start.Add(d), &win)})
			}
			if tc.at[0] <= LateCheckSpan {
				select {
				case <-checked:
				case <-time.After(5 * time.Second):
					t.Fatal("the ready replicas were not read")
				}
			}
			var got []string
			for len(rec.Events) > 0 {
				if ev := <-rec.Events; strings.Contains(ev, ReasonPrescaleLate) {
					got = append(got, ev)
				}
			}
			deadline := time.Now().Add(2 * time.Second)
			for tc.want != "" && len(got) == 0 && time.Now().Before(deadline) {
				select {
				case ev := <-rec.Events:
					if strings.Contains(ev, ReasonPrescaleLate) {
						got = append(got, ev)
					}
				case <-time.After(100 * time.Millisecond):
				}
			}
			switch {
			case tc.want == "" && len(got) != 0:
				t.Errorf("Events %q, want no PrescaleLate", got)
			case tc.want != "" && (len(got) != 1 || got[0] != tc.want):
				t.Errorf("Events %q, want exactly %q", got, tc.want)
			}
			if n := len(checked); n != 0 {
				t.Errorf("the ready replicas read %d more times, want once per occurrence", n)
			}
		})
	}
}

// TestRemoveAllPlaceholders: primetime restore deletes every placeholder
// and nothing else.
func TestRemoveAllPlaceholders(t *testing.T) {
	client, p, _ := placeholderRig(t)
	web := ground.Target{Namespace: "storefront", Name: "web", ScaleTargetRef: ground.ScaleTargetRef{Kind: "Deployment", Name: "web"}, Nodes: &ground.NodesSpec{LeadTime: time.Minute}}
	p.Desire([]ground.Target{web}, []policies.Decision{{Reservation: policies.Reservation{Pods: 4, Window: "sale"}}})
	if err := p.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	n, err := RemoveAllPlaceholders(context.Background(), client, "")
	if err != nil || n != 4 {
		t.Fatalf("removed %d, %v; want 4", n, err)
	}
	if left := placeholdersOf(t, client); len(left) != 0 {
		t.Errorf("%d placeholders left", len(left))
	}
	if _, err := client.CoreV1().Pods("storefront").Get(context.Background(), "web-abc", metav1.GetOptions{}); err != nil {
		t.Errorf("the workload's own pod: %v", err)
	}
}

// TestPrescaleReady: a late window's ready replicas are read until they
// reach the floor; then a PrescaleReady Event and the calendar's advice
// give the lead time that would have been enough: ready 41 s after the
// start with an 8 minute lead, 8m + 41 s + 30 s rounded up to the half
// minute: 9m30s.
func TestPrescaleReady(t *testing.T) {
	paris, _ := time.LoadLocation("Europe/Paris")
	start := time.Date(2026, 11, 25, 20, 45, 0, 0, paris)
	w := &ground.Window{Name: "tf1-spot", Location: paris, Duration: 15 * time.Minute, Demand: ground.Demand{Kind: ground.DemandMultiplier, Value: 5}}
	web := ground.Target{Namespace: "storefront", Name: "web", Mode: ground.ModeMetric, LeadTime: 8 * time.Minute,
		ScaleTargetRef: ground.ScaleTargetRef{Kind: "Deployment", Name: "web"}}
	rec := record.NewFakeRecorder(10)
	reads := 0
	clock := start.Add(41 * time.Second)
	type advice struct {
		window       string
		lateBy, lead time.Duration
	}
	got := make(chan advice, 1)
	a := &Actuator{Recorder: rec, LatePoll: time.Millisecond, Clock: func() time.Time { return clock },
		Ready: func(context.Context, *ground.Target) ground.Opt[int32] {
			reads++
			if reads < 3 {
				return ground.Some[int32](111)
			}
			return ground.Some[int32](145)
		},
		Late: func(_ ground.TargetKey, window string, _ time.Time, lateBy, lead time.Duration) {
			got <- advice{window, lateBy, lead}
		}}
	e := policies.Effect{Occurrence: policies.Occurrence{Window: w, Start: start, End: start.Add(w.Duration)}, Phase: policies.PhaseActive, Replicas: ground.Some[int32](145)}
	a.Desire([]ground.Target{web}, []policies.Decision{{Target: web.Key(), At: start.Add(5 * time.Second), Desired: ground.Some[int32](145), By: policies.PolicyWindow,
		Schedule: policies.Schedule{Floor: ground.Some[int32](145), Effects: []policies.Effect{e}}}})
	select {
	case adv := <-got:
		if adv != (advice{"tf1-spot", 41 * time.Second, 9*time.Minute + 30*time.Second}) {
			t.Errorf("advice %+v, want tf1-spot ready 41 s late, 9m30s", adv)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no advice")
	}
	var events []string // PrescaleStarted comes from the cycle, in any order with these
	for len(rec.Events) > 0 {
		if ev := <-rec.Events; !strings.Contains(ev, ReasonPrescaleStarted) {
			events = append(events, ev)
		}
	}
	want := `Normal PrescaleReady window "tf1-spot": the floor of 145 was ready 41s after the start; leadTime 9m30s (now 8m) would have had it ready in time`
	if len(events) != 2 || !strings.Contains(events[0], ReasonPrescaleLate) || events[1] != want {
		t.Errorf("Events %q, want PrescaleLate, then %q", events, want)
	}
}
