package actuate

import (
	"context"
	"fmt"
	"sync"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"

	"github.com/primetime-dev/primetime/ground"
)

// Index names.
const (
	byScaleTarget = "scaleTarget" // namespace/Kind/name of the object an HPA scales
	byManaged     = "managed"     // one key for every object carrying primetime's annotations
	managedKey    = "primetime"
)

func scaleTargetKey(namespace, kind, name string) string { return namespace + "/" + kind + "/" + name }

// managedIndex indexes the objects that carry primetime's annotations.
func managedIndex(obj any) ([]string, error) {
	m, err := meta.Accessor(obj)
	if err != nil || !managed(m.GetAnnotations()) {
		return nil, nil
	}
	return []string{managedKey}, nil
}

// HPAIndexers are the indexes the actuator needs on the HPA informer: add
// them before the informer starts (NewHPAIndex does).
func HPAIndexers() cache.Indexers {
	return cache.Indexers{
		byScaleTarget: func(obj any) ([]string, error) {
			h, ok := obj.(*autoscalingv2.HorizontalPodAutoscaler)
			if !ok {
				return nil, nil
			}
			ref := h.Spec.ScaleTargetRef
			return []string{scaleTargetKey(h.Namespace, ref.Kind, ref.Name)}, nil
		},
		byManaged: managedIndex,
	}
}

// HPAIndex finds HPAs in an informer's cache: by the workload they scale
// (one map look-up, not a list of the namespace), and those primetime
// annotated.
type HPAIndex struct {
	idx cache.Indexer

	// byRef maps a workload to its HPA, kept by the informer's events (nil
	// for an index made with HPAIndexOf, which asks the indexer).
	mu    sync.RWMutex
	byRef map[refKey]*autoscalingv2.HorizontalPodAutoscaler
}

// refKey names the workload an HPA scales.
type refKey struct{ namespace, kind, name string }

// NewHPAIndex adds the actuator's indexes to an HPA informer that has not
// started yet.
func NewHPAIndex(inf cache.SharedIndexInformer) (*HPAIndex, error) {
	if err := inf.AddIndexers(HPAIndexers()); err != nil {
		return nil, err
	}
	x := &HPAIndex{idx: inf.GetIndexer(), byRef: map[refKey]*autoscalingv2.HorizontalPodAutoscaler{}}
	_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { x.refresh(obj) },
		UpdateFunc: func(old, obj any) { x.refresh(old); x.refresh(obj) },
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			x.refresh(obj)
		},
	})
	return x, err
}

// refresh sets the byRef entry of the workload an HPA scales from the
// indexer, which the informer has updated before calling its handlers.
func (x *HPAIndex) refresh(obj any) {
	h, ok := obj.(*autoscalingv2.HorizontalPodAutoscaler)
	if !ok {
		return
	}
	key := refKey{h.Namespace, h.Spec.ScaleTargetRef.Kind, h.Spec.ScaleTargetRef.Name}
	best := x.lookup(key)
	x.mu.Lock()
	defer x.mu.Unlock()
	if best == nil {
		delete(x.byRef, key)
	} else {
		x.byRef[key] = best
	}
}

// HPAIndexOf wraps an indexer made with HPAIndexers (tests fill one by
// hand).
func HPAIndexOf(idx cache.Indexer) *HPAIndex { return &HPAIndex{idx: idx} }

// For returns the HPA that scales t's workload.
func (x *HPAIndex) For(t *ground.Target) (*autoscalingv2.HorizontalPodAutoscaler, error) {
	key := refKey{t.Namespace, t.ScaleTargetRef.Kind, t.ScaleTargetRef.Name}
	var h *autoscalingv2.HorizontalPodAutoscaler
	if x.byRef != nil {
		x.mu.RLock()
		h = x.byRef[key]
		x.mu.RUnlock()
	} else {
		h = x.lookup(key)
	}
	if h == nil {
		return nil, fmt.Errorf("no HPA in %s scales %s/%s", t.Namespace, t.ScaleTargetRef.Kind, t.ScaleTargetRef.Name)
	}
	return h, nil
}

// lookup asks the indexer for the HPA of a workload. Two HPAs on one
// workload fight each other already; the first by name is taken, so the
// choice is stable.
func (x *HPAIndex) lookup(key refKey) *autoscalingv2.HorizontalPodAutoscaler {
	objs, err := x.idx.ByIndex(byScaleTarget, scaleTargetKey(key.namespace, key.kind, key.name))
	if err != nil || len(objs) == 0 {
		return nil
	}
	best := objs[0].(*autoscalingv2.HorizontalPodAutoscaler)
	for _, o := range objs[1:] {
		if h := o.(*autoscalingv2.HorizontalPodAutoscaler); h.Name < best.Name {
			best = h
		}
	}
	return best
}

