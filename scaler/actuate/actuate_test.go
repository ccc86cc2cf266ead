package actuate

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	autoscalinglisters "k8s.io/client-go/listers/autoscaling/v2"
	fakescale "k8s.io/client-go/scale/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	"github.com/primetime-dev/primetime/policies"
	"github.com/primetime-dev/primetime/policies/config"
)

func target(mode config.Mode) *config.Target {
	return &config.Target{Name: "web", Namespace: "shop", Mode: mode, MinReplicas: 2, MaxReplicas: 300, CapacityPerReplica: 50,
		ScaleTargetRef: config.ScaleTargetRef{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"}}
}

var spot = &config.Window{Name: "tf1-spot", Demand: config.Demand{Kind: config.DemandMultiplier, Value: 5}}

// decision returns a decision with a window floor (0: none) and desired replicas.
func decision(t *config.Target, floor, desired int32, observed bool) *policies.Decision {
	d := &policies.Decision{Target: t.Key(), At: time.Now(), Desired: policies.Some(desired), By: policies.PolicyTracking}
	if observed {
		d.Load.Observed = policies.Some(float64(desired) * 50)
	}
	if floor > 0 {
		d.By = policies.PolicyWindow
		d.Schedule = policies.Schedule{Floor: policies.Some(floor), Effects: []policies.Effect{{
			Occurrence: policies.Occurrence{Window: spot, Start: time.Date(2026, 11, 25, 20, 45, 0, 0, time.UTC)},
			Phase:      policies.PhaseLead, Replicas: policies.Some(floor)}}}
	}
	return d
}

type hpaRig struct {
	client  *fake.Clientset
	indexer cache.Indexer
	rec     *record.FakeRecorder
}

func newHPARig(t *testing.T, minReplicas int32) *hpaRig {
	t.Helper()
	hpa := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
			MinReplicas:    &minReplicas, MaxReplicas: 150,
		},
		Status: autoscalingv2.HorizontalPodAutoscalerStatus{CurrentReplicas: 7},
	}
	r := &hpaRig{client: fake.NewClientset(hpa), rec: record.NewFakeRecorder(100),
		indexer: cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})}
	r.sync(t)
	return r
}

// sync plays the informer: it copies the HPAs from the API into the lister.
func (r *hpaRig) sync(t *testing.T) {
	t.Helper()
	list, err := r.client.AutoscalingV2().HorizontalPodAutoscalers("shop").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range list.Items {
		if err := r.indexer.Update(&list.Items[i]); err != nil {
			t.Fatal(err)
		}
	}
}

// actuator returns a fresh actuator, as after a restart.
func (r *hpaRig) actuator() *Actuator {
	return &Actuator{Client: r.client, HPAs: autoscalinglisters.NewHorizontalPodAutoscalerLister(r.indexer), Recorder: r.rec, Log: zap.NewNop()}
}

