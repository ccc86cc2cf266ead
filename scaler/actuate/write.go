package actuate

import (
	"context"
	"encoding/json"

	"go.uber.org/zap"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"

	"github.com/primetime-dev/primetime/ground"
)

// write makes one object what the latest want says, from the cache
// first, from a fresh read after a conflict.
func (a *Actuator) write(ctx context.Context, key objectKey) error {
	a.mu.Lock()
	w, ours := a.wants[key], a.oursOf(key)
	a.mu.Unlock()
	if w == nil {
		return nil // no longer wanted
	}
	fresh := false
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var p objectPlan
		var err error
		if fresh {
			p, err = a.planFresh(ctx, key, w, ours)
		} else {
			p, err = a.planCached(key, w, ours)
		}
		if err != nil || p.noop() {
			return err
		}
		if !fresh {
			a.mu.Lock()
			stale := a.stale[key] == p.fingerprint()
			a.mu.Unlock()
			if stale {
				return nil // written already; the cache has not caught up
			}
		}
		fresh = true
		err = a.apply(ctx, key, w, p)
		if apierrors.IsConflict(err) {
			a.metrics.writes.WithLabelValues(key.kind(), "conflict").Inc()
		}
		return err
	})
}

// planCached plans from the informer caches.
func (a *Actuator) planCached(key objectKey, w *want, ours ground.Opt[int32]) (objectPlan, error) {
	if key.isHPA() {
		h, ok := a.HPAs.Get(key.Namespace, key.Name)
		if !ok {
			return objectPlan{}, nil // gone
		}
		return planHPA(h, w)
	}
	u, ok := a.Workloads.cachedWorkload(key.GVR, key.Namespace, key.Name)
	if !ok {
		return objectPlan{}, nil
	}
	return planWorkload(key, u, w, ours)
}

// planFresh plans from the API server, after a conflict.
func (a *Actuator) planFresh(ctx context.Context, key objectKey, w *want, ours ground.Opt[int32]) (objectPlan, error) {
	if key.isHPA() {
		h, err := a.Client.AutoscalingV2().HorizontalPodAutoscalers(key.Namespace).Get(ctx, key.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return objectPlan{}, nil
		}
		if err != nil {
			return objectPlan{}, err
		}
		return planHPA(h, w)
	}
	u, err := a.Workloads.Dynamic.Resource(key.GVR).Namespace(key.Namespace).Get(ctx, key.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return objectPlan{}, nil
	}
	if err != nil {
		return objectPlan{}, err
	}
	return planWorkload(key, u, w, ours)
}

// apply makes the planned writes, or reports them for a dry run.
func (a *Actuator) apply(ctx context.Context, key objectKey, w *want, p objectPlan) error {
	what := p.String()
	if w.target != nil && w.target.DryRun {
		a.mu.Lock()
		a.dryRun[key] = what
		a.mu.Unlock()
		a.Log.Info("dry run: would write", zap.String("object", key.String()), zap.String("target", w.target.Key().String()), zap.String("change", what))
		a.Recorder.Eventf(p.ref, corev1.EventTypeNormal, ReasonDryRun, "dry run of target %s: would set %s of %s; nothing written", w.target.Key(), what, key)
		a.metrics.writes.WithLabelValues(key.kind(), "dry_run").Inc()
		return nil
	}
	var err error
	if key.isHPA() {
		err = a.patchHPA(ctx, key, p)
	} else {
		err = a.writeWorkload(ctx, key, p)
	}
	if err != nil {
		if !apierrors.IsConflict(err) {
			a.metrics.writes.WithLabelValues(key.kind(), "error").Inc()
		}
		return err
	}
	a.metrics.writes.WithLabelValues(key.kind(), "success").Inc()
	a.mu.Lock()
	a.stale[key] = p.fingerprint()
	a.mu.Unlock()
	target := "no target"
	if w.target != nil {
		target = "target " + w.target.Key().String()
	}
	a.Log.Info("wrote", zap.String("object", key.String()), zap.String("change", what), zap.String("for", target))
	for _, f := range []struct {
		fp   fieldPlan
		keys fieldKeys
		obs  int32
	}{{p.min, minKeys, p.observedMin}, {p.max, maxKeys, p.observedMax}, {p.replicas, replicasKeys, p.observedReplicas}} {
		if f.fp.Overridden {
			a.Recorder.Eventf(p.ref, corev1.EventTypeWarning, ReasonPrescaleOverridden,
				"%s of %s was changed by someone else to %d: primetime keeps it and leaves %s alone until the window is over (%s)", f.keys.field, key, f.fp.Record.Yielded.Or(f.obs), f.keys.field, target)
		}
		if f.fp.Restored && w.target == nil {
			a.Recorder.Eventf(p.ref, corev1.EventTypeNormal, ReasonPrescaleRestored,
				"no target holds %s any more: %s restored to %d", key, f.keys.field, f.fp.Write.V)
		}
	}
	return nil
}