// Get returns an HPA by namespace and name.
func (x *HPAIndex) Get(namespace, name string) (*autoscalingv2.HorizontalPodAutoscaler, bool) {
	obj, ok, err := x.idx.GetByKey(namespace + "/" + name)
	if err != nil || !ok {
		return nil, false
	}
	return obj.(*autoscalingv2.HorizontalPodAutoscaler), true
}

// Managed returns the HPAs that carry primetime's annotations.
func (x *HPAIndex) Managed() []*autoscalingv2.HorizontalPodAutoscaler {
	objs, _ := x.idx.ByIndex(byManaged, managedKey)
	out := make([]*autoscalingv2.HorizontalPodAutoscaler, 0, len(objs))
	for _, o := range objs {
		out = append(out, o.(*autoscalingv2.HorizontalPodAutoscaler))
	}
	return out
}

// Workloads caches the workloads of scale-mode targets, of any kind with
// a /scale subresource, through one dynamic informer per resource, started
// when a target first needs it (Deployments and StatefulSets from the
// start, so that an annotated one is found even with no target left). The
// cache keeps only what the actuator reads: metadata and spec.replicas.
type Workloads struct {
	Dynamic dynamic.Interface
	Mapper  meta.RESTMapper
	// Namespace limits the informers to one namespace; all when empty.
	Namespace string

	mu        sync.Mutex
	ctx       context.Context
	informers map[schema.GroupVersionResource]cache.SharedIndexInformer
	// resources are the kinds resolved so far: a kind's resource does not
	// change while its API is served, and the discovery mapper allocates
	// about 2 KB at every look-up (20 MB a cycle at 10,000 targets).
	resources sync.Map // schema.GroupVersionKind -> schema.GroupVersionResource
	// lastReset is when the mapper last forgot what it discovered, for a
	// kind it did not know (at most once per MapperResetEvery).
	lastReset time.Time
}

// MapperResetEvery is how often, at most, a kind the API server does not
// serve makes the workload cache discover the served kinds again: a CRD
// installed after primetime started is found within it.
const MapperResetEvery = time.Minute

// Start starts the Deployment and StatefulSet informers; informers added
// later stop with ctx too.
func (w *Workloads) Start(ctx context.Context) {
	w.mu.Lock()
	w.ctx = ctx
	w.lastReset = time.Now() // the mapper discovers afresh at its first look-up
	w.mu.Unlock()
	for _, gvr := range baseResources {
		w.informer(gvr)
	}
}

// HasSynced reports whether the Deployment and StatefulSet informers have
// synced. The informers of other kinds do not count: one primetime may
// not list (an Argo Rollout without the RBAC rule) never syncs, and must
// not keep the daemon unready, and the external metrics API down, for
// every target; its workload reads unknown until it syncs.
func (w *Workloads) HasSynced() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, gvr := range baseResources {
		if inf, ok := w.informers[gvr]; ok && !inf.HasSynced() {
			return false
		}
	}
	return true
}

// baseResources are the workloads watched from the start.
var baseResources = []schema.GroupVersionResource{
	{Group: "apps", Version: "v1", Resource: "deployments"},
	{Group: "apps", Version: "v1", Resource: "statefulsets"},
}

// informer returns the informer of gvr, starting it if needed.
func (w *Workloads) informer(gvr schema.GroupVersionResource) cache.SharedIndexInformer {
	w.mu.Lock()
	defer w.mu.Unlock()
	if inf, ok := w.informers[gvr]; ok {
		return inf
	}
	if w.informers == nil {
		w.informers = map[schema.GroupVersionResource]cache.SharedIndexInformer{}
	}
	inf := dynamicinformer.NewFilteredDynamicInformer(w.Dynamic, gvr, w.Namespace, 10*time.Minute,
		cache.Indexers{byManaged: managedIndex}, nil).Informer()
	_ = inf.SetTransform(slimWorkload)
	w.informers[gvr] = inf
	ctx := w.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	go inf.Run(ctx.Done())
	return inf
}

// slimWorkload keeps what the actuator reads of a workload.
func slimWorkload(obj any) (any, error) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return obj, nil
	}
	slim := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": u.GetAPIVersion(), "kind": u.GetKind(),
		"metadata": map[string]any{
			"name": u.GetName(), "namespace": u.GetNamespace(), "resourceVersion": u.GetResourceVersion(), "uid": string(u.GetUID()),
		},
	}}
	if ann := u.GetAnnotations(); len(ann) > 0 {
		slim.SetAnnotations(ann)
	}
	if r, found, _ := unstructured.NestedInt64(u.Object, "spec", "replicas"); found {
		_ = unstructured.SetNestedField(slim.Object, r, "spec", "replicas")
	}
	if r, found, _ := unstructured.NestedInt64(u.Object, "status", "readyReplicas"); found {
		_ = unstructured.SetNestedField(slim.Object, r, "status", "readyReplicas")
	}
	return slim, nil
}

