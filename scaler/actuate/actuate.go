// Package actuate carries decisions out: in hpa-floor mode it raises the
// HPA's spec.minReplicas during windows and restores it after; in scale
// mode it writes the workload's /scale subresource; in every mode it
// records PrescaleStarted and PrescaleEnded Events on the workload.
package actuate

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"

	"go.uber.org/zap"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	autoscalinglisters "k8s.io/client-go/listers/autoscaling/v2"
	"k8s.io/client-go/scale"
	"k8s.io/client-go/tools/record"

	"github.com/primetime-dev/primetime/policies"
	"github.com/primetime-dev/primetime/policies/config"
)

// Event reasons on the workload.
const (
	ReasonPrescaleStarted = "PrescaleStarted"
	ReasonPrescaleEnded   = "PrescaleEnded"
)

// AnnotationOriginalMin records, on an HPA whose minReplicas primetime
// raised, the value to restore. It is the only state of hpa-floor mode, so
// a restart or a failover loses nothing.
const AnnotationOriginalMin = "primetime.dev/original-min-replicas"

// Actuator acts on decisions.
type Actuator struct {
	Client   kubernetes.Interface
	HPAs     autoscalinglisters.HorizontalPodAutoscalerLister
	Scales   scale.ScalesGetter // nil disables scale mode
	Mapper   meta.RESTMapper
	Recorder record.EventRecorder
	Log      *zap.Logger

	mu      sync.Mutex
	floors  map[config.TargetKey]bool  // floor in force at the last decision
	scaleOf map[config.TargetKey]int32 // replicas read from /scale
}

// Act implements scaler.Actuator.
func (a *Actuator) Act(ctx context.Context, t *config.Target, d *policies.Decision) {
	a.events(t, d)
	var err error
	switch t.Mode {
	case config.ModeHPAFloor:
		err = a.hpaFloor(ctx, t, d)
	case config.ModeScale:
		err = a.scale(ctx, t, d)
	}
	if err != nil {
		a.Log.Warn("could not act on the decision", zap.String("namespace", t.Namespace), zap.String("target", t.Name),
			zap.String("mode", string(t.Mode)), zap.Error(err))
	}
}

// Restore seeds which targets had a floor in force, from a previous
// leader's published decisions, so that a failover does not repeat Events.
func (a *Actuator) Restore(floors map[config.TargetKey]bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.floors == nil {
		a.floors = map[config.TargetKey]bool{}
	}
	for k, v := range floors {
		a.floors[k] = v
	}
}

func workloadRef(t *config.Target) *corev1.ObjectReference {
	return &corev1.ObjectReference{APIVersion: t.ScaleTargetRef.APIVersion, Kind: t.ScaleTargetRef.Kind,
		Name: t.ScaleTargetRef.Name, Namespace: t.Namespace}
}

// events records PrescaleStarted when a window's floor comes into force
// and PrescaleEnded when it is released.
func (a *Actuator) events(t *config.Target, d *policies.Decision) {
	a.mu.Lock()
	if a.floors == nil {
		a.floors = map[config.TargetKey]bool{}
	}
	was := a.floors[t.Key()]
	now := d.Schedule.Floor.OK
	a.floors[t.Key()] = now
	a.mu.Unlock()
	switch {
	case now && !was:
		e, _ := d.Schedule.FloorWindow()
		a.Recorder.Eventf(workloadRef(t), corev1.EventTypeNormal, ReasonPrescaleStarted,
			"window %q (%s at %s): floor of %d replicas (%s mode, target %s)",
			e.Occurrence.Window.Name, e.Occurrence.Window.Demand, e.Occurrence.Start.Format("2006-01-02 15:04 MST"),
			d.Schedule.Floor.V, t.Mode, t.Key())
	case was && !now:
		a.Recorder.Eventf(workloadRef(t), corev1.EventTypeNormal, ReasonPrescaleEnded,
			"window floor released; %s (target %s)", d.Reason(), t.Key())
	}
}

