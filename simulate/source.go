package simulate

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync/atomic"
	"time"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/sources"
)

// Trace is a load trace: samples sorted by time, the load linear between
// them.
type Trace ground.Series

// Start returns the time of the first sample.
func (tr Trace) Start() time.Time { return tr[0].T }

// End returns the time of the last sample.
func (tr Trace) End() time.Time { return tr[len(tr)-1].T }

// LoadAt returns the load at t, interpolated between the samples around
// it, and false outside the trace.
func (tr Trace) LoadAt(t time.Time) (float64, bool) {
	if len(tr) == 0 || t.Before(tr[0].T) || t.After(tr[len(tr)-1].T) {
		return 0, false
	}
	i := sort.Search(len(tr), func(i int) bool { return !tr[i].T.Before(t) })
	if tr[i].T.Equal(t) || i == 0 {
		return tr[i].V, true
	}
	a, b := tr[i-1], tr[i]
	f := float64(t.Sub(a.T)) / float64(b.T.Sub(a.T))
	return a.V + f*(b.V-a.V), true
}

// traceSource is a load source that answers from a series, as a metrics
// backend does at the replay's instant now (the runner sets it before
// each call). Two kinds of series:
//
//   - a trace (simulate): the load linear between its rows, known up to
//     now-delay. A Datadog query that pins a rollup (.rollup(avg, 300)) is
//     answered as Datadog does: the mean load of the newest bucket that
//     ended by now-delay, buckets aligned on the epoch, stamped at the
//     bucket's end.
//   - points read from the source's history (report, points set): its
//     newest point up to now, as it was read; a Datadog point stands for
//     the bucket of its query's rollup.
type traceSource struct {
	kind  ground.SourceKind
	trace Trace
	delay time.Duration
	// points: trace holds points read from a source, not a load to
	// interpolate.
	points bool
	// now is the replay's instant, in Unix nanoseconds: set by the runner
	// while history fetches (the engine's LoadBefore) read it apart.
	now atomic.Int64
}

// setNow sets the replay's instant.
func (s *traceSource) setNow(t time.Time) { s.now.Store(t.UnixNano()) }

// clock returns the replay's instant.
func (s *traceSource) clock() time.Time { return time.Unix(0, s.now.Load()) }

var _ sources.Source = (*traceSource)(nil)

func (s *traceSource) Kind() ground.SourceKind { return s.kind }

func (s *traceSource) Fetch(_ context.Context, queries []sources.Query, now time.Time) map[string]sources.Result {
	known := now.Add(-s.delay)
	out := make(map[string]sources.Result, len(queries))
	for _, q := range queries {
		r := sources.Result{Err: sources.ErrNoData}
		w := s.rollup(q)
		switch {
		case s.points:
			if i := s.upTo(known); i > 0 {
				p := s.trace[i-1]
				r = sources.Result{Value: sources.Value{V: p.V, At: p.T, Span: w}}
			}
		case w > 0:
			end := bucketStart(known, w)
			if v, ok := s.trace.Mean(end.Add(-w), end); ok {
				r = sources.Result{Value: sources.Value{V: v, At: end, Span: w}}
			}
		default:
			if v, ok := s.trace.LoadAt(known); ok {
				r = sources.Result{Value: sources.Value{V: v, At: known}}
			}
		}
		out[q.Key()] = r
	}
	return out
}

// bucketStart is the start of the w-wide bucket holding t, buckets
// aligned on the Unix epoch as Datadog's are (time.Truncate aligns on
// year 1, which differs for widths that do not divide a day).
func bucketStart(t time.Time, w time.Duration) time.Time {
	epoch := time.Unix(0, 0)
	return epoch.Add(t.Sub(epoch).Truncate(w))
}

// rollup is the bucket width of a query: the rollup a Datadog query pins,
// else 0 (a point value).
func (s *traceSource) rollup(q sources.Query) time.Duration {
	if s.kind != ground.SourceDatadog {
		return 0
	}
	return ground.DatadogRollup(q.Spec.Datadog)
}

// upTo returns the number of samples at or before t.
func (s *traceSource) upTo(t time.Time) int {
	return sort.Search(len(s.trace), func(i int) bool { return s.trace[i].T.After(t) })
}

// add merges points into a points series.
func (s *traceSource) add(points ground.Series) {
	s.trace = append(s.trace, points...)
	slices.SortFunc(s.trace, func(a, b ground.Sample) int { return a.T.Compare(b.T) })
	s.trace = slices.CompactFunc(s.trace, func(a, b ground.Sample) bool { return a.T.Equal(b.T) })
}

// Mean returns the mean load over [from, to), sampled every Step, and
// false when the trace does not cover all of it.
func (tr Trace) Mean(from, to time.Time) (float64, bool) {
	if len(tr) == 0 || from.Before(tr[0].T) || to.After(tr[len(tr)-1].T.Add(Step)) || !from.Before(to) {
		return 0, false
	}
	sum, n := 0.0, 0
	for t := from; t.Before(to); t = t.Add(Step) {
		v, ok := tr.LoadAt(t)
		if !ok {
			return 0, false
		}
		sum += v
		n++
	}
	return sum / float64(n), true
}

func (s *traceSource) History(_ context.Context, q sources.Query, from, to time.Time, step time.Duration) (ground.Series, error) {
	known := s.clock().Add(-s.delay)
	if s.points {
		if to.After(known) {
			to = known
		}
		a := sort.Search(len(s.trace), func(i int) bool { return !s.trace[i].T.Before(from) })
		b := s.upTo(to)
		if a >= b {
			return nil, nil
		}
		return ground.Series(slices.Clone(s.trace[a:b])), nil
	}
	if step <= 0 {
		return nil, fmt.Errorf("history step must be positive, got %s", step)
	}
	if w := s.rollup(q); w > 0 {
		var out ground.Series
		for end := bucketStart(from, w).Add(w); !end.After(to) && !end.After(known); end = end.Add(w) {
			if v, ok := s.trace.Mean(end.Add(-w), end); ok {
				out = append(out, ground.Sample{T: end, V: v})
			}
		}
		return out, nil
	}
	var out ground.Series
	for t := from; !t.After(to) && !t.After(known); t = t.Add(step) {
		if v, ok := s.trace.LoadAt(t); ok {
			out = append(out, ground.Sample{T: t, V: v})
		}
	}
	return out, nil
}
