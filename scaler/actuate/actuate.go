package actuate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/scale"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/retry"
	"k8s.io/client-go/util/workqueue"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/policies"
	"github.com/primetime-dev/primetime/policies/config"
)

// FieldManager is the field manager of every write primetime makes, so
// that GitOps tools can be told to leave its fields alone (ArgoCD's
// ignoreDifferences managedFieldsManagers: [primetime]).
const FieldManager = "primetime"

// Actuator carries decisions out. The engine hands it every cycle's
// decisions (Desire, from memory only: no API call when nothing changed);
// the objects that need a write go on a work queue, most urgent floor
// first, and Run's workers write them, each from the informer cache with
// its resourceVersion as a precondition and a fresh read on conflict. What
// primetime writes it records on the object (see record.go), so another
// writer's change is recognised and kept, and whatever no target holds any
// more (deleted, mode or clusters changed) is restored.
type Actuator struct {
	Client kubernetes.Interface
	HPAs   *HPAIndex
	// Workloads and Scales serve scale mode; nil disables it.
	Workloads *Workloads
	Scales    scale.ScalesGetter
	Recorder  record.EventRecorder
	Log       *zap.Logger
	// EventsPerCycle is the Events recorded one by one per cycle
	// (DefaultEventsPerCycle when 0).
	EventsPerCycle int
	// Workers is how many writes run at once (4 when 0); the client's
	// rate limit paces them anyway.
	Workers int
	// Placeholders, when set, runs the placeholder pods of targets with
	// "nodes:" while Run runs.
	Placeholders *Placeholders
	// Ready, when set, reads a workload's ready replicas: at a window's
	// start, fewer than the floor records a PrescaleLate Event, and the
	// time the floor was ready a PrescaleReady Event with the lead time
	// that would have been enough.
	Ready func(ctx context.Context, t *ground.Target) ground.Opt[int32]
	// Late, when set, is told the lead time a late window would have
	// needed (the calendar's advice).
	Late func(target ground.TargetKey, window string, start time.Time, lateBy, leadTime time.Duration)
	// LatePoll is how often the ready replicas of a late window are read
	// until they reach the floor (5 s when 0).
	LatePoll time.Duration
	// Clock dates those reads; time.Now when nil.
	Clock func() time.Time

	once    sync.Once
	events  *eventLog
	metrics *Metrics

	mu sync.Mutex
	// queue holds the objects to write while Run runs: a new one for each
	// term, so a leader that stops and leads again starts from the
	// objects. Outside Run, pending holds them for Drain.
	queue    workqueue.TypedRateLimitingInterface[objectKey]
	pending  []objectKey
	planErrs map[objectKey]string // the last planning error logged
	wants    map[objectKey]*want
	floors   map[ground.TargetKey]bool // floor in force at the last decision
	paced    map[ground.TargetKey][]policies.Recommendation
	missing  map[ground.TargetKey]string // the last "cannot act" reason logged
	dryRun   map[objectKey]string        // the last plan a dry run reported
	ours     map[objectKey]int32         // the last replicas written to a workload
	stale    map[objectKey]string        // the plan just written, while the cache may not show it yet
	noted    map[string]bool             // window occurrences whose missing baseline was reported
	started  map[string]time.Time        // window occurrences whose start was checked, until their end
	// settled remembers, per object, what it was planned from when no
	// write was due: the same object version and wish need no new plan.
	settled map[objectKey]settledPlan
}

// objectKey names an object the actuator writes.
type objectKey struct {
	// GVR is the workload's resource; empty for an HPA.
	GVR       schema.GroupVersionResource
	Namespace string
	Name      string
}

func (k objectKey) isHPA() bool { return k.GVR.Resource == "" }

func (k objectKey) String() string {
	if k.isHPA() {
		return "HPA " + k.Namespace + "/" + k.Name
	}
	return k.GVR.Resource + " " + k.Namespace + "/" + k.Name
}

