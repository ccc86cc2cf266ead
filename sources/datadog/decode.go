package datadog

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/DataDog/datadog-api-client-go/v2/api/datadogV1"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/sources"
)

// PinRollup returns the query as primetime sends it, each metric term
// (agg:metric{tags} and its methods) with a pinned rollup: .rollup(avg,N)
// appended, or .rollup(sum,N) when the term counts (.as_count()), so that
// live reads and history have one bucket width and one unit whatever the
// range asked. N is the widest interval the query pins itself (a formula's
// metrics then count per one width), else rollup. A .rollup(fn) without
// an interval gets N too: Datadog would pick one by the range asked (1 s
// for the 5 minutes of a live read, 20 s for an hour of history), and a
// count read live and its history would count per different buckets. A
// query with a rollup outside its metrics' terms (around a function or a
// formula) governs its own buckets: only its bare rollups are pinned. A
// query with no term primetime recognises gets the rollup appended to the
// whole.
func PinRollup(query string, rollup time.Duration) string {
	n := int64(rollup / time.Second)
	if w := ground.DatadogRollup(query); w > 0 {
		n = int64(w / time.Second)
	}
	terms := metricTerm.FindAllStringSubmatchIndex(query, -1)
	outside := metricTerm.ReplaceAllString(query, "")
	if strings.Contains(outside, ".rollup(") || (len(terms) == 0 && strings.Contains(query, ".rollup(")) {
		return bareRollup.ReplaceAllString(query, fmt.Sprintf(".rollup($1,%d)", n))
	}
	if len(terms) == 0 {
		return query + rollupFor(strings.Contains(query, ".as_count()"), n)
	}
	// A .as_count() outside every term applies to the whole formula.
	countsAll := strings.Contains(outside, ".as_count()")
	var b strings.Builder
	b.Grow(len(query) + len(terms)*len(".rollup(avg,30)"))
	last := 0
	for _, m := range terms {
		end, methods := m[1], query[m[2]:m[3]]
		b.WriteString(query[last:end])
		last = end
		if strings.Contains(methods, ".rollup(") {
			continue // pinned by bareRollup below when it has no interval
		}
		b.WriteString(rollupFor(countsAll || strings.Contains(methods, ".as_count()"), n))
	}
	b.WriteString(query[last:])
	return bareRollup.ReplaceAllString(b.String(), fmt.Sprintf(".rollup($1,%d)", n))
}

// rollupFor is the rollup appended to a term: a sum of a count, else a mean.
func rollupFor(counts bool, n int64) string {
	if counts {
		return fmt.Sprintf(".rollup(sum,%d)", n)
	}
	return fmt.Sprintf(".rollup(avg,%d)", n)
}

var (
	// metricTerm is one metric of a query: an optional space aggregator,
	// the metric's name, its tags (and "by" tags), then its methods
	// (.as_count(), .fill(null, 10), .rollup(sum)); the methods are its
	// first group.
	metricTerm = regexp.MustCompile(`(?:[a-z][a-z0-9]*:)?[A-Za-z_][A-Za-z0-9_.]*\{[^{}]*\}(?:\s*by\s*\{[^{}]*\})?((?:\s*\.[a-z_]+\([^()]*\))*)`)
	// bareRollup is a .rollup( with an aggregator and no interval.
	bareRollup = regexp.MustCompile(`\.rollup\(\s*(avg|sum|min|max|count)\s*\)`)
)

// groupedError answers a query that returns several series.
func groupedError(query string, n int) error {
	return fmt.Errorf("datadog query %q returns %d series (one per group), want one: primetime needs one number per target; drop its \"by {...}\" to aggregate them (sum: for a total, avg: for a mean)", query, n)
}

// latest returns the newest complete point of a query's series, stamped at
// the end of its bucket, its Span the bucket's width.
func latest(list []datadogV1.MetricsQueryMetadata, query string, end time.Time, settle, pinned time.Duration) sources.Result {
	switch len(list) {
	case 0:
		return sources.Result{Err: sources.ErrNoData}
	case 1:
	default:
		return sources.Result{Err: groupedError(query, len(list))}
	}
	points, width := completePoints(list[0], end, settle, pinned)
	if len(points) == 0 {
		return sources.Result{Err: sources.ErrNoData}
	}
	p := points[len(points)-1]
	return sources.Result{Value: sources.Value{V: p.V, At: p.T, Span: width}}
}

// completePoints returns a series' non-null points whose bucket is
// complete, in time order, each stamped with the end of its bucket, and
// the buckets' width. A bucket spans [timestamp, timestamp + the series'
// interval) (pinned, the rollup the query was sent with, when the answer
// gives none or a nonsense one); it is
// complete once it ended at least settle before end: the points of the
// last half minute reach Datadog late, so a bucket that just ended may
// hold only some hosts' points. Whatever the width, the newest bucket that
// can be complete is read: at 1 s buckets that skips 30 of them, at 300 s
// the one still filling, and the value read is at most width + settle old.
func completePoints(series datadogV1.MetricsQueryMetadata, end time.Time, settle, pinned time.Duration) (ground.Series, time.Duration) {
	width := time.Duration(series.GetInterval()) * time.Second
	if iv := series.GetInterval(); iv <= 0 || iv > int64(366*24*time.Hour/time.Second) {
		width = max(pinned, settle)
	}
	cutoff := end.Add(-settle)
	var out ground.Series
	for _, p := range series.Pointlist {
		if len(p) < 2 || p[0] == nil || p[1] == nil {
			continue
		}
		bucketEnd := time.UnixMilli(int64(*p[0])).Add(width)
		if bucketEnd.After(cutoff) {
			continue
		}
		out = append(out, ground.Sample{T: bucketEnd, V: *p[1]})
	}
	slices.SortFunc(out, func(a, b ground.Sample) int { return a.T.Compare(b.T) })
	return slices.CompactFunc(out, func(a, b ground.Sample) bool { return a.T.Equal(b.T) }), width
}
