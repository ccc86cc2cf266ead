package simulate

import (
	"context"
	"fmt"
	"sort"
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

// traceSource is a load source that answers from a trace, late by the
// metric delay, as a metrics backend does: at now it knows the load up
// to now-delay. The runner sets now before each call.
type traceSource struct {
	kind  ground.SourceKind
	trace Trace
	delay time.Duration
	now   time.Time
}

var _ sources.Source = (*traceSource)(nil)

func (s *traceSource) Kind() ground.SourceKind { return s.kind }

func (s *traceSource) Fetch(_ context.Context, queries []sources.Query, now time.Time) map[string]sources.Result {
	at := now.Add(-s.delay)
	r := sources.Result{Err: sources.ErrNoData}
	if v, ok := s.trace.LoadAt(at); ok {
		r = sources.Result{Value: sources.Value{V: v, At: at}}
	}
	out := make(map[string]sources.Result, len(queries))
	for _, q := range queries {
		out[q.Key()] = r
	}
	return out
}

func (s *traceSource) History(_ context.Context, _ sources.Query, from, to time.Time, step time.Duration) (ground.Series, error) {
	if step <= 0 {
		return nil, fmt.Errorf("history step must be positive, got %s", step)
	}
	known := s.now.Add(-s.delay)
	var out ground.Series
	for t := from; !t.After(to) && !t.After(known); t = t.Add(step) {
		if v, ok := s.trace.LoadAt(t); ok {
			out = append(out, ground.Sample{T: t, V: v})
		}
	}
	return out, nil
}
