package actuate

import (
	"maps"
	"strings"
	"testing"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/policies"
)

// The planning of a write is a pure function of the object as it is and
// of what primetime wants of it: no clientset, no cache. Each case is an
// object, a want, and the write and annotations that follow.

var planTarget = &ground.Target{Namespace: "shop", Name: "web", MinReplicas: 2, MaxReplicas: 150, Mode: ground.ModeHPAFloor}

// wantFloor, wantCap and wantNone are a cycle's wants: a window's floor in
// force, a quiet window's cap, no window.
func wantFloor(f int32) *want {
	return &want{target: planTarget, decision: &policies.Decision{Schedule: policies.Schedule{Floor: ground.Some(f)}}}
}

func wantCap(c int32) *want {
	return &want{target: planTarget, decision: &policies.Decision{Schedule: policies.Schedule{Cap: ground.Some(c)}}}
}

func wantNone() *want { return &want{target: planTarget, decision: &policies.Decision{}} }

func hpaWith(minR, maxR int32, ann map[string]string) *autoscalingv2.HorizontalPodAutoscaler {
	return &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web", ResourceVersion: "7", Annotations: ann},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
			MinReplicas:    &minR, MaxReplicas: maxR,
		},
	}
}

// held are the annotations of a field primetime holds: the owner's value
// and what primetime wrote.
func held(keys fieldKeys, original, written string) map[string]string {
	return map[string]string{AnnotationTarget: "shop/web", keys.original: original, keys.written: written}
}

func TestPlanHPA(t *testing.T) {
	cases := []struct {
		name string
		hpa  *autoscalingv2.HorizontalPodAutoscaler
		want *want
		// writes is objectPlan.String(), "" for none; after the
		// annotations primetime leaves on the object once the write lands
		// (nil: unchanged).
		writes string
		after  map[string]string
		err    string
	}{
		{name: "a floor raises minReplicas", hpa: hpaWith(2, 150, nil), want: wantFloor(40),
			writes: "minReplicas from 2 to 40",
			after:  map[string]string{AnnotationTarget: "shop/web", AnnotationOriginalMin: "2", AnnotationWrittenMin: "40"}},
		{name: "the floor already written: nothing to do", hpa: hpaWith(40, 150, held(minKeys, "2", "40")), want: wantFloor(40)},
		{name: "a higher floor moves it, the owner's value kept", hpa: hpaWith(40, 150, held(minKeys, "2", "40")), want: wantFloor(60),
			writes: "minReplicas from 40 to 60",
			after:  map[string]string{AnnotationTarget: "shop/web", AnnotationOriginalMin: "2", AnnotationWrittenMin: "60"}},
		{name: "a floor below the owner's minReplicas writes nothing", hpa: hpaWith(10, 150, nil), want: wantFloor(5)},
		{name: "a floor above maxReplicas stops at maxReplicas", hpa: hpaWith(2, 150, nil), want: wantFloor(400),
			writes: "minReplicas from 2 to 150",
			after:  map[string]string{AnnotationTarget: "shop/web", AnnotationOriginalMin: "2", AnnotationWrittenMin: "150"}},
		{name: "someone else's edit during the window is kept", hpa: hpaWith(55, 150, held(minKeys, "2", "40")), want: wantFloor(40),
			after: map[string]string{AnnotationTarget: "shop/web", AnnotationYieldedMin: "55"}},
		{name: "after someone else's edit the window's end restores nothing", hpa: hpaWith(55, 150,
			map[string]string{AnnotationTarget: "shop/web", AnnotationYieldedMin: "55"}), want: wantNone(),
			after: map[string]string{}},
		{name: "the window over: the owner's minReplicas restored", hpa: hpaWith(40, 150, held(minKeys, "2", "40")), want: wantNone(),
			writes: "minReplicas from 40 to 2",
			after:  map[string]string{}},
		{name: "the target deleted: restored as well", hpa: hpaWith(40, 150, held(minKeys, "2", "40")), want: &want{},
			writes: "minReplicas from 40 to 2",
			after:  map[string]string{}},
		{name: "the owner raised maxReplicas mid-window: the floor goes on", hpa: hpaWith(40, 200, held(minKeys, "2", "40")), want: wantFloor(40)},
		{name: "a quiet cap lowers maxReplicas", hpa: hpaWith(2, 150, nil), want: wantCap(5),
			writes: "maxReplicas from 150 to 5",
			after:  map[string]string{AnnotationTarget: "shop/web", AnnotationOriginalMax: "150", AnnotationWrittenMax: "5"}},
		{name: "a quiet cap of 0 stops at 1 and takes minReplicas down with it", hpa: hpaWith(2, 150, nil), want: wantCap(0),
			writes: "minReplicas from 2 to 1 and maxReplicas from 150 to 1",
			after:  map[string]string{AnnotationTarget: "shop/web", AnnotationOriginalMin: "2", AnnotationWrittenMin: "1", AnnotationOriginalMax: "150", AnnotationWrittenMax: "1"}},
		{name: "the night over: both restored", hpa: hpaWith(1, 1, map[string]string{AnnotationTarget: "shop/web",
			AnnotationOriginalMin: "2", AnnotationWrittenMin: "1", AnnotationOriginalMax: "150", AnnotationWrittenMax: "1"}), want: wantNone(),
			writes: "minReplicas from 1 to 2 and maxReplicas from 1 to 150",
			after:  map[string]string{}},
		{name: "an HPA another target drives is refused", hpa: hpaWith(2, 150, map[string]string{AnnotationTarget: "shop/api"}), want: wantFloor(40),
			err: "HPA shop/web is driven by target shop/api, not shop/web"},
		{name: "a garbled annotation is refused, naming it", hpa: hpaWith(40, 150, held(minKeys, "two", "40")), want: wantFloor(40),
			err: `HPA shop/web: annotation primetime.dev/original-min-replicas="two" is not a replica count`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := maps.Clone(tc.hpa.Annotations)
			p, err := planHPA(tc.hpa, tc.want)
			if tc.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
					t.Fatalf("error %v, want one starting %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checkPlan(t, p, before, tc.writes, tc.after)
			if p.resourceVersion != "7" || p.ref.Kind != "Deployment" || p.ref.Name != "web" {
				t.Errorf("plan made from version %q of %v, want version 7 of Deployment web", p.resourceVersion, p.ref)
			}
			if !maps.Equal(before, tc.hpa.Annotations) {
				t.Errorf("planning changed the object's annotations to %v", tc.hpa.Annotations)
			}
		})
	}
}

