package actuate

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/policies"
)

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
