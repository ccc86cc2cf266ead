// Package metricsapi serves primetime's decisions through the Kubernetes
// external metrics API (external.metrics.k8s.io), built on
// sigs.k8s.io/custom-metrics-apiserver. Requests are answered from the
// board in memory; a request never calls a load source.
//
// It may import scaler (the board) and custom-metrics-apiserver.
package metricsapi
