// Package datadog reads load from Datadog's metrics query API with the
// official client, batching the queries of all targets into few calls and
// staying within the organisation's rate limit.
//
// Why the v1 query API and not v2 timeseries: v1 takes many queries in one
// GET (comma-joined, each series tagged with its query_index), which is how
// the Datadog Cluster Agent serves external metrics at scale, so one call per
// 35 distinct queries answers every target. v2 /query/timeseries also
// batches, but its formulas-and-queries body costs more per query to build
// and decode, and its rate limit is counted the same way; for "give me the
// latest value of N queries" v1 does the job with less.
package datadog

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/DataDog/datadog-api-client-go/v2/api/datadog"
	"github.com/DataDog/datadog-api-client-go/v2/api/datadogV1"
	"go.uber.org/zap"

	"github.com/primetime-dev/primetime/policies"
	"github.com/primetime-dev/primetime/policies/config"
	"github.com/primetime-dev/primetime/sources"
)

// Defaults of the Datadog source.
const (
	// DefaultBatchSize is the most queries sent in one call.
	DefaultBatchSize = 35
	// DefaultMaxQueryLength bounds the URL-escaped query parameter of one
	// call, keeping the whole URL under the 8 KiB that proxies and load
	// balancers commonly accept.
	DefaultMaxQueryLength = 7000
	// DefaultWindow is how far back each call looks for points.
	DefaultWindow = 5 * time.Minute
	// MinBackoff and MaxBackoff bound the back-off after a 429 or
	// repeated errors; it doubles on each new failure.
	MinBackoff = 30 * time.Second
	MaxBackoff = 30 * time.Minute
	// failuresBeforeBackoff is how many refreshes in a row may fail with
	// errors other than 429 before calls back off.
	failuresBeforeBackoff = 2
)

// RateLimitRecorder receives the rate-limit budget (sources.Metrics does).
type RateLimitRecorder interface {
	SetDatadogRateLimit(remaining float64, backoff time.Duration)
}

// Config says how to reach Datadog. Keys come from DD_API_KEY and
// DD_APP_KEY, the site from DD_SITE.
type Config struct {
	Site   string
	APIKey string
	AppKey string
	// Endpoint, when set, replaces the site with a base URL such as
	// http://127.0.0.1:8080 (tests, proxies).
	Endpoint       string
	Timeout        time.Duration
	Window         time.Duration
	BatchSize      int
	MaxQueryLength int
	HTTPClient     *http.Client
	Logger         *zap.Logger
	Observer       sources.Observer
	RateLimits     RateLimitRecorder
}

// Source queries Datadog.
type Source struct {
	cfg    Config
	api    *datadogV1.MetricsApi
	base   context.Context
	log    *zap.Logger
	secret []string

	mu           sync.Mutex
	backoff      time.Duration
	backoffUntil time.Time
	failures     int
	remaining    float64
	// rejected holds the queries Datadog refused, by text.
	rejected map[string]rejection
}

// rejection is a query Datadog refused: its error is the answer, without
// a call, until it is tried again alone at retryAt.
type rejection struct {
	err     error
	retryAt time.Time
}

// RejectedRetry is how long a query that Datadog refused (HTTP 400) is
// answered with that error before it is sent again, alone.
const RejectedRetry = 10 * time.Minute

// rejectedError: Datadog refused the call's queries (HTTP 400, or an
// answer with status "error"): the fault of a query, not of the service.
type rejectedError struct{ err error }

func (e *rejectedError) Error() string { return e.err.Error() }
func (e *rejectedError) Unwrap() error { return e.err }

var _ sources.Source = (*Source)(nil)

// ConfigFromEnv reads DD_SITE, DD_API_KEY and DD_APP_KEY.
func ConfigFromEnv(getenv func(string) string) Config {
	return Config{Site: getenv("DD_SITE"), APIKey: getenv("DD_API_KEY"), AppKey: getenv("DD_APP_KEY")}
}