func TestPlanWorkload(t *testing.T) {
	key := objectKey{GVR: schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, Namespace: "shop", Name: "web"}
	deployment := func(replicas int64, ann map[string]string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "apps/v1", "kind": "Deployment",
			"metadata": map[string]any{"namespace": "shop", "name": "web", "resourceVersion": "9"},
			"spec":     map[string]any{"replicas": replicas}}}
		u.SetAnnotations(ann)
		return u
	}
	paced := func(w *want, r int32) *want { w.paced = ground.Some(r); return w }
	cases := []struct {
		name   string
		obj    *unstructured.Unstructured
		want   *want
		ours   ground.Opt[int32]
		writes string
		after  map[string]string
	}{
		{name: "a floor scales up, the replicas before it recorded", obj: deployment(10, nil), want: paced(wantFloor(40), 40),
			writes: "replicas from 10 to 40",
			after:  map[string]string{AnnotationTarget: "shop/web", AnnotationOriginalReplicas: "10", AnnotationWrittenReplicas: "40"}},
		{name: "no window: the load's replicas, nothing recorded", obj: deployment(10, nil), want: paced(wantNone(), 12),
			writes: "replicas from 10 to 12"},
		{name: "no window and no fresh load: hold", obj: deployment(10, nil), want: wantNone()},
		{name: "someone else scaled during the window: kept", obj: deployment(55, held(replicasKeys, "10", "40")), want: paced(wantFloor(40), 40),
			after: map[string]string{AnnotationTarget: "shop/web", AnnotationYieldedReplicas: "55"}},
		{name: "a quiet cap scales to 0", obj: deployment(3, nil), want: paced(wantCap(0), 0),
			writes: "replicas from 3 to 0",
			after:  map[string]string{AnnotationTarget: "shop/web", AnnotationOriginalReplicas: "3", AnnotationWrittenReplicas: "0"}},
		{name: "the night over with no load known: back to the replicas before it", obj: deployment(0, held(replicasKeys, "3", "0")), want: wantNone(),
			writes: "replicas from 0 to 3",
			after:  map[string]string{}},
		{name: "a write that did not land is made again", obj: deployment(10, held(replicasKeys, "10", "40")), want: paced(wantFloor(40), 40),
			writes: "replicas from 10 to 40"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.obj.GetAnnotations()
			p, err := planWorkload(key, tc.obj, tc.want, tc.ours)
			if err != nil {
				t.Fatal(err)
			}
			checkPlan(t, p, before, tc.writes, tc.after)
		})
	}
}

// checkPlan compares the plan's writes and the annotations its merge
// patch leaves on an object that held before.
func checkPlan(t *testing.T, p objectPlan, before map[string]string, writes string, after map[string]string) {
	t.Helper()
	got := ""
	if p.min.Write.OK || p.max.Write.OK || p.replicas.Write.OK {
		got = p.String()
	}
	if got != writes {
		t.Errorf("writes %q, want %q", got, writes)
	}
	if after == nil {
		if p.annotations != nil {
			t.Errorf("annotations patched with %v, want them unchanged", p.annotations)
		}
	} else {
		got := maps.Clone(before)
		if got == nil {
			got = map[string]string{}
		}
		for k, v := range p.annotations {
			if v == nil {
				delete(got, k)
			} else {
				got[k] = v.(string)
			}
		}
		if !maps.Equal(got, after) {
			t.Errorf("annotations after the write %v, want %v", got, after)
		}
	}
	if (writes == "" && after == nil) != p.noop() {
		t.Errorf("noop() = %v", p.noop())
	}
}
