package actuate

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/zap"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	fakescale "k8s.io/client-go/scale/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/policies"
)

var deployments = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}

// scaleRig is a Deployment shop/web on fake clients, /scale included,
// with the actuator's workload cache on a dynamic informer.
type scaleRig struct {
	dyn    *dynamicfake.FakeDynamicClient
	scales *fakescale.FakeScaleClient
	rec    *record.FakeRecorder
	a      *Actuator

	mu     sync.Mutex
	writes []int32
	// failScale makes the next /scale writes fail with scaleErr (a
	// server error when nil).
	failScale int
	scaleErr  error
}

func newScaleRig(t *testing.T, replicas int64, annotations map[string]string) *scaleRig {
	t.Helper()
	dep := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "web", "namespace": "shop"},
		"spec":     map[string]any{"replicas": replicas},
	}}
	if annotations != nil {
		dep.SetAnnotations(annotations)
	}
	scheme := runtime.NewScheme()
	r := &scaleRig{
		dyn: dynamicfake.NewSimpleDynamicClientWithCustomListKinds(scheme, map[schema.GroupVersionResource]string{
			deployments: "DeploymentList", {Group: "apps", Version: "v1", Resource: "statefulsets"}: "StatefulSetList"}, dep),
		scales: &fakescale.FakeScaleClient{}, rec: record.NewFakeRecorder(100),
	}
	r.scales.AddReactor("update", "deployments", func(action clienttesting.Action) (bool, runtime.Object, error) {
		r.mu.Lock()
		fail, failWith := r.failScale > 0, r.scaleErr
		if fail {
			r.failScale--
		}
		r.mu.Unlock()
		if fail {
			if failWith == nil {
				failWith = apierrors.NewInternalError(fmt.Errorf("etcd leader changed"))
			}
			return true, nil, failWith
		}
		s := action.(clienttesting.UpdateAction).GetObject().(*autoscalingv1.Scale)
		u, err := r.dyn.Resource(deployments).Namespace("shop").Get(context.Background(), "web", metav1.GetOptions{})
		if err != nil {
			return true, nil, err
		}
		_ = unstructured.SetNestedField(u.Object, int64(s.Spec.Replicas), "spec", "replicas")
		out, err := r.dyn.Resource(deployments).Namespace("shop").Update(context.Background(), u, metav1.UpdateOptions{})
		if err != nil {
			return true, nil, err
		}
		r.mu.Lock()
		r.writes = append(r.writes, s.Spec.Replicas)
		r.mu.Unlock()
		s = s.DeepCopy()
		s.ResourceVersion = out.GetResourceVersion()
		return true, s, nil
	})
	mapper := meta.NewDefaultRESTMapper([]schema.GroupVersion{{Group: "apps", Version: "v1"}})
	mapper.Add(schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, meta.RESTScopeNamespace)
	w := &Workloads{Dynamic: r.dyn, Mapper: mapper}
	w.Start(t.Context())
	r.a = &Actuator{Client: fake.NewClientset(), Workloads: w, Scales: r.scales, Recorder: r.rec, Log: zap.NewNop()}
	synctest.Wait()
	return r
}

// cycle hands one decision to the actuator, writes, and lets the cache
// catch up.
func (r *scaleRig) cycle(t *testing.T, targets []ground.Target, ds ...*policies.Decision) {
	t.Helper()
	var decisions []policies.Decision
	for _, d := range ds {
		decisions = append(decisions, *d)
	}
	r.a.Desire(targets, decisions)
	if err := r.a.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	synctest.Wait()
}

func (r *scaleRig) deployment(t *testing.T) (int32, map[string]string) {
	t.Helper()
	u, err := r.dyn.Resource(deployments).Namespace("shop").Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return replicasOf(u), u.GetAnnotations()
}

func (r *scaleRig) written() []int32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int32(nil), r.writes...)
}