// want is what the actuator wants of one object.
type want struct {
	// target holds the object; nil when no active target does (restore).
	target *ground.Target
	// decision is the engine's, never changed once made (nil: none).
	decision *policies.Decision
	// paced is what scale mode writes (absent: hold).
	paced ground.Opt[int32]
	// resourceVersion is the object's in the cache when the want was made.
	resourceVersion string
}

// urgency orders writes: the earliest floor start first, restores last.
func (w *want) urgency() time.Time {
	if w.target == nil || w.decision == nil {
		return time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if e, ok := w.decision.Schedule.FloorWindow(); ok {
		return e.Occurrence.Start.Add(-w.target.LeadTime)
	}
	return time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
}

func (a *Actuator) init() {
	a.once.Do(func() {
		if a.metrics == nil {
			a.metrics = newMetrics(nil)
		}
		a.events = &eventLog{rec: a.Recorder, log: a.Log, perCycle: a.EventsPerCycle, counter: a.metrics.events}
		if a.events.perCycle <= 0 {
			a.events.perCycle = DefaultEventsPerCycle
		}
		a.floors = map[ground.TargetKey]bool{}
		a.paced = map[ground.TargetKey][]policies.Recommendation{}
		a.missing = map[ground.TargetKey]string{}
		a.dryRun = map[objectKey]string{}
		a.ours = map[objectKey]int32{}
		a.stale = map[objectKey]string{}
		a.wants = map[objectKey]*want{}
		a.planErrs = map[objectKey]string{}
		a.noted = map[string]bool{}
		a.started = map[string]time.Time{}
		a.settled = map[objectKey]settledPlan{}
	})
}

func newQueue() workqueue.TypedRateLimitingInterface[objectKey] {
	return workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[objectKey](),
		workqueue.TypedRateLimitingQueueConfig[objectKey]{Name: "primetime-actuator"})
}

// Resume implements ha.FloorKeeper: it seeds which targets had a floor in
// force from a previous leader's handed-over decisions, so that a failover
// repeats no Event. An hpa-floor target absent from them is judged by its
// HPA: primetime's annotations say its floor is raised.
func (a *Actuator) Resume(_ context.Context, handedOver map[ground.TargetKey]bool) {
	a.init()
	a.mu.Lock()
	defer a.mu.Unlock()
	for k, v := range handedOver {
		a.floors[k] = v
	}
}

// Current implements scaler.ReplicaReader: the HPA's current replicas, or
// for scale mode the workload's.
func (a *Actuator) Current(t *ground.Target) ground.Opt[int32] {
	if t.Mode == ground.ModeScale {
		if a.Workloads != nil {
			if u, _, err := a.Workloads.Get(t); err == nil {
				return ground.Some(replicasOf(u))
			}
		}
		return ground.None[int32]()
	}
	if a.HPAs != nil {
		if h, err := a.HPAs.For(t); err == nil && h.Status.CurrentReplicas > 0 {
			return ground.Some(h.Status.CurrentReplicas)
		}
	}
	return ground.None[int32]()
}

