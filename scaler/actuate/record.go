package actuate

import (
	"fmt"
	"strconv"

	"github.com/primetime-dev/primetime/ground"
)

// Annotations primetime keeps on the objects it writes. They are its only
// state for the hpa-floor and scale modes, so a restart, a failover or an
// upgrade loses nothing, and they tell primetime's own writes from
// everyone else's.
const (
	// AnnotationTarget names the target (namespace/name) that drives the
	// object.
	AnnotationTarget = "primetime.dev/target"

	// AnnotationOriginalMin records, on an HPA whose minReplicas primetime
	// raised, the value to restore: the owner's.
	AnnotationOriginalMin = "primetime.dev/original-min-replicas"
	// AnnotationWrittenMin is the minReplicas primetime last wrote; any
	// other value was set by someone else.
	AnnotationWrittenMin = "primetime.dev/written-min-replicas"
	// AnnotationYieldedMin says that someone else set minReplicas (to this
	// value) while primetime had raised it: primetime leaves it alone until
	// the window's floor is released.
	AnnotationYieldedMin = "primetime.dev/yielded-min-replicas"

	// AnnotationOriginalMax, AnnotationWrittenMax and AnnotationYieldedMax
	// are the same for the maxReplicas a quiet window lowers.
	AnnotationOriginalMax = "primetime.dev/original-max-replicas"
	AnnotationWrittenMax  = "primetime.dev/written-max-replicas"
	AnnotationYieldedMax  = "primetime.dev/yielded-max-replicas"

	// AnnotationOriginalReplicas, AnnotationWrittenReplicas and
	// AnnotationYieldedReplicas are the same for a scale-mode workload's
	// replicas during a window (floor or quiet cap): the original is the
	// replicas it had when the window began, which it returns to when the
	// window ends with the load unknown (out of a quiet night at 0).
	AnnotationOriginalReplicas = "primetime.dev/original-replicas"
	AnnotationWrittenReplicas  = "primetime.dev/written-replicas"
	AnnotationYieldedReplicas  = "primetime.dev/yielded-replicas"
)

// fieldKeys are the annotations of one field primetime writes.
type fieldKeys struct {
	field                      string // for messages: minReplicas, maxReplicas, replicas
	original, written, yielded string
}

var (
	minKeys      = fieldKeys{"minReplicas", AnnotationOriginalMin, AnnotationWrittenMin, AnnotationYieldedMin}
	maxKeys      = fieldKeys{"maxReplicas", AnnotationOriginalMax, AnnotationWrittenMax, AnnotationYieldedMax}
	replicasKeys = fieldKeys{"replicas", AnnotationOriginalReplicas, AnnotationWrittenReplicas, AnnotationYieldedReplicas}
)

// managedKeys lists every annotation primetime writes.
var managedKeys = []string{
	AnnotationTarget,
	AnnotationOriginalMin, AnnotationWrittenMin, AnnotationYieldedMin,
	AnnotationOriginalMax, AnnotationWrittenMax, AnnotationYieldedMax,
	AnnotationOriginalReplicas, AnnotationWrittenReplicas, AnnotationYieldedReplicas,
}

// managed reports whether an object carries any of primetime's
// annotations.
func managed(ann map[string]string) bool {
	for _, k := range managedKeys {
		if _, ok := ann[k]; ok {
			return true
		}
	}
	return false
}

// fieldRecord is what primetime recorded on an object for one field.
type fieldRecord struct {
	// Original is the owner's value, to restore; Written is what primetime
	// last wrote. Both are set while primetime holds the field.
	Original, Written ground.Opt[int32]
	// Yielded is set once someone else changed the field while primetime
	// held it: the value they set.
	Yielded ground.Opt[int32]
}

// empty reports whether nothing is recorded.
func (r fieldRecord) empty() bool { return !r.Original.OK && !r.Written.OK && !r.Yielded.OK }

