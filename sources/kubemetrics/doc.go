// Package kubemetrics reads the CPU usage of a target's pods from the
// Kubernetes resource metrics API (metrics.k8s.io, served by
// metrics-server), for workloads whose load is best measured in cores.
//
// It may import ground, sources and k8s.io/metrics.
package kubemetrics
