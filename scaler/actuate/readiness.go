package actuate

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/policies"
	"github.com/primetime-dev/primetime/policies/config"
)

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