func TestScaleMode(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newScaleRig(t, 4, nil)
		tg := target(ground.ModeScale)
		if got := r.a.Current(tg); got != ground.Some[int32](4) {
			t.Fatalf("current %v, want the Deployment's 4", got)
		}
		one := []ground.Target{*tg}
		r.cycle(t, one, decision(tg, 0, 12, true))
		if replicas, _ := r.deployment(t); replicas != 12 {
			t.Fatalf("replicas %d, want 12", replicas)
		}
		// Unknown load and no floor: hold, write nothing.
		r.cycle(t, one, decision(tg, 0, 3, false))
		if w := r.written(); len(w) != 1 {
			t.Fatalf("stale data must not scale: writes %v", w)
		}
		// A window floor applies even without fresh load, and is recorded.
		r.cycle(t, one, decision(tg, 100, 100, false))
		replicas, ann := r.deployment(t)
		if replicas != 100 || ann[AnnotationOriginalReplicas] != "12" || ann[AnnotationWrittenReplicas] != "100" {
			t.Fatalf("floor without load: %d replicas, annotations %v", replicas, ann)
		}
		r.cycle(t, one, decision(tg, 0, 20, true))
		ev := events(r.rec)
		if len(ev) != 2 || !strings.Contains(ev[0], "PrescaleStarted") || !strings.Contains(ev[1], "PrescaleEnded") {
			t.Errorf("events: %v", ev)
		}
		if replicas, ann := r.deployment(t); replicas != 20 || managed(ann) {
			t.Errorf("after the window: %d replicas, annotations %v; want 20 and none", replicas, ann)
		}
	})
}

// A steady 100 req/s at 10 per replica reads 10 or 11 replicas' worth:
// like an HPA, scale mode writes none of it over 10 minutes.
func TestScaleModeSteadyLoad(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newScaleRig(t, 10, nil)
		tg := target(ground.ModeScale)
		for i := range 40 { // 10 minutes at 15 s
			d := decision(tg, 0, 10+int32(i%2), true)
			d.At = t0.Add(time.Duration(i) * 15 * time.Second)
			r.cycle(t, []ground.Target{*tg}, d)
		}
		if w := r.written(); len(w) != 0 {
			t.Errorf("writes %v over 10 minutes of a steady load, want none", w)
		}
	})
}

// A quiet night at 0, and the morning after: no pods, so no load; the
// workload returns to the replicas it had when the night began.
func TestScaleModeOutOfZero(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newScaleRig(t, 6, nil)
		tg := target(ground.ModeScale)
		one := []ground.Target{*tg}
		r.cycle(t, one, capped(tg, 0, 0, false))
		if replicas, ann := r.deployment(t); replicas != 0 || ann[AnnotationOriginalReplicas] != "6" {
			t.Fatalf("quiet night: %d replicas, annotations %v; want 0 and the original 6", replicas, ann)
		}
		morning := &policies.Decision{Target: tg.Key(), At: t0.Add(12 * time.Hour), Desired: ground.Some[int32](0), By: policies.PolicyHold}
		r.cycle(t, one, morning)
		if replicas, ann := r.deployment(t); replicas != 6 || managed(ann) {
			t.Errorf("the morning after with the load unknown: %d replicas, annotations %v; want 6 and none", replicas, ann)
		}
	})
}

// A scale-mode target deleted mid-window: its workload gets back the
// replicas it had before the window.
func TestScaleModeRestoresWhatNoTargetHolds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newScaleRig(t, 4, nil)
		tg := target(ground.ModeScale)
		r.cycle(t, []ground.Target{*tg}, decision(tg, 40, 40, true))
		r.cycle(t, nil)
		if replicas, ann := r.deployment(t); replicas != 4 || managed(ann) {
			t.Errorf("after the target went: %d replicas, annotations %v; want 4 and none", replicas, ann)
		}
	})
}

