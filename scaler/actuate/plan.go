package actuate

import (
	"encoding/json"
	"fmt"
	"strings"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/primetime-dev/primetime/ground"
)

// objectPlan is what one write does to an object.
type objectPlan struct {
	resourceVersion string
	ref             *corev1.ObjectReference // the workload, for Events
	// fields written: minReplicas and maxReplicas (HPA) or replicas.
	min, max, replicas fieldPlan
	observedMin        int32
	observedMax        int32
	observedReplicas   int32
	annotations        map[string]any // merge patch of metadata.annotations; nil: unchanged
}

func (p objectPlan) noop() bool {
	return !p.min.Write.OK && !p.max.Write.OK && !p.replicas.Write.OK && p.annotations == nil
}

// fingerprint identifies the plan and the object version it was made from.
func (p objectPlan) fingerprint() string {
	ann, _ := json.Marshal(p.annotations)
	return p.resourceVersion + "|" + p.String() + "|" + string(ann)
}

// String describes the writes, for logs, dry runs and Events.
func (p objectPlan) String() string {
	var parts []string
	for _, f := range []struct {
		name  string
		from  int32
		write ground.Opt[int32]
	}{{"minReplicas", p.observedMin, p.min.Write}, {"maxReplicas", p.observedMax, p.max.Write}, {"replicas", p.observedReplicas, p.replicas.Write}} {
		if f.write.OK {
			parts = append(parts, fmt.Sprintf("%s from %d to %d", f.name, f.from, f.write.V))
		}
	}
	if len(parts) == 0 {
		return "its annotations"
	}
	return strings.Join(parts, " and ")
}

// annotationPatch builds the merge patch of primetime's annotations from
// the field records; nil when they are already so.
func annotationPatch(current map[string]string, target *ground.Target, fields map[fieldKeys]fieldRecord) map[string]any {
	patch := map[string]any{}
	held := false
	for k, r := range fields {
		for key, v := range r.annotations(k) {
			patch[key] = v
		}
		held = held || !r.empty()
	}
	if held && target != nil {
		patch[AnnotationTarget] = target.Key().String()
	} else {
		patch[AnnotationTarget] = nil
	}
	same := true
	for key, v := range patch {
		cur, has := current[key]
		if (v == nil && has) || (v != nil && (!has || cur != v.(string))) {
			same = false
		}
	}
	if same {
		return nil
	}
	return patch
}

// planHPA plans an HPA: minReplicas raised to the window floor, and
// maxReplicas lowered to a quiet window's cap (with minReplicas if it
// stands above it), each restored when its window is over.
func planHPA(h *autoscalingv2.HorizontalPodAutoscaler, w *want) (objectPlan, error) {
	p := objectPlan{resourceVersion: h.ResourceVersion, observedMin: 1, observedMax: h.Spec.MaxReplicas}
	ref := h.Spec.ScaleTargetRef
	p.ref = &corev1.ObjectReference{APIVersion: ref.APIVersion, Kind: ref.Kind, Name: ref.Name, Namespace: h.Namespace}
	if h.Spec.MinReplicas != nil {
		p.observedMin = *h.Spec.MinReplicas
	}
	if owner := h.Annotations[AnnotationTarget]; owner != "" && w.target != nil && owner != w.target.Key().String() {
		return objectPlan{}, fmt.Errorf("HPA %s/%s is driven by target %s, not %s", h.Namespace, h.Name, owner, w.target.Key())
	}
	recMin, err := readRecord(h.Annotations, minKeys, p.observedMin)
	if err != nil {
		return objectPlan{}, fmt.Errorf("HPA %s/%s: %w", h.Namespace, h.Name, err)
	}
	recMax, err := readRecord(h.Annotations, maxKeys, p.observedMax)
	if err != nil {
		return objectPlan{}, fmt.Errorf("HPA %s/%s: %w", h.Namespace, h.Name, err)
	}
	wantMin, wantMax, raiseMin := ground.None[int32](), ground.None[int32](), true
	ownerMax := recMax.Original.Or(p.observedMax)
	if w.target != nil {
		s := &w.decision.Schedule
		switch {
		case s.Floor.OK:
			wantMin = ground.Some(min(max(s.Floor.V, 1), ownerMax))
		case s.Cap.OK:
			c := max(s.Cap.V, 1) // an HPA never goes below 1
			wantMax = ground.Some(c)
			if recMin.Original.Or(p.observedMin) > c {
				wantMin, raiseMin = ground.Some(c), false
			}
		}
	}
	p.min = planField(p.observedMin, recMin, wantMin, raiseMin)
	p.max = planField(p.observedMax, recMax, wantMax, false)
	if p.min.Write.Or(p.observedMin) > p.max.Write.Or(p.observedMax) {
		return objectPlan{}, fmt.Errorf("HPA %s/%s: minReplicas %d would exceed maxReplicas %d", h.Namespace, h.Name, p.min.Write.Or(p.observedMin), p.max.Write.Or(p.observedMax))
	}
	p.annotations = annotationPatch(h.Annotations, w.target, map[fieldKeys]fieldRecord{minKeys: p.min.Record, maxKeys: p.max.Record})
	return p, nil
}

// planWorkload plans a scale-mode workload's replicas. ours is the last
// replicas primetime wrote to it through /scale.
func planWorkload(key objectKey, u *unstructured.Unstructured, w *want, ours ground.Opt[int32]) (objectPlan, error) {
	p := objectPlan{resourceVersion: u.GetResourceVersion(), observedReplicas: replicasOf(u)}
	p.ref = &corev1.ObjectReference{APIVersion: u.GetAPIVersion(), Kind: u.GetKind(), Name: u.GetName(), Namespace: u.GetNamespace()}
	ann := u.GetAnnotations()
	if owner := ann[AnnotationTarget]; owner != "" && w.target != nil && owner != w.target.Key().String() {
		return objectPlan{}, fmt.Errorf("%s is driven by target %s, not %s", key, owner, w.target.Key())
	}
	rec, err := readRecord(ann, replicasKeys, p.observedReplicas)
	if err != nil {
		return objectPlan{}, fmt.Errorf("%s: %w", key, err)
	}
	if rec.Written.OK && rec.Written.V != p.observedReplicas &&
		((rec.Original.OK && p.observedReplicas == rec.Original.V) || (ours.OK && ours.V == p.observedReplicas)) {
		// The annotations say what primetime was about to write and the
		// replicas are still the ones before it: that write did not land
		// (it is made again), no one else changed them.
		rec.Written = ground.Some(p.observedReplicas)
	}
	decided, inWindow, minReplicas := ground.None[int32](), false, int32(0)
	if w.target != nil {
		s := &w.decision.Schedule
		decided, inWindow, minReplicas = w.paced, s.Floor.OK || s.Cap.OK, w.target.MinReplicas
	}
	p.replicas = planReplicas(p.observedReplicas, rec, decided, inWindow, minReplicas)
	p.annotations = annotationPatch(ann, w.target, map[fieldKeys]fieldRecord{replicasKeys: p.replicas.Record})
	return p, nil
}