// resource resolves a target's workload kind to its resource.
func (w *Workloads) resource(t *ground.Target) (schema.GroupVersionResource, error) {
	gv, err := schema.ParseGroupVersion(t.ScaleTargetRef.APIVersion)
	if err != nil {
		return schema.GroupVersionResource{}, err
	}
	gvk := gv.WithKind(t.ScaleTargetRef.Kind)
	if r, ok := w.resources.Load(gvk); ok {
		return r.(schema.GroupVersionResource), nil
	}
	// A kind not found is asked again at the next look-up: its CRD may
	// be installed meanwhile.
	m, err := w.Mapper.RESTMapping(gvk.GroupKind(), gv.Version)
	if err != nil && meta.IsNoMatchError(err) && w.reset() {
		m, err = w.Mapper.RESTMapping(gvk.GroupKind(), gv.Version)
	}
	if err != nil {
		return schema.GroupVersionResource{}, fmt.Errorf("%s %s: %w", t.ScaleTargetRef.APIVersion, t.ScaleTargetRef.Kind, err)
	}
	w.resources.Store(gvk, m.Resource)
	return m.Resource, nil
}

// reset makes a resettable mapper (the daemon's discovery mapper, which
// otherwise keeps what it discovered first) discover the served kinds
// again, and forgets the kinds resolved from it, at most once per
// MapperResetEvery; false when it did not.
func (w *Workloads) reset() bool {
	r, ok := w.Mapper.(meta.ResettableRESTMapper)
	if !ok {
		return false
	}
	w.mu.Lock()
	if !w.lastReset.IsZero() && time.Since(w.lastReset) < MapperResetEvery {
		w.mu.Unlock()
		return false
	}
	w.lastReset = time.Now()
	w.mu.Unlock()
	r.Reset()
	w.resources.Clear()
	return true
}

// Watch starts caching t's workload, without waiting: its ready replicas
// are then known when a floor first asks for them. A kind not served yet
// is left to the next look-up.
func (w *Workloads) Watch(t *ground.Target) {
	if gvr, err := w.resource(t); err == nil {
		w.informer(gvr)
	}
}

// Get returns t's workload from the cache.
func (w *Workloads) Get(t *ground.Target) (*unstructured.Unstructured, schema.GroupVersionResource, error) {
	gvr, err := w.resource(t)
	if err != nil {
		return nil, gvr, err
	}
	inf := w.informer(gvr)
	if !inf.HasSynced() {
		return nil, gvr, fmt.Errorf("the %s cache is not synced yet", gvr.Resource)
	}
	obj, ok, err := inf.GetIndexer().GetByKey(t.Namespace + "/" + t.ScaleTargetRef.Name)
	switch {
	case err != nil:
		return nil, gvr, err
	case !ok:
		return nil, gvr, fmt.Errorf("no %s %s/%s", t.ScaleTargetRef.Kind, t.Namespace, t.ScaleTargetRef.Name)
	}
	return obj.(*unstructured.Unstructured), gvr, nil
}

// managedWorkload is a cached workload carrying primetime's annotations.
type managedWorkload struct {
	gvr schema.GroupVersionResource
	obj *unstructured.Unstructured
}

// Managed returns the workloads, of the resources watched, that carry
// primetime's annotations.
func (w *Workloads) Managed() []managedWorkload {
	w.mu.Lock()
	infs := make(map[schema.GroupVersionResource]cache.SharedIndexInformer, len(w.informers))
	for gvr, inf := range w.informers {
		infs[gvr] = inf
	}
	w.mu.Unlock()
	var out []managedWorkload
	for gvr, inf := range infs {
		if !inf.HasSynced() {
			continue
		}
		objs, _ := inf.GetIndexer().ByIndex(byManaged, managedKey)
		for _, o := range objs {
			out = append(out, managedWorkload{gvr: gvr, obj: o.(*unstructured.Unstructured)})
		}
	}
	return out
}

// cachedWorkload returns a cached workload by resource, namespace and name.
func (w *Workloads) cachedWorkload(gvr schema.GroupVersionResource, namespace, name string) (*unstructured.Unstructured, bool) {
	w.mu.Lock()
	inf, ok := w.informers[gvr]
	w.mu.Unlock()
	if !ok {
		return nil, false
	}
	obj, found, err := inf.GetIndexer().GetByKey(namespace + "/" + name)
	if err != nil || !found {
		return nil, false
	}
	return obj.(*unstructured.Unstructured), true
}

// replicasOf reads a workload's spec.replicas (1 when unset, as the API
// server defaults it).
func replicasOf(u *unstructured.Unstructured) int32 {
	r, found, _ := unstructured.NestedInt64(u.Object, "spec", "replicas")
	if !found {
		return 1
	}
	return int32(r)
}
