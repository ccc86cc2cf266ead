// Package prometheus reads load from a Prometheus server (or anything that
// speaks its HTTP API: Thanos, Mimir, Cortex, managed offerings) with
// instant queries, and history for forecasts with range queries.
//
// It may import ground, sources and Prometheus' Go client.
package prometheus
