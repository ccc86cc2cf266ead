package actuate

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/scale"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/policies"
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

// ReadyReplicas implements scaler.ReadyReader: the workload's ready
// replicas from the cache (status.readyReplicas, 0 when absent), unknown
// until the cache has the workload.
func (a *Actuator) ReadyReplicas(t *ground.Target) ground.Opt[int32] {
	if a.Workloads == nil {
		return ground.None[int32]()
	}
	u, _, err := a.Workloads.Get(t)
	if err != nil {
		return ground.None[int32]()
	}
	r, _, _ := unstructured.NestedInt64(u.Object, "status", "readyReplicas")
	return ground.Some(int32(r))
}

// Watch implements scaler.WorkloadWatcher: t's workload is cached from
// now on, whatever its kind.
func (a *Actuator) Watch(t *ground.Target) {
	if a.Workloads != nil {
		a.Workloads.Watch(t)
	}
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

func (k objectKey) kind() string {
	if k.isHPA() {
		return "hpa"
	}
	return "workload"
}
