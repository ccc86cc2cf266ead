// Command demo is `make demo`: a real control plane on loopback (etcd,
// kube-apiserver, the controller manager with the HPA controller), a
// storefront Deployment whose pods take 20 s to start, a load generator,
// Prometheus and primetime serve, then a TV spot announced in a windows
// ConfigMap. A live table shows the traffic, what primetime sees and
// wants, and the Deployment's replicas as the spot approaches and passes:
// the replicas are ready before the traffic arrives. Ctrl-C stops it and
// cleans everything up.
//
// It may import e2e/stage and e2e/testbed.
package main