// New returns a Datadog source.
func New(cfg Config) (*Source, error) {
	if cfg.APIKey == "" || cfg.AppKey == "" {
		return nil, errors.New("datadog: DD_API_KEY and DD_APP_KEY must both be set")
	}
	if cfg.Site == "" {
		cfg.Site = "datadoghq.com"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.MaxQueryLength <= 0 {
		cfg.MaxQueryLength = DefaultMaxQueryLength
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.Observer == nil {
		cfg.Observer = (*sources.Metrics)(nil)
	}
	if cfg.RateLimits == nil {
		cfg.RateLimits = (*sources.Metrics)(nil)
	}
	dc := datadog.NewConfiguration()
	dc.HTTPClient = cfg.HTTPClient
	if dc.HTTPClient == nil {
		dc.HTTPClient = &http.Client{Timeout: cfg.Timeout}
	}
	ctx := context.WithValue(context.Background(), datadog.ContextAPIKeys, map[string]datadog.APIKey{
		"apiKeyAuth": {Key: cfg.APIKey},
		"appKeyAuth": {Key: cfg.AppKey},
	})
	switch {
	case cfg.Endpoint != "":
		u, err := url.Parse(cfg.Endpoint)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return nil, fmt.Errorf("datadog: endpoint %q is not a base URL like https://api.datadoghq.eu", cfg.Endpoint)
		}
		ctx = context.WithValue(ctx, datadog.ContextServerIndex, 1)
		ctx = context.WithValue(ctx, datadog.ContextServerVariables, map[string]string{"protocol": u.Scheme, "name": u.Host})
	case slices.Contains(dc.Servers[0].Variables["site"].EnumValues, cfg.Site):
		ctx = context.WithValue(ctx, datadog.ContextServerVariables, map[string]string{"site": cfg.Site})
	default:
		ctx = context.WithValue(ctx, datadog.ContextServerIndex, 1)
		ctx = context.WithValue(ctx, datadog.ContextServerVariables, map[string]string{"protocol": "https", "name": "api." + cfg.Site})
	}
	return &Source{
		cfg:       cfg,
		api:       datadogV1.NewMetricsApi(datadog.NewAPIClient(dc)),
		base:      ctx,
		log:       cfg.Logger,
		secret:    []string{cfg.APIKey, cfg.AppKey},
		remaining: -1,
	}, nil
}

// Kind implements sources.Source.
func (s *Source) Kind() config.SourceKind { return config.SourceDatadog }

// callContext carries the keys and server of the base context, and the
// deadline and cancellation of ctx.
func (s *Source) callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	c, cancel := context.WithTimeout(s.base, s.cfg.Timeout)
	stop := context.AfterFunc(ctx, cancel)
	return c, func() { stop(); cancel() }
}