// findHPA returns the HPA that scales t's workload.
func (a *Actuator) findHPA(t *config.Target) (*autoscalingv2.HorizontalPodAutoscaler, error) {
	hpas, err := a.HPAs.HorizontalPodAutoscalers(t.Namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	for _, h := range hpas {
		ref := h.Spec.ScaleTargetRef
		if ref.Kind == t.ScaleTargetRef.Kind && ref.Name == t.ScaleTargetRef.Name {
			return h, nil
		}
	}
	return nil, fmt.Errorf("no HPA in %s scales %s/%s", t.Namespace, t.ScaleTargetRef.Kind, t.ScaleTargetRef.Name)
}

// Current implements scaler.ReplicaReader: the HPA's current replicas, or
// for scale mode the replicas last read from /scale.
func (a *Actuator) Current(t *config.Target) policies.Opt[int32] {
	if t.Mode != config.ModeScale && a.HPAs != nil {
		if h, err := a.findHPA(t); err == nil && h.Status.CurrentReplicas > 0 {
			return policies.Some(h.Status.CurrentReplicas)
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if v, ok := a.scaleOf[t.Key()]; ok {
		return policies.Some(v)
	}
	return policies.None[int32]()
}

// hpaFloor raises the HPA's minReplicas to the window floor, recording the
// original in an annotation, and restores it when no floor is in force.
func (a *Actuator) hpaFloor(ctx context.Context, t *config.Target, d *policies.Decision) error {
	h, err := a.findHPA(t)
	if err != nil {
		return err
	}
	current := int32(1)
	if h.Spec.MinReplicas != nil {
		current = *h.Spec.MinReplicas
	}
	origText, raised := h.Annotations[AnnotationOriginalMin]
	original := current
	if raised {
		v, err := strconv.ParseInt(origText, 10, 32)
		if err != nil || v < 0 {
			return fmt.Errorf("HPA %s/%s: annotation %s=%q is not a replica count", h.Namespace, h.Name, AnnotationOriginalMin, origText)
		}
		original = int32(v)
	}
	if !d.Schedule.Floor.OK {
		if !raised {
			return nil
		}
		a.Log.Info("restoring the HPA's minReplicas", zap.String("hpa", h.Namespace+"/"+h.Name), zap.Int32("minReplicas", original))
		return a.patchHPA(ctx, h, original, nil)
	}
	want := min(max(d.Schedule.Floor.V, original, 1), h.Spec.MaxReplicas)
	if want == current && (raised || want == original) {
		return nil
	}
	if !raised && want <= original {
		return nil
	}
	orig := strconv.Itoa(int(original))
	a.Log.Info("raising the HPA's minReplicas", zap.String("hpa", h.Namespace+"/"+h.Name), zap.Int32("from", current), zap.Int32("to", want))
	return a.patchHPA(ctx, h, want, &orig)
}

// patchHPA sets minReplicas and the annotation (nil removes it) in one
// merge patch.
func (a *Actuator) patchHPA(ctx context.Context, h *autoscalingv2.HorizontalPodAutoscaler, minReplicas int32, original *string) error {
	patch := map[string]any{
		"metadata": map[string]any{"annotations": map[string]any{AnnotationOriginalMin: original}},
		"spec":     map[string]any{"minReplicas": minReplicas},
	}
	body, _ := json.Marshal(patch)
	_, err := a.Client.AutoscalingV2().HorizontalPodAutoscalers(h.Namespace).Patch(ctx, h.Name, types.MergePatchType, body, metav1.PatchOptions{})
	return err
}

// scale writes the desired replicas to the workload's /scale, when the
// decision has a value (fresh load or a window floor).
func (a *Actuator) scale(ctx context.Context, t *config.Target, d *policies.Decision) error {
	if a.Scales == nil || a.Mapper == nil {
		return fmt.Errorf("scale mode is not available")
	}
	gv, err := schema.ParseGroupVersion(t.ScaleTargetRef.APIVersion)
	if err != nil {
		return err
	}
	mapping, err := a.Mapper.RESTMapping(schema.GroupKind{Group: gv.Group, Kind: t.ScaleTargetRef.Kind}, gv.Version)
	if err != nil {
		return fmt.Errorf("%s %s: %w", t.ScaleTargetRef.APIVersion, t.ScaleTargetRef.Kind, err)
	}
	gr := mapping.Resource.GroupResource()
	s, err := a.Scales.Scales(t.Namespace).Get(ctx, gr, t.ScaleTargetRef.Name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	a.mu.Lock()
	if a.scaleOf == nil {
		a.scaleOf = map[config.TargetKey]int32{}
	}
	a.scaleOf[t.Key()] = s.Spec.Replicas
	a.mu.Unlock()
	if !d.Desired.OK || !(d.Load.Observed.OK || d.Schedule.Floor.OK) {
		return nil // no fresh data and no floor: hold
	}
	if s.Spec.Replicas == d.Desired.V {
		return nil
	}
	a.Log.Info("scaling", zap.String("namespace", t.Namespace), zap.String("workload", t.ScaleTargetRef.Name),
		zap.Int32("from", s.Spec.Replicas), zap.Int32("to", d.Desired.V))
	next := &autoscalingv1.Scale{ObjectMeta: s.ObjectMeta, Spec: autoscalingv1.ScaleSpec{Replicas: d.Desired.V}}
	_, err = a.Scales.Scales(t.Namespace).Update(ctx, gr, next, metav1.UpdateOptions{})
	return err
}