// Desire takes one cycle's decisions, one per target, and queues the
// objects that need a write. It reads only caches.
func (a *Actuator) Desire(targets []ground.Target, decisions []policies.Decision) {
	a.init()
	if a.Placeholders != nil {
		a.Placeholders.Desire(targets, decisions)
	}
	a.mu.Lock()
	a.events.begin()
	wants := make(map[objectKey]*want, len(a.wants))
	for i := range targets {
		t, d := &targets[i], &decisions[i]
		a.prescaleEvents(t, d)
		key, w, ok := a.wantOf(t, d)
		if !ok {
			continue
		}
		if other, dup := wants[key]; dup {
			a.cannotAct(t, fmt.Sprintf("%s is already driven by target %s", key, other.target.Key()))
			continue
		}
		wants[key] = w
	}
	// Whatever carries primetime's annotations and no target holds is
	// restored.
	if a.HPAs != nil {
		for _, h := range a.HPAs.Managed() {
			if key := (objectKey{Namespace: h.Namespace, Name: h.Name}); wants[key] == nil {
				wants[key] = &want{}
			}
		}
	}
	if a.Workloads != nil {
		for _, m := range a.Workloads.Managed() {
			if key := (objectKey{GVR: m.gvr, Namespace: m.obj.GetNamespace(), Name: m.obj.GetName()}); wants[key] == nil {
				wants[key] = &want{}
			}
		}
	}
	a.wants = wants
	var todo []objectKey
	for key, w := range wants {
		if a.needsWrite(key, w) {
			todo = append(todo, key)
		}
	}
	slices.SortFunc(todo, func(x, y objectKey) int {
		if c := wants[x].urgency().Compare(wants[y].urgency()); c != 0 {
			return c
		}
		return strings.Compare(x.String(), y.String())
	})
	a.events.end()
	q := a.queue
	if q == nil {
		a.pending = todo
	}
	a.mu.Unlock()
	if q == nil {
		return
	}
	for _, key := range todo {
		q.Add(key)
	}
	a.metrics.queued.Set(float64(q.Len()))
}

// wantOf returns the object a target drives and what it wants of it.
func (a *Actuator) wantOf(t *ground.Target, d *policies.Decision) (objectKey, *want, bool) {
	switch t.Mode {
	case ground.ModeHPAFloor:
		if a.HPAs == nil {
			return objectKey{}, nil, false
		}
		h, err := a.HPAs.For(t)
		if err != nil {
			a.cannotAct(t, err.Error())
			return objectKey{}, nil, false
		}
		if len(a.missing) > 0 {
			delete(a.missing, t.Key())
		}
		return objectKey{Namespace: h.Namespace, Name: h.Name}, &want{target: t, decision: d, resourceVersion: h.ResourceVersion}, true
	case ground.ModeScale:
		if a.Workloads == nil || a.Scales == nil {
			a.cannotAct(t, "scale mode is not available")
			return objectKey{}, nil, false
		}
		u, gvr, err := a.Workloads.Get(t)
		if err != nil {
			a.cannotAct(t, err.Error())
			return objectKey{}, nil, false
		}
		if len(a.missing) > 0 {
			delete(a.missing, t.Key())
		}
		p := policies.Pace(d, t.Behavior, replicasOf(u), a.paced[t.Key()])
		a.paced[t.Key()] = p.Recent
		return objectKey{GVR: gvr, Namespace: t.Namespace, Name: t.ScaleTargetRef.Name}, &want{target: t, decision: d, paced: p.Replicas, resourceVersion: u.GetResourceVersion()}, true
	}
	return objectKey{}, nil, false
}

// settledPlan is what a plan depends on besides the object's content.
type settledPlan struct {
	resourceVersion string
	target          *ground.Target
	floor, cap      ground.Opt[int32]
	paced           ground.Opt[int32]
}

// settledOf returns what the plan of key for w depends on; an empty
// resourceVersion when the object is not cached.
func (a *Actuator) settledOf(key objectKey, w *want) settledPlan {
	sp := settledPlan{target: w.target, paced: w.paced, resourceVersion: w.resourceVersion}
	if w.decision != nil {
		sp.floor, sp.cap = w.decision.Schedule.Floor, w.decision.Schedule.Cap
	}
	if sp.resourceVersion != "" {
		return sp
	}
	if key.isHPA() {
		if h, ok := a.HPAs.Get(key.Namespace, key.Name); ok {
			sp.resourceVersion = h.ResourceVersion
		}
	} else if u, ok := a.Workloads.cachedWorkload(key.GVR, key.Namespace, key.Name); ok {
		sp.resourceVersion = u.GetResourceVersion()
	}
	return sp
}

// oursOf returns the last replicas written to a workload; a.mu held.
func (a *Actuator) oursOf(key objectKey) ground.Opt[int32] {
	v, ok := a.ours[key]
	return ground.Opt[int32]{V: v, OK: ok}
}