// readRecord reads a field's annotations. An original without a written
// value was left by a version of primetime that did not record its
// writes: the value there is taken as primetime's (readRecord's caller
// passes it as observed).
func readRecord(ann map[string]string, k fieldKeys, observed int32) (fieldRecord, error) {
	var r fieldRecord
	for _, f := range []struct {
		key string
		dst *ground.Opt[int32]
	}{{k.original, &r.Original}, {k.written, &r.Written}, {k.yielded, &r.Yielded}} {
		text, ok := ann[f.key]
		if !ok {
			continue
		}
		v, err := strconv.ParseInt(text, 10, 32)
		if err != nil || v < 0 {
			return fieldRecord{}, fmt.Errorf("annotation %s=%q is not a replica count", f.key, text)
		}
		*f.dst = ground.Some(int32(v))
	}
	if r.Original.OK && !r.Written.OK && !r.Yielded.OK {
		r.Written = ground.Some(observed) // an upgrade from a version that did not record it
	}
	return r, nil
}

// annotations returns the merge-patch values of a field's annotations:
// the recorded values, nil for the others (a merge patch removes them).
func (r fieldRecord) annotations(k fieldKeys) map[string]any {
	out := map[string]any{k.original: nil, k.written: nil, k.yielded: nil}
	for key, v := range map[string]ground.Opt[int32]{k.original: r.Original, k.written: r.Written, k.yielded: r.Yielded} {
		if v.OK {
			out[key] = strconv.Itoa(int(v.V))
		}
	}
	return out
}

// fieldPlan is what to do with one field of an object.
type fieldPlan struct {
	// Write is the value to write; absent when the field stays as it is.
	Write ground.Opt[int32]
	// Record is what the annotations hold afterwards.
	Record fieldRecord
	// Overridden is set when someone else changed the field since
	// primetime wrote it: their value is kept and primetime yields.
	Overridden bool
	// Restored is set when the owner's value is written back.
	Restored bool
}

// planField decides one field primetime bounds: want is the floor
// (raise) or ceiling (!raise) primetime wants now, absent when no window
// bounds the field. It never fights another writer: a value that differs
// from what primetime wrote was set by someone else, is kept, and
// primetime leaves the field alone until want is gone.
func planField(observed int32, rec fieldRecord, want ground.Opt[int32], raise bool) fieldPlan {
	var p fieldPlan
	if rec.Written.OK && observed != rec.Written.V {
		p.Overridden = true
		rec = fieldRecord{Yielded: ground.Some(observed)}
	}
	if rec.Yielded.OK {
		if want.OK {
			p.Record = rec // still yielded while the window lasts
		}
		return p // once it is over: the annotations go, nothing is restored
	}
	base := rec.Original.Or(observed) // the owner's value
	target := base
	if want.OK {
		if raise {
			target = max(want.V, base)
		} else {
			target = min(want.V, base)
		}
	}
	if target == base {
		if rec.Original.OK && observed != base {
			p.Write, p.Restored = ground.Some(base), true
		}
		return p
	}
	if observed != target {
		p.Write = ground.Some(target)
	}
	p.Record = fieldRecord{Original: ground.Some(base), Written: ground.Some(target)}
	return p
}

// planReplicas decides a scale-mode workload's replicas. decided is what
// primetime wants written (already paced), absent when it has no fresh
// load and no floor; inWindow says a window's floor or cap is in force.
// During a window the replicas before it are recorded; when it ends with
// the load unknown, the workload returns to them (at least minReplicas),
// so a quiet night at 0 never stays at 0 for want of data. Someone
// else's change during a window is kept until the window ends.
func planReplicas(observed int32, rec fieldRecord, decided ground.Opt[int32], inWindow bool, minReplicas int32) fieldPlan {
	var p fieldPlan
	if rec.Written.OK && observed != rec.Written.V {
		p.Overridden = true
		rec = fieldRecord{Yielded: ground.Some(observed)}
	}
	if rec.Yielded.OK {
		if inWindow {
			p.Record = rec
		}
		return p
	}
	switch {
	case inWindow && decided.OK:
		p.Record = fieldRecord{Original: ground.Some(rec.Original.Or(observed)), Written: decided}
		if observed != decided.V {
			p.Write = decided
		}
	case inWindow:
		p.Record = rec // no decision: hold, keep what is recorded
	case decided.OK:
		if observed != decided.V {
			p.Write = decided
		}
	case rec.Original.OK:
		back := max(rec.Original.V, minReplicas)
		if observed != back {
			p.Write, p.Restored = ground.Some(back), true
		}
	}
	return p
}
