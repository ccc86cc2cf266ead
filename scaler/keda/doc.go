// Package keda serves primetime's decisions to KEDA through its external
// scaler protocol (KEDA's externalscaler.proto, generated into
// externalscaler/): a ScaledObject trigger of type `external` or
// `external-push` with metadata `target: namespace/name` gets
// primetime_replicas for that target, from the same board as the external
// metrics API, on every replica. KEDA users cannot register a second
// external.metrics.k8s.io server; this is how they use primetime.
//
// It owns the gRPC service (Server), its TLS (ServerTLS) and the meaning
// of the trigger's metadata. It may import scaler (the Board), ground and
// grpc; it never calls a load source and never writes to the cluster.
package keda
