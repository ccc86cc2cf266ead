// Package actuate carries decisions out: in hpa-floor mode it raises the
// HPA's spec.minReplicas during windows and restores it after; in scale
// mode it writes the workload's /scale subresource; in every mode it
// records PrescaleStarted and PrescaleEnded Events on the workload.
//
// Its parts, each one idea:
//   - desire.go: what each cycle's decisions want of each object, and the
//     queue of objects that need a write (from caches only);
//   - plan.go and record.go: the planning of a write, pure functions of an
//     object as it is and of a want (which fields, which annotations;
//     someone else's edit is yielded to, the owner's value restored);
//   - write.go: the writes, conflict-safe (a fresh read and a new plan
//     after a conflict), and their dry run;
//   - readiness.go: PrescaleStarted and PrescaleEnded Events, and the
//     check that a floor was ready when its window started (PrescaleLate);
//   - actuate.go: the Actuator, its informers' index and its workers;
//     placeholders.go: warm nodes.
//
// It may import ground, policies and client-go; the engine calls it
// through scaler.Actuator.
package actuate