// patchHPA writes an HPA in one merge patch, on the resourceVersion the
// plan was made from.
func (a *Actuator) patchHPA(ctx context.Context, key objectKey, p objectPlan) error {
	meta := map[string]any{"resourceVersion": p.resourceVersion}
	if p.annotations != nil {
		meta["annotations"] = p.annotations
	}
	spec := map[string]any{}
	if p.min.Write.OK {
		spec["minReplicas"] = p.min.Write.V
	}
	if p.max.Write.OK {
		spec["maxReplicas"] = p.max.Write.V
	}
	patch := map[string]any{"metadata": meta}
	if len(spec) > 0 {
		patch["spec"] = spec
	}
	body, _ := json.Marshal(patch)
	_, err := a.Client.AutoscalingV2().HorizontalPodAutoscalers(key.Namespace).Patch(ctx, key.Name, types.MergePatchType, body,
		metav1.PatchOptions{FieldManager: FieldManager})
	return err
}

// writeWorkload writes a scale-mode workload so that the replicas from
// before a window are never lost to a failed write or a crash between
// the two requests: while primetime holds the replicas, the annotations
// recording what it is about to write go first, then /scale; when it
// lets go (a restore), /scale goes first and the record is removed only
// once the replicas are back. Each write is on the resourceVersion it
// follows.
func (a *Actuator) writeWorkload(ctx context.Context, key objectKey, p objectPlan) error {
	rv := p.resourceVersion
	if !p.replicas.Record.empty() {
		var err error
		if rv, err = a.patchWorkloadAnnotations(ctx, key, rv, p.annotations); err != nil {
			return err
		}
	}
	if p.replicas.Write.OK {
		s := &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace, ResourceVersion: rv},
			Spec: autoscalingv1.ScaleSpec{Replicas: p.replicas.Write.V}}
		out, err := a.Scales.Scales(key.Namespace).Update(ctx, key.GVR.GroupResource(), s, metav1.UpdateOptions{FieldManager: FieldManager})
		if err != nil {
			return err
		}
		a.mu.Lock()
		a.ours[key] = p.replicas.Write.V
		a.mu.Unlock()
		rv = out.ResourceVersion
	}
	if p.replicas.Record.empty() {
		_, err := a.patchWorkloadAnnotations(ctx, key, rv, p.annotations)
		return err
	}
	return nil
}

// patchWorkloadAnnotations merge-patches a workload's annotations on
// resourceVersion rv and returns the new one; nothing when patch is nil.
func (a *Actuator) patchWorkloadAnnotations(ctx context.Context, key objectKey, rv string, patch map[string]any) (string, error) {
	if patch == nil {
		return rv, nil
	}
	body, _ := json.Marshal(map[string]any{"metadata": map[string]any{"resourceVersion": rv, "annotations": patch}})
	out, err := a.Workloads.Dynamic.Resource(key.GVR).Namespace(key.Namespace).Patch(ctx, key.Name, types.MergePatchType, body,
		metav1.PatchOptions{FieldManager: FieldManager})
	if err != nil {
		return "", err
	}
	return out.GetResourceVersion(), nil
}
