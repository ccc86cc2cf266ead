// Package testbed starts the real programs primetime's integration and e2e
// tests run against (Prometheus, etcd, kube-apiserver, ...) on loopback, in
// temporary directories, and makes sure none of them outlives its test.
//
// It imports nothing of primetime's.
package testbed
