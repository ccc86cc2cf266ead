package actuate

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/policies"
)

func target(mode ground.Mode) *ground.Target {
	return &ground.Target{Name: "web", Namespace: "shop", Mode: mode, MinReplicas: 2, MaxReplicas: 300, CapacityPerReplica: 50,
		ScaleTargetRef: ground.ScaleTargetRef{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"}, Behavior: ground.DefaultBehavior}
}

var spot = &ground.Window{Name: "tf1-spot", Demand: ground.Demand{Kind: ground.DemandMultiplier, Value: 5},
	Origin: ground.Origin{File: "shop/tv-spots[spots.yaml]", Line: 3}}

var quietNight = &ground.Window{Name: "staging-nights", Quiet: true, Demand: ground.Demand{Kind: ground.DemandReplicas, Value: 0},
	Origin: ground.Origin{File: "shop/nights[nights.yaml]", Line: 3}}

var t0 = time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)

// decision returns a decision with a window floor (0: none) and desired replicas.
func decision(t *ground.Target, floor, desired int32, observed bool) *policies.Decision {
	d := &policies.Decision{Target: t.Key(), At: t0, Desired: ground.Some(desired), By: policies.PolicyTracking}
	if observed {
		d.Load.Observed = ground.Some(float64(desired) * 50)
	}
	if floor > 0 {
		d.By = policies.PolicyWindow
		d.Schedule = policies.Schedule{Floor: ground.Some(floor), Effects: []policies.Effect{{
			Occurrence: policies.Occurrence{Window: spot, Start: time.Date(2026, 11, 25, 20, 45, 0, 0, time.UTC)},
			Phase:      policies.PhaseLead, Replicas: ground.Some(floor)}}}
	}
	return d
}

// capped returns a decision under a quiet window's cap.
func capped(t *ground.Target, limit, desired int32, observed bool) *policies.Decision {
	d := decision(t, 0, desired, observed)
	d.By = policies.PolicyQuietCap
	d.Schedule = policies.Schedule{Cap: ground.Some(limit), Effects: []policies.Effect{{
		Occurrence: policies.Occurrence{Window: quietNight, Start: t0}, Phase: policies.PhaseQuiet, Replicas: ground.Some(limit)}}}
	return d
}

type hpaRig struct {
	client  *fake.Clientset
	indexer cache.Indexer
	rec     *record.FakeRecorder
	logs    *observer.ObservedLogs
}

func newHPARig(t *testing.T, minReplicas int32, annotations map[string]string) *hpaRig {
	t.Helper()
	hpa := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", Annotations: annotations, ResourceVersion: "1"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
			MinReplicas:    &minReplicas, MaxReplicas: 150,
		},
		Status: autoscalingv2.HorizontalPodAutoscalerStatus{CurrentReplicas: 7},
	}
	r := &hpaRig{client: fake.NewClientset(hpa), rec: record.NewFakeRecorder(1000),
		indexer: cache.NewIndexer(cache.MetaNamespaceKeyFunc, HPAIndexers())}
	r.sync(t)
	return r
}

// sync plays the informer: it copies the HPAs from the API into the
// index, giving each a new resourceVersion when it changed, as the API
// server does.
func (r *hpaRig) sync(t *testing.T) {
	t.Helper()
	list, err := r.client.AutoscalingV2().HorizontalPodAutoscalers("shop").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range list.Items {
		h := &list.Items[i]
		if old, ok, _ := r.indexer.Get(h); ok {
			o := old.(*autoscalingv2.HorizontalPodAutoscaler)
			h.ResourceVersion = o.ResourceVersion
			if fmt.Sprint(o.Spec, o.Annotations) != fmt.Sprint(h.Spec, h.Annotations) {
				h.ResourceVersion += "1"
			}
		}
		if err := r.indexer.Update(h); err != nil {
			t.Fatal(err)
		}
	}
}

// actuator returns a fresh actuator, as after a restart.
func (r *hpaRig) actuator() *Actuator {
	core, logs := observer.New(zap.InfoLevel)
	r.logs = logs
	return &Actuator{Client: r.client, HPAs: HPAIndexOf(r.indexer), Recorder: r.rec, Log: zap.New(core)}
}