// The annotations are written first: a /scale write that fails after them
// is made again at the next cycle, and the replicas from before the
// window are not lost nor taken for someone else's change.
func TestScaleModeFailedWriteIsRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newScaleRig(t, 6, nil)
		tg := target(ground.ModeScale)
		r.failScale = 1
		r.a.Desire([]ground.Target{*tg}, []policies.Decision{*capped(tg, 0, 0, false)})
		if err := r.a.Drain(context.Background()); err == nil {
			t.Fatal("the failed /scale write is not reported")
		}
		synctest.Wait()
		if replicas, ann := r.deployment(t); replicas != 6 || ann[AnnotationOriginalReplicas] != "6" || ann[AnnotationWrittenReplicas] != "0" {
			t.Fatalf("after the failed write: %d replicas, annotations %v", replicas, ann)
		}
		r.cycle(t, []ground.Target{*tg}, capped(tg, 0, 0, false))
		if replicas, ann := r.deployment(t); replicas != 0 || ann[AnnotationOriginalReplicas] != "6" || ann[AnnotationYieldedReplicas] != "" {
			t.Errorf("the next cycle: %d replicas, annotations %v; want 0 and the original 6 kept", replicas, ann)
		}
		if ev := events(r.rec); len(ev) != 0 {
			t.Errorf("events %q", ev)
		}
	})
}

// The morning's restore: /scale goes before the record is removed, so a
// restore that fails (a conflict with the Deployment controller's status
// write, a server error, a crash) leaves the replicas from before the
// night recorded, and they come back.
func TestScaleModeRestoreFailureKeepsTheRecord(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		// retried: the failure is reported and the next cycle restores;
		// otherwise the same write retries on a fresh read.
		retried bool
	}{
		{name: "conflict", err: apierrors.NewConflict(schema.GroupResource{Group: "apps", Resource: "deployments"}, "web", fmt.Errorf("the object has been modified"))},
		{name: "server error", err: apierrors.NewInternalError(fmt.Errorf("etcd leader changed")), retried: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newScaleRig(t, 6, nil)
				tg := target(ground.ModeScale)
				one := []ground.Target{*tg}
				r.cycle(t, one, capped(tg, 0, 0, false))
				r.failScale, r.scaleErr = 1, tc.err
				morning := &policies.Decision{Target: tg.Key(), At: t0.Add(12 * time.Hour), Desired: ground.Some[int32](0), By: policies.PolicyHold}
				r.a.Desire(one, []policies.Decision{*morning})
				err := r.a.Drain(context.Background())
				synctest.Wait()
				if tc.retried {
					if err == nil {
						t.Fatal("the failed /scale write is not reported")
					}
					if replicas, ann := r.deployment(t); replicas != 0 || ann[AnnotationOriginalReplicas] != "6" {
						t.Fatalf("after the failed restore: %d replicas, annotations %v; want 0 and the original 6 still recorded", replicas, ann)
					}
					r.cycle(t, one, morning)
				} else if err != nil {
					t.Fatalf("a conflict is retried on a fresh read, got %v", err)
				}
				if replicas, ann := r.deployment(t); replicas != 6 || managed(ann) {
					t.Errorf("the morning after: %d replicas, annotations %v; want 6 and none", replicas, ann)
				}
				if ev := events(r.rec); len(ev) != 0 {
					t.Errorf("events %q, want none (nobody else changed the replicas)", ev)
				}
			})
		})
	}
}

// A restore whose record removal failed after /scale landed (primetime
// restarted in between): the replicas are the original ones, so the
// record goes, and nobody is taken for having changed them.
func TestScaleModeRestoreLandedRecordLeft(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newScaleRig(t, 6, map[string]string{AnnotationTarget: "shop/web", AnnotationOriginalReplicas: "6", AnnotationWrittenReplicas: "0"})
		tg := target(ground.ModeScale)
		morning := &policies.Decision{Target: tg.Key(), At: t0.Add(12 * time.Hour), Desired: ground.Some[int32](6), By: policies.PolicyHold}
		r.cycle(t, []ground.Target{*tg}, morning)
		if replicas, ann := r.deployment(t); replicas != 6 || managed(ann) {
			t.Errorf("%d replicas, annotations %v; want 6 and none", replicas, ann)
		}
		if w := r.written(); len(w) != 0 {
			t.Errorf("writes %v, want none", w)
		}
		if ev := events(r.rec); len(ev) != 0 {
			t.Errorf("events %q, want none", ev)
		}
	})
}
