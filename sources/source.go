package sources

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/primetime-dev/primetime/ground"
)

// Query is the load query of one target. Identical queries of different
// targets share one Key and are fetched once.
type Query struct {
	// Namespace is the target's namespace; pod-based sources look there.
	Namespace string
	Spec      ground.LoadSpec
}

// Kind returns the source kind that answers the query.
func (q Query) Kind() ground.SourceKind { return q.Spec.Kind() }

// Key identifies the query across targets: queries to a remote backend
// (Prometheus, Datadog) are the same wherever they come from; pod-based
// queries depend on the namespace.
func (q Query) Key() string {
	s := q.Spec
	switch q.Kind() {
	case ground.SourcePrometheus:
		return "prometheus:" + s.Prometheus
	case ground.SourceDatadog:
		return "datadog:" + s.Datadog
	case ground.SourceKubernetes:
		return "kubernetes:" + q.Namespace + ":" + s.Kubernetes.Resource + ":" + s.Kubernetes.Selector
	default:
		sc := s.Scrape
		return "scrape:" + q.Namespace + ":" + sc.Selector + ":" + strconv.Itoa(int(sc.Port)) + sc.Path + ":" + sc.Counter
	}
}

// Value is a load value and the time it describes.
type Value struct {
	V float64
	// At is the end of the time the value describes (a Datadog bucket's
	// end): its age is measured from there.
	At time.Time
	// Span is the width of the bucket the value summarises (a Datadog
	// rollup), zero for an instant. A new value comes only once per
	// Span, so the value stays fresh for Span beyond the staleness limit.
	Span time.Duration
}

// Result is the outcome of fetching one query: a Value, or an error that
// is ErrNoData, a *RateLimitError or another failure.
type Result struct {
	Value Value
	Err   error
}

// Errors that classify a result.
var (
	// ErrNoData: the source answered, with nothing for this query.
	ErrNoData = errors.New("no data")
	// ErrNoHistory: the source keeps no history (scrape, kubernetes).
	ErrNoHistory = errors.New("this source keeps no history")
)

// RateLimitError says the source refused or skipped the call because its
// rate limit is exhausted; no call is made before RetryAt.
type RateLimitError struct {
	RetryAt time.Time
}

func (e *RateLimitError) Error() string {
	return "rate limited until " + e.RetryAt.UTC().Format(time.RFC3339)
}

// Source fetches load for one kind of load spec.
type Source interface {
	// Kind is the load kind this source answers.
	Kind() ground.SourceKind
	// Fetch returns the current value of each query, keyed by Query.Key.
	// A query missing from the answer counts as an error.
	Fetch(ctx context.Context, queries []Query, now time.Time) map[string]Result
	// History returns q's load over [from, to] at step, for forecasts, or
	// ErrNoHistory.
	History(ctx context.Context, q Query, from, to time.Time, step time.Duration) (ground.Series, error)
}

// HistoryResult is one query's past load, or why there is none.
type HistoryResult struct {
	Series ground.Series
	Err    error
}

// BatchHistory is a Source that reads the history of many queries over one
// range in few calls (Datadog: up to 35 queries per call). The forecast
// history cache uses it instead of one History call per query.
type BatchHistory interface {
	// HistoryBatchSize is the most distinct queries one call holds.
	HistoryBatchSize() int
	// HistoryBatch returns the load of every query over [from, to], keyed
	// by Query.Key; a query missing from the answer counts as an error.
	HistoryBatch(ctx context.Context, queries []Query, from, to time.Time, step time.Duration) map[string]HistoryResult
}

// Status classifies a reading.
type Status string

// The statuses of a reading.
const (
	StatusOK          Status = "ok"
	StatusNoData      Status = "no-data"
	StatusStale       Status = "stale"
	StatusError       Status = "error"
	StatusRateLimited Status = "rate-limited"
	StatusPending     Status = "pending" // not fetched yet
)

// Reading is what the cache knows about a query at one instant.
type Reading struct {
	Status Status
	// Value is the last good value; use it only when Status is StatusOK.
	Value Value
	// Err explains a status other than StatusOK.
	Err error
	// Age is the age of the last good value; zero when there is none.
	Age time.Duration
	// Limit is the age past which the value is stale: the source's
	// staleness limit plus the value's Span; zero when there is none.
	Limit time.Duration
}

// Load returns the value when the reading is usable.
func (r Reading) Load() ground.Opt[float64] {
	if r.Status != StatusOK {
		return ground.None[float64]()
	}
	return ground.Some(r.Value.V)
}

// StaleError says the newest value is older than the source's limit.
type StaleError struct {
	// Limit is the staleness limit plus Span, the width of the value's
	// bucket.
	Age, Limit, Span time.Duration
	// Cause is the last fetch's error, if it failed.
	Cause error
}

func (e *StaleError) Error() string {
	msg := fmt.Sprintf("data is %s old, older than the %s limit", e.Age.Round(time.Second), e.Limit)
	if e.Span > 0 {
		msg = fmt.Sprintf("data is %s old, older than the %s limit (the %s limit plus its %s bucket)", e.Age.Round(time.Second), e.Limit, e.Limit-e.Span, e.Span)
	}
	if e.Cause != nil {
		msg += ": " + e.Cause.Error()
	}
	return msg
}

func (e *StaleError) Unwrap() error { return e.Cause }

// statusOf classifies a fetch error.
func statusOf(err error) Status {
	var rl *RateLimitError
	switch {
	case err == nil:
		return StatusOK
	case errors.Is(err, ErrNoData):
		return StatusNoData
	case errors.As(err, &rl):
		return StatusRateLimited
	}
	return StatusError
}

// Outcome labels a request in primetime_source_requests_total.
type Outcome string

// The request outcomes.
const (
	OutcomeSuccess     Outcome = "success"
	OutcomeNoData      Outcome = "no_data"
	OutcomeError       Outcome = "error"
	OutcomeTimeout     Outcome = "timeout"
	OutcomeRateLimited Outcome = "rate_limited"
)

// OutcomeOf classifies a request's error.
func OutcomeOf(err error) Outcome {
	switch {
	case err == nil:
		return OutcomeSuccess
	case errors.Is(err, context.DeadlineExceeded):
		return OutcomeTimeout
	}
	switch statusOf(err) {
	case StatusNoData:
		return OutcomeNoData
	case StatusRateLimited:
		return OutcomeRateLimited
	}
	return OutcomeError
}

// Observer records the requests a source makes. A nil *Metrics is a valid
// Observer that records nothing.
type Observer interface {
	ObserveRequest(source ground.SourceKind, outcome Outcome, d time.Duration)
}
