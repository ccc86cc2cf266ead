// Package loadgen plays a web application's traffic for primetime's e2e
// tests and demo: a total request rate the test controls, spread over the
// ready pods, each pod exposing its own http_requests_total on its own
// loopback address (as a real pod would on its IP), plus one aggregate
// endpoint for Prometheus.
//
// It imports nothing of primetime's.
package loadgen
