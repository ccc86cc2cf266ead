// Package scrape is primetime's fast path for unplanned spikes: it reads a
// counter straight from the target's pods every few seconds and sums its
// rate over the pods, without waiting for a metrics pipeline.
//
// It may import ground, sources and client-go (to find the pods).
package scrape