// cannotAct logs, once per reason, why a target's object is not written.
func (a *Actuator) cannotAct(t *ground.Target, reason string) {
	if a.missing[t.Key()] == reason {
		return
	}
	a.missing[t.Key()] = reason
	a.Log.Warn("cannot act on the target", zap.String("target", t.Key().String()), zap.String("mode", string(t.Mode)), zap.String("reason", reason))
}

// needsWrite plans an object from the cache: true when a write (or, for
// a dry run, a report) is due.
func (a *Actuator) needsWrite(key objectKey, w *want) bool {
	sp := a.settledOf(key, w)
	if sp.resourceVersion != "" && a.settled[key] == sp {
		return false
	}
	p, err := a.planCached(key, w, a.oursOf(key))
	if err != nil {
		if a.planErrs[key] != err.Error() {
			a.planErrs[key] = err.Error()
			a.Log.Warn("cannot plan a write", zap.String("object", key.String()), zap.Error(err))
		}
		return false
	}
	if len(a.planErrs) > 0 {
		delete(a.planErrs, key)
	}
	if p.noop() {
		a.settled[key] = sp
		return false
	}
	delete(a.settled, key)
	if a.stale[key] == p.fingerprint() {
		return false // our write is not in the cache yet
	}
	if w.target != nil && w.target.DryRun {
		return a.dryRun[key] != p.String()
	}
	return true
}

// Run writes what the queue holds until ctx ends, then waits for the
// writes in flight.
func (a *Actuator) Run(ctx context.Context) {
	a.init()
	workers := a.Workers
	if workers <= 0 {
		workers = 4
	}
	q := newQueue()
	a.mu.Lock()
	a.queue = q
	for _, key := range a.pending {
		q.Add(key)
	}
	a.pending = nil
	a.mu.Unlock()
	var wg sync.WaitGroup
	if a.Placeholders != nil {
		wg.Go(func() { a.Placeholders.Run(ctx) })
	}
	for range workers {
		wg.Go(func() {
			wait.UntilWithContext(ctx, func(ctx context.Context) {
				for a.next(ctx, q) {
				}
			}, time.Second)
		})
	}
	<-ctx.Done()
	q.ShutDown()
	wg.Wait()
	// A leader that stops leaves nothing queued for its next term: the
	// next one plans again from the objects themselves.
	a.mu.Lock()
	if a.queue == q {
		a.queue = nil
	}
	a.mu.Unlock()
}

// Pending returns how many objects the last Desire found to write while
// Run does not run.
func (a *Actuator) Pending() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.pending)
}

// Drain writes what the last Desire found to write, in the caller's
// goroutine, when Run does not run (tests and the restore command).
func (a *Actuator) Drain(ctx context.Context) error {
	a.init()
	a.mu.Lock()
	todo := a.pending
	a.pending = nil
	a.mu.Unlock()
	var errs []error
	for _, key := range todo {
		if err := a.write(ctx, key); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", key, err))
		}
	}
	return errors.Join(errs...)
}

// next writes the next object of q, retrying it later (with back-off) on
// failure; false once q is shut down.
func (a *Actuator) next(ctx context.Context, q workqueue.TypedRateLimitingInterface[objectKey]) bool {
	key, shutdown := q.Get()
	if shutdown {
		return false
	}
	defer q.Done(key)
	if ctx.Err() != nil {
		return true // the lead is lost: nothing more is written
	}
	err := a.write(ctx, key)
	switch {
	case err == nil:
		q.Forget(key)
	case ctx.Err() != nil:
	default:
		a.Log.Warn("could not write", zap.String("object", key.String()), zap.Error(err))
		q.AddRateLimited(key)
	}
	a.metrics.queued.Set(float64(q.Len()))
	return true
}

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

func (k objectKey) kind() string {
	if k.isHPA() {
		return "hpa"
	}
	return "workload"
}

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

