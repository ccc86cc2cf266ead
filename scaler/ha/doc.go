// Package ha lets several primetime replicas run side by side.
//
// One replica leads, elected on a Lease: it alone polls the load sources
// (so Datadog is queried once, whatever the replica count), evaluates and
// acts. Every replica serves the external metrics API, and all of them
// serve the leader's values: the leader writes its decisions, with the
// baselines it latched for running windows, into one ConfigMap of its own
// namespace, gzipped (10,000 targets fit in a few hundred kB), and the
// followers watch it. This was chosen over followers computing their own
// decisions (they would query Datadog too, and could disagree with the
// leader mid-ramp) and over proxying to the leader (a request would then
// depend on the leader's network path). When a leader dies, its last
// decisions keep being served until they are older than the API's limit,
// then the API answers errors and the HPA holds; the next leader starts
// from the state the last one wrote, so a ramp goes on where it was.
//
// The Leader type is what a replica does while it holds the Lease. The
// package may import scaler, sources and ground.
package ha
