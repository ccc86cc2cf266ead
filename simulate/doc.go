// Package simulate replays a load trace through primetime's own engine
// and policies, a model of the HorizontalPodAutoscaler controller and a
// model of pod start-up, and measures what each scaling strategy costs and
// leaves unserved. It backs `primetime simulate`.
//
// Everything runs on a simulated clock, one step (1 s) at a time: the
// trace's load is read late by the metric delay, primetime's engine is
// the daemon's (sources.Poller, scaler.HistoryCache, scaler.Engine,
// scaler.Board), the HPA reads the board as the external metrics API
// does, and pods serve load only once started.
//
// It sits beside the daemon, not inside it: it may import ground,
// policies, policies/config, sources and scaler, and the daemon never
// imports it. Trace files (CSV of timestamp,load) are read and written
// here.
package simulate