// prescaleEvents records PrescaleStarted when a window's floor comes into
// force and PrescaleEnded when it is released.
func (a *Actuator) prescaleEvents(t *ground.Target, d *policies.Decision) {
	was, known := a.floors[t.Key()]
	if !known && t.Mode == ground.ModeHPAFloor && a.HPAs != nil {
		if h, err := a.HPAs.For(t); err == nil {
			_, raised := h.Annotations[AnnotationOriginalMin]
			was = raised
		}
	}
	now := d.Schedule.Floor.OK
	if !known || was != now {
		a.floors[t.Key()] = now
	}
	for _, e := range d.Schedule.Effects {
		if e.Note == "" || e.Replicas.OK {
			continue
		}
		o := e.Occurrence
		k := t.Key().String() + "|" + o.Window.Name + "|" + o.Start.String()
		if a.noted[k] {
			continue
		}
		a.noted[k] = true
		a.events.emit(workloadRef(t), corev1.EventTypeWarning, ReasonBaselineUnknown, o.Window,
			"window %q (%s at %s) sets no floor for target %s: %s; tracking goes on", o.Window.Name, o.Window.Demand,
			o.Start.Format("2006-01-02 15:04 MST"), t.Key(), e.Explain())
	}
	dry := ""
	if t.DryRun {
		dry = "; dry run: nothing is written"
	}
	if e, ok := d.Schedule.FloorWindow(); ok && e.Phase == policies.PhaseActive && a.Ready != nil && !t.DryRun {
		a.checkStart(t, e, d.At)
	}
	switch {
	case now && !was:
		e, _ := d.Schedule.FloorWindow()
		w := e.Occurrence.Window
		a.events.emit(workloadRef(t), corev1.EventTypeNormal, ReasonPrescaleStarted, w,
			"window %q (%s at %s): floor of %d replicas (%s mode, target %s)%s",
			w.Name, w.Demand, e.Occurrence.Start.Format("2006-01-02 15:04 MST"), d.Schedule.Floor.V, t.Mode, t.Key(), dry)
	case was && !now:
		a.events.emit(workloadRef(t), corev1.EventTypeNormal, ReasonPrescaleEnded, nil,
			"window floor released; %s (target %s)%s", d.Reason(), t.Key(), dry)
	}
}

// LateCheckSpan is how long after a window's start its first cycle still
// checks whether the floor was ready: a replica that takes over in the
// middle of a window does not call that late.
const LateCheckSpan = time.Minute

// checkStart checks, once per occurrence, at the first cycle of its
// active phase, that the workload's ready replicas reached the floor; the
// read runs apart (Desire must not wait for the API server).
func (a *Actuator) checkStart(t *ground.Target, e policies.Effect, at time.Time) {
	o := e.Occurrence
	k := t.Key().String() + "|" + o.Window.Origin.File + "|" + o.Window.Name + "|" + o.Start.String()
	for key, end := range a.started {
		if at.After(end) {
			delete(a.started, key)
		}
	}
	if _, done := a.started[k]; done {
		return
	}
	a.started[k] = o.End
	if at.Sub(o.Start) > LateCheckSpan || !e.Replicas.OK {
		return
	}
	floor, tc, late := e.Replicas.V, *t, a.metrics.late
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ready := a.Ready(ctx, &tc)
		if !ready.OK || ready.V >= floor {
			return
		}
		late.WithLabelValues(tc.Namespace, tc.Name).Inc()
		advice := "raise leadTime (" + config.FormatDuration(tc.LeadTime) + ")"
		if tc.Nodes != nil {
			advice += " or nodes.leadTime (" + config.FormatDuration(tc.Nodes.LeadTime) + ")"
		} else {
			advice += ", or reserve nodes ahead with nodes: {leadTime: ...}"
		}
		msg := fmt.Sprintf("window %q: %d of %d pods not ready at %s: %s", o.Window.Name, floor-ready.V, floor,
			o.Start.In(zoneOf(o.Window)).Format("15:04 MST"), advice)
		if a.Log != nil {
			a.Log.Warn("floor not ready at the window's start", zap.String("target", tc.Key().String()), zap.String("event", msg))
		}
		if a.Recorder != nil {
			a.Recorder.Event(workloadRef(&tc), corev1.EventTypeWarning, ReasonPrescaleLate, msg)
		}
		a.waitReady(&tc, o, floor)
	}()
}