// Chunks splits distinct queries into batches of at most size queries whose
// comma-joined, URL-escaped text stays within maxLen.
func Chunks(queries []string, size, maxLen int) [][]string {
	var out [][]string
	var cur []string
	curLen := 0
	for _, q := range queries {
		l := len(url.QueryEscape(q)) + len(url.QueryEscape(","))
		if len(cur) > 0 && (len(cur) >= size || curLen+l > maxLen) {
			out = append(out, cur)
			cur, curLen = nil, 0
		}
		cur = append(cur, q)
		curLen += l
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// Fetch asks Datadog for every distinct query, a batch per call. While
// backing off it makes no call and answers every query rate-limited.
func (s *Source) Fetch(ctx context.Context, queries []sources.Query, now time.Time) map[string]sources.Result {
	out := make(map[string]sources.Result, len(queries))
	byText := map[string][]string{} // query text -> keys
	var texts []string
	for _, q := range queries {
		t := q.Spec.Datadog
		if _, seen := byText[t]; !seen {
			texts = append(texts, t)
		}
		byText[t] = append(byText[t], q.Key())
	}
	set := func(text string, r sources.Result) {
		for _, k := range byText[text] {
			out[k] = r
		}
	}
	if until, waiting := s.waiting(now); waiting {
		for _, t := range texts {
			set(t, sources.Result{Err: &sources.RateLimitError{RetryAt: until}})
		}
		return out
	}
	failed := false
	alone, batched := s.sortRejected(texts, now, set)
	chunks := append(alone, Chunks(batched, s.cfg.BatchSize, s.cfg.MaxQueryLength)...)
	for i := 0; i < len(chunks); i++ {
		chunk := chunks[i]
		results, status, err := s.call(ctx, chunk, now)
		if status == http.StatusTooManyRequests {
			until := s.startBackoff(now, "HTTP 429 Too Many Requests")
			rest := slices.Concat(chunks[i:]...)
			for _, t := range rest {
				set(t, sources.Result{Err: &sources.RateLimitError{RetryAt: until}})
			}
			return out
		}
		var rejected *rejectedError
		switch {
		case errors.As(err, &rejected) && len(chunk) > 1:
			// One bad query fails its whole batch: halve the batch until
			// the bad one stands alone, so that the others still refresh.
			h := len(chunk) / 2
			chunks = append(chunks, chunk[:h], chunk[h:])
		case errors.As(err, &rejected):
			s.reject(chunk[0], err, now)
			set(chunk[0], sources.Result{Err: err})
		case err != nil:
			failed = true
			for _, t := range chunk {
				set(t, sources.Result{Err: err})
			}
		default:
			for j, t := range chunk {
				set(t, results[j])
			}
			if len(chunk) == 1 {
				s.reject(chunk[0], nil, now) // accepted again
			}
		}
	}
	s.settle(now, failed)
	return out
}

// sortRejected answers the queries Datadog refused from their error until
// they are due to be tried again, and returns those due (each to be sent
// alone) and the others. Rejections of queries no longer asked for are
// forgotten.
func (s *Source) sortRejected(texts []string, now time.Time, set func(string, sources.Result)) (alone [][]string, batched []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	asked := make(map[string]bool, len(texts))
	for _, t := range texts {
		asked[t] = true
		r, ok := s.rejected[t]
		switch {
		case !ok:
			batched = append(batched, t)
		case now.Before(r.retryAt):
			set(t, sources.Result{Err: r.err})
		default:
			alone = append(alone, []string{t})
		}
	}
	for t := range s.rejected {
		if !asked[t] {
			delete(s.rejected, t)
		}
	}
	return alone, batched
}

// reject records that Datadog refused query text alone with err, or, with
// a nil err, that it accepts it.
func (s *Source) reject(text string, err error, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		delete(s.rejected, text)
		return
	}
	if s.rejected == nil {
		s.rejected = map[string]rejection{}
	}
	s.rejected[text] = rejection{err: err, retryAt: now.Add(RejectedRetry)}
	s.log.Warn("datadog: query refused; it is retried alone every "+RejectedRetry.String(), zap.String("query", text), zap.Error(err))
}

// waiting reports whether calls are paused, and until when.
func (s *Source) waiting(now time.Time) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.Before(s.backoffUntil) {
		return s.backoffUntil, true
	}
	return time.Time{}, false
}

// startBackoff doubles the back-off (from MinBackoff, up to MaxBackoff) and
// pauses calls for it, or until the rate-limit period resets if later.
func (s *Source) startBackoff(now time.Time, why string) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.backoff == 0:
		s.backoff = MinBackoff
	default:
		s.backoff = min(2*s.backoff, MaxBackoff)
	}
	until := now.Add(s.backoff)
	if s.backoffUntil.After(until) {
		until = s.backoffUntil // a reset announced by the headers
	}
	s.backoffUntil = until
	s.cfg.RateLimits.SetDatadogRateLimit(max(s.remaining, 0), until.Sub(now))
	s.log.Warn("datadog: backing off", zap.String("reason", why), zap.Duration("backoff", s.backoff), zap.Time("until", until))
	return until
}

