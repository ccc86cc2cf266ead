// Package actuate carries decisions out: in hpa-floor mode it raises the
// HPA's spec.minReplicas during windows and restores it after; in scale
// mode it writes the workload's /scale subresource; in every mode it
// records PrescaleStarted and PrescaleEnded Events on the workload.
//
// It may import ground, policies and client-go; the engine calls it
// through scaler.Actuator.
package actuate