// waitReady reads a late window's ready replicas every LatePoll until
// they reach the floor, at most until the window's end, and says the
// lead time that would have had them ready at its start.
func (a *Actuator) waitReady(t *ground.Target, o policies.Occurrence, floor int32) {
	poll := a.LatePoll
	if poll <= 0 {
		poll = 5 * time.Second
	}
	tick := time.NewTicker(poll)
	defer tick.Stop()
	clock := a.Clock
	if clock == nil {
		clock = time.Now
	}
	for range tick.C {
		now := clock()
		if now.After(o.End) {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		ready := a.Ready(ctx, t)
		cancel()
		if !ready.OK || ready.V < floor {
			continue
		}
		lateBy := now.Sub(o.Start)
		need := SuggestedLeadTime(t.LeadTime, lateBy)
		msg := fmt.Sprintf("window %q: the floor of %d was ready %s after the start; leadTime %s (now %s) would have had it ready in time",
			o.Window.Name, floor, config.FormatDuration(lateBy.Round(time.Second)), config.FormatDuration(need), config.FormatDuration(t.LeadTime))
		if a.Recorder != nil {
			a.Recorder.Event(workloadRef(t), corev1.EventTypeNormal, ReasonPrescaleReady, msg)
		}
		if a.Late != nil {
			a.Late(t.Key(), o.Window.Name, o.Start, lateBy, need)
		}
		return
	}
}

// SuggestedLeadTime is the lead time that would have had a floor ready
// lateBy after a window's start: the lead time plus the delay and 30 s
// more, rounded up to the half minute.
func SuggestedLeadTime(leadTime, lateBy time.Duration) time.Duration {
	const half = 30 * time.Second
	d := leadTime + lateBy + half
	return (d + half - 1) / half * half
}

func zoneOf(w *ground.Window) *time.Location {
	if w.Location != nil {
		return w.Location
	}
	return time.UTC
}

func workloadRef(t *ground.Target) *corev1.ObjectReference {
	return &corev1.ObjectReference{APIVersion: t.ScaleTargetRef.APIVersion, Kind: t.ScaleTargetRef.Kind,
		Name: t.ScaleTargetRef.Name, Namespace: t.Namespace}
}

// Metrics are the actuator's Prometheus metrics.
type Metrics struct {
	writes *prometheus.CounterVec
	events *prometheus.CounterVec
	queued prometheus.Gauge
	late   *prometheus.CounterVec
}

// NewMetrics creates the actuator's metrics, registered with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics { return newMetrics(reg) }

func newMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		writes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "primetime_writes_total",
			Help: "Writes to HPAs and workloads, by object kind and outcome (success, conflict, error, dry_run).",
		}, []string{"kind", "outcome"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "primetime_events_total",
			Help: "Kubernetes Events, by reason and outcome: recorded one by one, or summarised (logged and counted past the per-cycle budget).",
		}, []string{"reason", "outcome"}),
		queued: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "primetime_writes_queued",
			Help: "Objects waiting for a write.",
		}),
		late: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "primetime_prescale_late_total",
			Help: "Window starts at which the workload had fewer ready replicas than the window's floor (a PrescaleLate Event each).",
		}, []string{"namespace", "target"}),
	}
	if reg != nil {
		reg.MustRegister(m.writes, m.events, m.queued, m.late)
	}
	return m
}

// WithMetrics sets the metrics the actuator reports to; call before use.
func (a *Actuator) WithMetrics(m *Metrics) *Actuator {
	a.metrics = m
	return a
}