// settle ends a refresh: repeated failures start a back-off, a clean
// refresh resets it.
func (s *Source) settle(now time.Time, failed bool) {
	s.mu.Lock()
	if !failed {
		s.failures, s.backoff = 0, 0
		s.mu.Unlock()
		return
	}
	s.failures++
	n := s.failures
	s.mu.Unlock()
	if n >= failuresBeforeBackoff {
		s.startBackoff(now, fmt.Sprintf("%d refreshes in a row failed", n))
	}
}

// recordHeaders reads the X-RateLimit-* headers. When the budget is spent
// it pauses calls until the period resets.
func (s *Source) recordHeaders(h http.Header, now time.Time) {
	remaining, err := strconv.ParseFloat(h.Get("X-RateLimit-Remaining"), 64)
	if err != nil {
		return
	}
	s.mu.Lock()
	s.remaining = remaining
	var pause time.Duration
	if remaining <= 0 {
		if reset, err := strconv.ParseFloat(h.Get("X-RateLimit-Reset"), 64); err == nil && reset > 0 {
			pause = time.Duration(reset * float64(time.Second))
			if until := now.Add(pause); until.After(s.backoffUntil) {
				s.backoffUntil = until
			}
		}
	}
	backoff := max(s.backoffUntil.Sub(now), 0)
	s.mu.Unlock()
	s.cfg.RateLimits.SetDatadogRateLimit(remaining, backoff)
}

// call runs one query API call for a batch and maps its series back to the
// batch's queries by query_index.
func (s *Source) call(ctx context.Context, batch []string, now time.Time) ([]sources.Result, int, error) {
	cctx, cancel := s.callContext(ctx)
	defer cancel()
	from := now.Add(-s.cfg.Window)
	start := time.Now()
	resp, httpResp, err := s.api.QueryMetrics(cctx, from.Unix(), now.Unix(), strings.Join(batch, ","))
	status := 0
	if httpResp != nil {
		status = httpResp.StatusCode
		s.recordHeaders(httpResp.Header, now)
	}
	if err != nil {
		err = s.describe(err, status)
		if status == http.StatusTooManyRequests {
			err = &sources.RateLimitError{RetryAt: now.Add(MinBackoff)}
		}
		s.cfg.Observer.ObserveRequest(config.SourceDatadog, sources.OutcomeOf(err), time.Since(start))
		if status == http.StatusBadRequest {
			return nil, status, &rejectedError{err}
		}
		s.log.Warn("datadog: query call failed", zap.Int("queries", len(batch)), zap.Int("status", status), zap.Error(err))
		return nil, status, err
	}
	s.cfg.Observer.ObserveRequest(config.SourceDatadog, sources.OutcomeSuccess, time.Since(start))
	out, err := decodeResponse(&resp, batch, now)
	if err != nil {
		return nil, status, &rejectedError{errors.New(s.redact(err.Error()))}
	}
	return out, status, nil
}

// decodeResponse maps a query API answer to the batch's queries by
// query_index: each gets its newest complete point, no data, or an error
// when it returns several series. An answer with status "error" is an
// error for the whole batch.
func decodeResponse(resp *datadogV1.MetricsQueryResponse, batch []string, now time.Time) ([]sources.Result, error) {
	if resp.Status != nil && *resp.Status == "error" {
		msg := "the query failed"
		if resp.Error != nil {
			msg = *resp.Error
		}
		return nil, fmt.Errorf("datadog: %s", msg)
	}
	perQuery := make([][]datadogV1.MetricsQueryMetadata, len(batch))
	for _, series := range resp.Series {
		idx := 0
		if series.QueryIndex != nil {
			idx = int(*series.QueryIndex)
		} else if len(batch) > 1 {
			continue // cannot tell which query it answers
		}
		if idx >= 0 && idx < len(batch) {
			perQuery[idx] = append(perQuery[idx], series)
		}
	}
	out := make([]sources.Result, len(batch))
	for i, list := range perQuery {
		switch len(list) {
		case 0:
			out[i] = sources.Result{Err: sources.ErrNoData}
		case 1:
			out[i] = latest(list[0], now)
		default:
			out[i] = sources.Result{Err: fmt.Errorf("datadog query %q returns %d series, want one; aggregate it, e.g. sum:metric{scope}", batch[i], len(list))}
		}
	}
	return out, nil
}