func (r *hpaRig) hpa(t *testing.T) *autoscalingv2.HorizontalPodAutoscaler {
	t.Helper()
	h, err := r.client.AutoscalingV2().HorizontalPodAutoscalers("shop").Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func (r *hpaRig) act(t *testing.T, a *Actuator, tg *config.Target, d *policies.Decision) {
	t.Helper()
	a.Act(context.Background(), tg, d)
	r.sync(t)
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

func TestHPAFloorRaisesStepsAndRestores(t *testing.T) {
	r := newHPARig(t, 3)
	tg := target(config.ModeHPAFloor)
	a := r.actuator()
	ctx := context.Background()

	if got := a.Current(tg); got != policies.Some[int32](7) {
		t.Errorf("current replicas from the HPA's status: %v", got)
	}
	r.act(t, a, tg, decision(tg, 0, 5, true))
	if h := r.hpa(t); *h.Spec.MinReplicas != 3 || h.Annotations[AnnotationOriginalMin] != "" {
		t.Fatalf("no window: the HPA must be untouched, got min %d %v", *h.Spec.MinReplicas, h.Annotations)
	}

	r.act(t, a, tg, decision(tg, 100, 100, true))
	h := r.hpa(t)
	if *h.Spec.MinReplicas != 100 || h.Annotations[AnnotationOriginalMin] != "3" {
		t.Fatalf("floor 100: min %d, annotation %q; want 100 and the original 3", *h.Spec.MinReplicas, h.Annotations[AnnotationOriginalMin])
	}
	if ev := events(r.rec); len(ev) != 1 || !strings.HasPrefix(ev[0], "Normal PrescaleStarted window \"tf1-spot\"") {
		t.Errorf("events: %v", ev)
	}

	// The floor is above the HPA's maxReplicas (150): it stops there.
	r.act(t, a, tg, decision(tg, 200, 200, true))
	if h := r.hpa(t); *h.Spec.MinReplicas != 150 {
		t.Errorf("floor 200 with maxReplicas 150: min %d", *h.Spec.MinReplicas)
	}
	// Step-down follows the floor.
	r.act(t, a, tg, decision(tg, 83, 83, true))
	if h := r.hpa(t); *h.Spec.MinReplicas != 83 || h.Annotations[AnnotationOriginalMin] != "3" {
		t.Errorf("step-down: min %d, annotation %q", *h.Spec.MinReplicas, h.Annotations[AnnotationOriginalMin])
	}

	// A restart: a new actuator knows nothing but the annotation.
	a = r.actuator()
	r.act(t, a, tg, decision(tg, 0, 20, true))
	h = r.hpa(t)
	if *h.Spec.MinReplicas != 3 {
		t.Fatalf("after a restart the original min 3 must be restored, got %d", *h.Spec.MinReplicas)
	}
	if _, ok := h.Annotations[AnnotationOriginalMin]; ok {
		t.Errorf("the annotation must go once restored: %v", h.Annotations)
	}
	_ = ctx
}

func TestHPAFloorNeverLowersTheUsersMin(t *testing.T) {
	r := newHPARig(t, 50)
	tg := target(config.ModeHPAFloor)
	r.act(t, r.actuator(), tg, decision(tg, 20, 50, true))
	if h := r.hpa(t); *h.Spec.MinReplicas != 50 || h.Annotations[AnnotationOriginalMin] != "" {
		t.Errorf("a floor below the user's min changes nothing: min %d, %v", *h.Spec.MinReplicas, h.Annotations)
	}
}

func TestHPAFloorWithoutHPA(t *testing.T) {
	r := newHPARig(t, 3)
	tg := target(config.ModeHPAFloor)
	tg.ScaleTargetRef.Name = "cart"
	if err := r.actuator().hpaFloor(context.Background(), tg, decision(tg, 10, 10, true)); err == nil || !strings.Contains(err.Error(), "no HPA in shop scales Deployment/cart") {
		t.Errorf("got %v", err)
	}
}

func TestScaleMode(t *testing.T) {
	scales := &fakescale.FakeScaleClient{}
	replicas := int32(4)
	var written []int32
	scales.AddReactor("get", "deployments", func(action clienttesting.Action) (bool, runtime.Object, error) {
		return true, &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop"}, Spec: autoscalingv1.ScaleSpec{Replicas: replicas}}, nil
	})
	scales.AddReactor("update", "deployments", func(action clienttesting.Action) (bool, runtime.Object, error) {
		s := action.(clienttesting.UpdateAction).GetObject().(*autoscalingv1.Scale)
		replicas = s.Spec.Replicas
		written = append(written, replicas)
		return true, s, nil
	})
	mapper := meta.NewDefaultRESTMapper([]schema.GroupVersion{{Group: "apps", Version: "v1"}})
	mapper.Add(schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, meta.RESTScopeNamespace)
	rec := record.NewFakeRecorder(10)
	a := &Actuator{Client: fake.NewClientset(), Scales: scales, Mapper: mapper, Recorder: rec, Log: zap.NewNop()}
	tg := target(config.ModeScale)

	a.Act(context.Background(), tg, decision(tg, 0, 12, true))
	if replicas != 12 || a.Current(tg) != policies.Some[int32](4) {
		t.Fatalf("replicas %d (want 12), current %v (want the 4 read before writing)", replicas, a.Current(tg))
	}
	// Unknown load and no floor: hold, write nothing.
	a.Act(context.Background(), tg, decision(tg, 0, 3, false))
	if replicas != 12 || len(written) != 1 {
		t.Fatalf("stale data must not scale: writes %v", written)
	}
	// A window floor applies even without fresh load.
	a.Act(context.Background(), tg, decision(tg, 100, 100, false))
	if replicas != 100 {
		t.Fatalf("floor without load: %d", replicas)
	}
	a.Act(context.Background(), tg, decision(tg, 0, 20, true))
	ev := events(rec)
	if len(ev) != 2 || !strings.Contains(ev[0], "PrescaleStarted") || !strings.Contains(ev[1], "PrescaleEnded") {
		t.Errorf("events: %v", ev)
	}
}