func (r *hpaRig) hpa(t *testing.T) *autoscalingv2.HorizontalPodAutoscaler {
	t.Helper()
	h, err := r.client.AutoscalingV2().HorizontalPodAutoscalers("shop").Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// edit changes the HPA as a person would (kubectl edit).
func (r *hpaRig) edit(t *testing.T, fn func(h *autoscalingv2.HorizontalPodAutoscaler)) {
	t.Helper()
	h := r.hpa(t)
	fn(h)
	if _, err := r.client.AutoscalingV2().HorizontalPodAutoscalers("shop").Update(context.Background(), h, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	r.sync(t)
}

// cycle hands one cycle's decisions (one per target) to the actuator and
// carries them out.
func (r *hpaRig) cycle(t *testing.T, a *Actuator, targets []ground.Target, decisions ...*policies.Decision) {
	t.Helper()
	ds := make([]policies.Decision, len(decisions))
	for i, d := range decisions {
		ds[i] = *d
	}
	a.Desire(targets, ds)
	if err := a.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	r.sync(t)
}

func (r *hpaRig) act(t *testing.T, a *Actuator, tg *ground.Target, d *policies.Decision) {
	t.Helper()
	r.cycle(t, a, []ground.Target{*tg}, d)
}

// writes counts the write requests made so far.
func (r *hpaRig) writes() int {
	n := 0
	for _, a := range r.client.Actions() {
		switch a.GetVerb() {
		case "patch", "update", "create", "delete":
			n++
		}
	}
	return n
}

func events(r *record.FakeRecorder) []string {
	var out []string
	for {
		select {
		case e := <-r.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

func minOf(h *autoscalingv2.HorizontalPodAutoscaler) int32 { return *h.Spec.MinReplicas }

func TestHPAFloorRaisesStepsAndRestores(t *testing.T) {
	r := newHPARig(t, 3, nil)
	tg := target(ground.ModeHPAFloor)
	a := r.actuator()

	if got := a.Current(tg); got != ground.Some[int32](7) {
		t.Errorf("current replicas from the HPA's status: %v", got)
	}
	r.act(t, a, tg, decision(tg, 0, 5, true))
	if h := r.hpa(t); minOf(h) != 3 || h.Annotations[AnnotationOriginalMin] != "" {
		t.Fatalf("no window: the HPA must be untouched, got min %d %v", minOf(h), h.Annotations)
	}

	r.act(t, a, tg, decision(tg, 100, 100, true))
	h := r.hpa(t)
	if minOf(h) != 100 || h.Annotations[AnnotationOriginalMin] != "3" || h.Annotations[AnnotationWrittenMin] != "100" || h.Annotations[AnnotationTarget] != "shop/web" {
		t.Fatalf("floor 100: min %d, annotations %v; want 100, the original 3, written 100 and the target", minOf(h), h.Annotations)
	}
	if ev := events(r.rec); len(ev) != 1 || !strings.HasPrefix(ev[0], "Normal PrescaleStarted window \"tf1-spot\"") {
		t.Errorf("events: %v", ev)
	}

	// The floor is above the HPA's maxReplicas (150): it stops there.
	r.act(t, a, tg, decision(tg, 200, 200, true))
	if h := r.hpa(t); minOf(h) != 150 {
		t.Errorf("floor 200 with maxReplicas 150: min %d", minOf(h))
	}
	// Step-down follows the floor.
	r.act(t, a, tg, decision(tg, 83, 83, true))
	if h := r.hpa(t); minOf(h) != 83 || h.Annotations[AnnotationOriginalMin] != "3" {
		t.Errorf("step-down: min %d, annotation %q", minOf(h), h.Annotations[AnnotationOriginalMin])
	}

	// A restart: a new actuator knows nothing but the annotations.
	a = r.actuator()
	r.act(t, a, tg, decision(tg, 0, 20, true))
	h = r.hpa(t)
	if minOf(h) != 3 {
		t.Fatalf("after a restart the original min 3 must be restored, got %d", minOf(h))
	}
	for _, k := range managedKeys {
		if _, ok := h.Annotations[k]; ok {
			t.Errorf("annotation %s must go once restored: %v", k, h.Annotations)
		}
	}
}

func TestHPAFloorNeverLowersTheUsersMin(t *testing.T) {
	r := newHPARig(t, 50, nil)
	tg := target(ground.ModeHPAFloor)
	r.act(t, r.actuator(), tg, decision(tg, 20, 50, true))
	if h := r.hpa(t); minOf(h) != 50 || h.Annotations[AnnotationOriginalMin] != "" {
		t.Errorf("a floor below the user's min changes nothing: min %d, %v", minOf(h), h.Annotations)
	}
}

func TestHPAFloorWithoutHPA(t *testing.T) {
	r := newHPARig(t, 3, nil)
	tg := target(ground.ModeHPAFloor)
	tg.ScaleTargetRef.Name = "cart"
	a := r.actuator()
	r.act(t, a, tg, decision(tg, 10, 10, true))
	r.act(t, a, tg, decision(tg, 10, 10, true))
	got := r.logs.FilterMessage("cannot act on the target").All()
	if len(got) != 1 || got[0].ContextMap()["reason"] != "no HPA in shop scales Deployment/cart" {
		t.Errorf("logged %v, want the reason once", got)
	}
	if r.writes() != 0 {
		t.Errorf("%d writes with no HPA", r.writes())
	}
}

// An SRE raises minReplicas by hand during a window (an incident): the
// next cycles keep it, and after the window it stays.
func TestHPAFloorKeepsAPersonsEdit(t *testing.T) {
	cases := []struct {
		name      string
		sets      int32
		afterward int32
	}{
		{"above the floor", 20, 20},
		{"below the floor", 5, 5},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newHPARig(t, 3, nil)
			tg := target(ground.ModeHPAFloor)
			a := r.actuator()
			r.act(t, a, tg, decision(tg, 8, 8, true))
			if h := r.hpa(t); minOf(h) != 8 {
				t.Fatalf("floor 8: min %d", minOf(h))
			}
			events(r.rec)
			r.edit(t, func(h *autoscalingv2.HorizontalPodAutoscaler) { h.Spec.MinReplicas = &tc.sets })
			for range 3 {
				r.act(t, a, tg, decision(tg, 8, 8, true))
			}
			h := r.hpa(t)
			if minOf(h) != tc.sets || h.Annotations[AnnotationYieldedMin] != fmt.Sprint(tc.sets) {
				t.Errorf("during the window: min %d, annotations %v; want %d kept", minOf(h), h.Annotations, tc.sets)
			}
			ev := events(r.rec)
			if len(ev) != 1 || ev[0] != fmt.Sprintf("Warning PrescaleOverridden minReplicas of HPA shop/web was changed by someone else to %d: primetime keeps it and leaves minReplicas alone until the window is over (target shop/web)", tc.sets) {
				t.Errorf("events: %q", ev)
			}
			r.act(t, a, tg, decision(tg, 0, 5, true)) // the window is over
			h = r.hpa(t)
			if minOf(h) != tc.afterward || managed(h.Annotations) {
				t.Errorf("after the window: min %d, annotations %v; want %d and none", minOf(h), h.Annotations, tc.afterward)
			}
		})
	}
}

// A GitOps tool with self-heal puts minReplicas back to 3 each time
// primetime raises it: primetime yields once and stops fighting.
func TestHPAFloorDoesNotFightSelfHeal(t *testing.T) {
	r := newHPARig(t, 3, nil)
	tg := target(ground.ModeHPAFloor)
	a := r.actuator()
	r.act(t, a, tg, decision(tg, 8, 8, true))
	three := int32(3)
	before := 0
	for i := range 10 {
		r.edit(t, func(h *autoscalingv2.HorizontalPodAutoscaler) { h.Spec.MinReplicas = &three })
		if i == 0 {
			before = r.writes()
		}
		r.act(t, a, tg, decision(tg, 8, 8, true))
	}
	// 10 reverts (by the tool: counted as writes here) and one write of
	// primetime's annotations when it yields.
	if got := r.writes() - before; got != 10 {
		t.Errorf("%d writes over 10 reverts, want 10 (the tool's 9 more and primetime's one yield)", got)
	}
	if h := r.hpa(t); minOf(h) != 3 {
		t.Errorf("min %d, want the tool's 3", minOf(h))
	}
}

// A target deleted mid-window (its ConfigMap gone, its mode or clusters
// changed): the next cycle restores the HPA and removes the annotations.
func TestHPAFloorRestoresWhatNoTargetHolds(t *testing.T) {
	r := newHPARig(t, 3, nil)
	tg := target(ground.ModeHPAFloor)
	a := r.actuator()
	r.act(t, a, tg, decision(tg, 8, 8, true))
	events(r.rec)
	r.cycle(t, a, nil) // no target any more
	h := r.hpa(t)
	if minOf(h) != 3 || managed(h.Annotations) {
		t.Fatalf("after the target went: min %d, annotations %v; want 3 and none", minOf(h), h.Annotations)
	}
	if ev := events(r.rec); len(ev) != 1 || ev[0] != "Normal PrescaleRestored no target holds HPA shop/web any more: minReplicas restored to 3" {
		t.Errorf("events: %q", ev)
	}
	// The same after a restart, with a target in another mode.
	r = newHPARig(t, 8, map[string]string{AnnotationOriginalMin: "3", AnnotationWrittenMin: "8", AnnotationTarget: "shop/web"})
	metric := target(ground.ModeMetric)
	r.act(t, r.actuator(), metric, decision(metric, 8, 8, true))
	if h := r.hpa(t); minOf(h) != 3 || managed(h.Annotations) {
		t.Errorf("mode changed to metric: min %d, annotations %v; want 3 and none", minOf(h), h.Annotations)
	}
}

// A write that races with another writer fails on the resourceVersion; it
// is planned again from a fresh read and made once.
func TestHPAFloorRetriesOnConflict(t *testing.T) {
	r := newHPARig(t, 3, nil)
	tg := target(ground.ModeHPAFloor)
	conflicts := 1
	r.client.PrependReactor("patch", "horizontalpodautoscalers", func(clienttesting.Action) (bool, runtime.Object, error) {
		if conflicts > 0 {
			conflicts--
			return true, nil, apierrors.NewConflict(schema.GroupResource{Group: "autoscaling", Resource: "horizontalpodautoscalers"}, "web", fmt.Errorf("the object has been modified"))
		}
		return false, nil, nil
	})
	r.act(t, r.actuator(), tg, decision(tg, 8, 8, true))
	var verbs []string
	for _, a := range r.client.Actions() {
		if a.GetVerb() != "list" {
			verbs = append(verbs, a.GetVerb())
		}
	}
	if strings.Join(verbs, ",") != "patch,get,patch" || minOf(r.hpa(t)) != 8 {
		t.Errorf("requests %v, min %d; want patch (conflict), get, patch and 8", verbs, minOf(r.hpa(t)))
	}
	var patch string
	for _, a := range r.client.Actions() {
		if p, ok := a.(clienttesting.PatchAction); ok {
			patch = string(p.GetPatch())
		}
	}
	if !strings.Contains(patch, `"resourceVersion":"1"`) {
		t.Errorf("the patch %s does not carry the resourceVersion it was planned from", patch)
	}
}

// Nothing changed: no request at all.
func TestHPAFloorNoChangeNoRequest(t *testing.T) {
	r := newHPARig(t, 3, nil)
	tg := target(ground.ModeHPAFloor)
	a := r.actuator()
	r.act(t, a, tg, decision(tg, 8, 8, true))
	n := len(r.client.Actions())
	for range 5 {
		r.act(t, a, tg, decision(tg, 8, 8, true))
		r.act(t, a, tg, decision(tg, 8, 9, true)) // tracking moves; the floor does not
	}
	if got := len(r.client.Actions()) - n - 10; got != 0 { // the rig's own List per act
		t.Errorf("%d requests in 10 cycles with the same floor, want 0", got)
	}
}

func TestHPAFloorDryRun(t *testing.T) {
	r := newHPARig(t, 3, nil)
	tg := target(ground.ModeHPAFloor)
	tg.DryRun = true
	a := r.actuator()
	for range 3 {
		r.act(t, a, tg, decision(tg, 8, 8, true))
	}
	if r.writes() != 0 || minOf(r.hpa(t)) != 3 {
		t.Errorf("dry run: %d writes, min %d", r.writes(), minOf(r.hpa(t)))
	}
	ev := events(r.rec)
	want := []string{
		`Normal PrescaleStarted window "tf1-spot" (5x at 2026-11-25 20:45 UTC): floor of 8 replicas (hpa-floor mode, target shop/web); dry run: nothing is written`,
		`Normal DryRun dry run of target shop/web: would set minReplicas from 3 to 8 of HPA shop/web; nothing written`,
	}
	if strings.Join(ev, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(ev, "\n"), strings.Join(want, "\n"))
	}
}

// A quiet window caps an hpa-floor target for real: maxReplicas (and
// minReplicas above it) go down to the cap, at least 1, and come back.
func TestHPAFloorQuietCap(t *testing.T) {
	r := newHPARig(t, 3, nil)
	tg := target(ground.ModeHPAFloor)
	a := r.actuator()
	r.act(t, a, tg, capped(tg, 0, 0, true))
	h := r.hpa(t)
	if minOf(h) != 1 || h.Spec.MaxReplicas != 1 || h.Annotations[AnnotationOriginalMax] != "150" || h.Annotations[AnnotationOriginalMin] != "3" {
		t.Fatalf("capped at 0: min %d max %d, annotations %v; want 1, 1 and the originals 3 and 150", minOf(h), h.Spec.MaxReplicas, h.Annotations)
	}
	r.act(t, a, tg, decision(tg, 0, 5, true))
	if h := r.hpa(t); minOf(h) != 3 || h.Spec.MaxReplicas != 150 || managed(h.Annotations) {
		t.Errorf("after the quiet window: min %d max %d, %v", minOf(h), h.Spec.MaxReplicas, h.Annotations)
	}
}

// A version of primetime that did not record its writes left only the
// original: upgraded mid-window, the new one still restores it.
func TestHPAFloorUpgradeMidWindow(t *testing.T) {
	r := newHPARig(t, 8, map[string]string{AnnotationOriginalMin: "3"})
	tg := target(ground.ModeHPAFloor)
	a := r.actuator()
	r.act(t, a, tg, decision(tg, 8, 8, true))
	if h := r.hpa(t); minOf(h) != 8 || h.Annotations[AnnotationWrittenMin] != "8" {
		t.Errorf("mid-window: min %d, annotations %v", minOf(h), h.Annotations)
	}
	if ev := events(r.rec); len(ev) != 0 {
		t.Errorf("events %q: the floor was raised already", ev)
	}
	r.act(t, a, tg, decision(tg, 0, 5, true))
	if h := r.hpa(t); minOf(h) != 3 || managed(h.Annotations) {
		t.Errorf("after the window: min %d, %v", minOf(h), h.Annotations)
	}
}

// A `*` window starting for 500 targets at once: 200 Events one by one,
// the 300 others summarised in one Event on the windows ConfigMap.
func TestEventsBudget(t *testing.T) {
	rec := record.NewFakeRecorder(1000)
	a := &Actuator{Recorder: rec, Log: zap.NewNop()}
	var targets []ground.Target
	var ds []policies.Decision
	for i := range 500 {
		tg := target(ground.ModeMetric)
		tg.Name = fmt.Sprintf("app-%d", i)
		targets = append(targets, *tg)
		ds = append(ds, *decision(tg, 8, 8, true))
	}
	a.Desire(targets, ds)
	ev := events(rec)
	if len(ev) != 201 || ev[200] != `Normal EventsSummarised window "tf1-spot": 300 more PrescaleStarted Events in this cycle than the 200 recorded one by one; they are in primetime's log and counted in primetime_events_total{outcome="summarised"}` {
		t.Errorf("%d events, the last %q", len(ev), ev[len(ev)-1])
	}
}

// An "Nx" window with no baseline known from before its floor started
// sets no floor: the workload hears of it once.
func TestBaselineUnknownEvent(t *testing.T) {
	rec := record.NewFakeRecorder(10)
	a := &Actuator{Recorder: rec, Log: zap.NewNop()}
	tg := target(ground.ModeMetric)
	d := decision(tg, 0, 100, true)
	d.Schedule.Effects = []policies.Effect{{Occurrence: policies.Occurrence{Window: spot, Start: time.Date(2026, 11, 25, 20, 45, 0, 0, time.UTC)},
		Phase: policies.PhaseActive, Note: policies.NoteNoBaseline}}
	for range 3 {
		a.Desire([]ground.Target{*tg}, []policies.Decision{*d})
	}
	ev := events(rec)
	want := `Warning BaselineUnknown window "tf1-spot" (5x at 2026-11-25 20:45 UTC) sets no floor for target shop/web: 5x needs a baseline load, and none is known yet; tracking goes on`
	if len(ev) != 1 || ev[0] != want {
		t.Errorf("events %q, want once %q", ev, want)
	}
}