// latest returns a series' newest complete point. The last rollup bucket
// is still filling up (its points arrive for a minute or more), so a bucket
// that ends after the query's end is ignored. The value's time is the end of
// its bucket.
func latest(series datadogV1.MetricsQueryMetadata, now time.Time) sources.Result {
	points := completePoints(series, now)
	if len(points) == 0 {
		return sources.Result{Err: sources.ErrNoData}
	}
	return sources.Result{Value: sources.Value{V: points[len(points)-1].V, At: points[len(points)-1].T}}
}

// completePoints returns the non-null points of complete buckets, in time
// order, each stamped with the end of its bucket.
func completePoints(series datadogV1.MetricsQueryMetadata, end time.Time) policies.Series {
	interval := time.Duration(series.GetInterval()) * time.Second
	var out policies.Series
	for i, p := range series.Pointlist {
		if len(p) < 2 || p[0] == nil || p[1] == nil {
			continue
		}
		ts := time.UnixMilli(int64(*p[0]))
		bucketEnd := ts.Add(interval)
		if interval == 0 {
			// No interval given: the last point is the incomplete bucket.
			if i == len(series.Pointlist)-1 {
				continue
			}
			bucketEnd = ts
		}
		if bucketEnd.After(end) {
			continue
		}
		out = append(out, policies.Sample{T: bucketEnd, V: *p[1]})
	}
	slices.SortFunc(out, func(a, b policies.Sample) int { return a.T.Compare(b.T) })
	return out
}

// History returns one query's complete points over [from, to].
func (s *Source) History(ctx context.Context, q sources.Query, from, to time.Time, _ time.Duration) (policies.Series, error) {
	now := time.Now()
	if until, waiting := s.waiting(now); waiting {
		return nil, &sources.RateLimitError{RetryAt: until}
	}
	cctx, cancel := s.callContext(ctx)
	defer cancel()
	start := time.Now()
	resp, httpResp, err := s.api.QueryMetrics(cctx, from.Unix(), to.Unix(), q.Spec.Datadog)
	status := 0
	if httpResp != nil {
		status = httpResp.StatusCode
		s.recordHeaders(httpResp.Header, now)
	}
	s.cfg.Observer.ObserveRequest(config.SourceDatadog, sources.OutcomeOf(err), time.Since(start))
	if status == http.StatusTooManyRequests {
		return nil, &sources.RateLimitError{RetryAt: s.startBackoff(now, "HTTP 429 Too Many Requests")}
	}
	if err != nil {
		return nil, s.describe(err, status)
	}
	switch len(resp.Series) {
	case 0:
		return nil, nil
	case 1:
		return completePoints(resp.Series[0], to), nil
	}
	return nil, fmt.Errorf("datadog query %q returns %d series, want one", q.Spec.Datadog, len(resp.Series))
}

// describe turns a client error into one that names the HTTP status and
// what Datadog said, with the keys redacted should they ever be echoed.
func (s *Source) describe(err error, status int) error {
	var apiErr datadog.GenericOpenAPIError
	msg := err.Error()
	if errors.As(err, &apiErr) {
		body := strings.TrimSpace(string(apiErr.Body()))
		if len(body) > 300 {
			body = body[:300] + "..."
		}
		msg = apiErr.ErrorMessage
		if body != "" {
			msg += ": " + body
		}
	}
	if status != 0 {
		return fmt.Errorf("datadog query API: HTTP %d: %s", status, s.redact(msg))
	}
	return fmt.Errorf("datadog query API: %s", s.redact(msg))
}

func (s *Source) redact(msg string) string {
	for _, k := range s.secret {
		if k != "" {
			msg = strings.ReplaceAll(msg, k, "[redacted]")
		}
	}
	return msg
}
