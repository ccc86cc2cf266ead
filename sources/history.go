package sources

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/primetime-dev/primetime/ground"
)

// historyChunk bounds one history request of a kind of source: Prometheus
// answers at most 11,000 points per range query; Datadog's points are its
// rollup's, and 12 hours of them stay within what one call returns.
func historyChunk(kind ground.SourceKind, step time.Duration) time.Duration {
	if kind == ground.SourceDatadog {
		return 12 * time.Hour
	}
	return 10000 * step
}

// FetchHistory reads q's load over [from, to] at step from src, in chunks
// of historyChunk, in time order without duplicates. An error names the
// range and the query.
func FetchHistory(ctx context.Context, src Source, q Query, from, to time.Time, step time.Duration) (ground.Series, error) {
	var out ground.Series
	chunk := historyChunk(q.Kind(), step)
	for a := from; !a.After(to); a = a.Add(chunk + step) {
		b := a.Add(chunk)
		if b.After(to) {
			b = to
		}
		s, err := src.History(ctx, q, a, b, step)
		if err != nil {
			text := q.Spec.Prometheus
			if q.Kind() == ground.SourceDatadog {
				text = q.Spec.Datadog
			}
			msg := err.Error()
			if !strings.Contains(msg, text) && !strings.Contains(msg, strconv.Quote(text)) {
				msg = fmt.Sprintf("%s query %q: %s", q.Kind(), text, msg)
			}
			return nil, fmt.Errorf("load history from %s to %s: %s", a.UTC().Format(time.RFC3339), b.UTC().Format(time.RFC3339), msg)
		}
		out = append(out, s...)
	}
	slices.SortFunc(out, func(a, b ground.Sample) int { return a.T.Compare(b.T) })
	return slices.CompactFunc(out, func(a, b ground.Sample) bool { return a.T.Equal(b.T) }), nil
}
