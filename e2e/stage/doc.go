// Package stage sets up what primetime's e2e scenarios and the demo run
// on: a storefront on a real control plane (see e2e/testbed), with a load
// generator, Prometheus, an HPA on primetime_replicas, and primetime serve
// itself.
//
// It may import e2e/testbed, e2e/loadgen and ground; it runs primetime
// as a process, never imports its daemon.
package stage
