package datadog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/DataDog/datadog-api-client-go/v2/api/datadog"
	"github.com/DataDog/datadog-api-client-go/v2/api/datadogV1"
	"go.uber.org/zap"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/sources"
)

// purpose says what a call is for, in the budget.
type purpose int

const (
	purposeLive purpose = iota
	purposeHistory
)

// failure classifies a call that failed.
type failure int

const (
	failOther         failure = iota // 403, 404, no connection...: not a query's doing
	failQuery                        // HTTP 400: Datadog refused a query of the call
	failUnprocessable                // HTTP 422
	failStatus                       // HTTP 200 with status "error", or a body that does not decode
	failServer                       // HTTP 5xx
	failTimeout
)

// split reports whether one query of a call can cause this failure, so
// that splitting the call can save the others.
func (f failure) split() bool { return f != failOther }

// callError is a failed call, its message redacted.
type callError struct {
	kind   failure
	status int
	msg    string
}

func (e *callError) Error() string { return e.msg }

// Unwrap lets errors.Is(err, context.DeadlineExceeded) tell a timeout
// (primetime_source_requests_total{outcome="timeout"}).
func (e *callError) Unwrap() error {
	if e.kind == failTimeout {
		return context.DeadlineExceeded
	}
	return nil
}

// answer is the outcome of one call: each query's series (mapped by
// query_index), or a failure, or a rate limit.
type answer struct {
	series  [][]datadogV1.MetricsQueryMetadata
	err     *callError
	limited *sources.RateLimitError
}

// call runs one query API call for a batch of queries (as sent).
func (s *Source) call(ctx context.Context, batch []string, from, to, now time.Time, p purpose) answer {
	cctx, cancel := s.callContext(ctx)
	defer cancel()
	start := time.Now() // the request's duration, for the histogram only
	resp, httpResp, err := s.api.QueryMetrics(cctx, from.Unix(), to.Unix(), strings.Join(batch, ","))
	took := time.Since(start)
	status := 0
	var header http.Header
	if httpResp != nil {
		status, header = httpResp.StatusCode, httpResp.Header
	}
	var a answer
	switch {
	case status == http.StatusTooManyRequests:
		a.limited = s.rateLimited(now, header, s.describe(err, status))
	case err != nil:
		a.err = s.classify(err, status)
	case resp.Status != nil && *resp.Status == "error":
		msg := "the query failed"
		if resp.Error != nil {
			msg = *resp.Error
		}
		a.err = &callError{kind: failStatus, status: status, msg: s.redact(fmt.Sprintf("datadog query API: HTTP %d with status \"error\": %s", status, msg))}
	default:
		a.series = s.byQueryIndex(&resp, batch)
	}
	s.account(p, now, status, header)
	outcome := sources.OutcomeSuccess
	switch {
	case a.limited != nil:
		outcome = sources.OutcomeOf(a.limited)
	case a.err != nil:
		outcome = sources.OutcomeOf(a.err)
		s.log.Warn("datadog: query call failed", zap.Int("queries", len(batch)), zap.Int("status", status), zap.Error(a.err))
	}
	s.cfg.Observer.ObserveRequest(ground.SourceDatadog, outcome, took)
	return a
}

// classify turns a client error into a failure.
func (s *Source) classify(err error, status int) *callError {
	kind := failOther
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		kind = failTimeout
	case status == http.StatusBadRequest:
		kind = failQuery
	case status == http.StatusUnprocessableEntity:
		kind = failUnprocessable
	case status >= 500:
		kind = failServer
	case status >= 200 && status < 300:
		kind = failStatus // an answer that does not decode
	}
	return &callError{kind: kind, status: status, msg: s.describe(err, status)}
}

// describe turns a client error into a message that names the HTTP status
// and what Datadog said ({"errors": [...]} bodies shown as their text),
// with the keys redacted should they ever be echoed.
func (s *Source) describe(err error, status int) string {
	if err == nil {
		return fmt.Sprintf("datadog query API: HTTP %d", status)
	}
	var apiErr datadog.GenericOpenAPIError
	msg := err.Error()
	if errors.As(err, &apiErr) {
		body := strings.TrimSpace(string(apiErr.Body()))
		var errs struct {
			Errors []string `json:"errors"`
		}
		if json.Unmarshal(apiErr.Body(), &errs) == nil && len(errs.Errors) > 0 {
			body = strings.Join(errs.Errors, "; ")
		}
		if len(body) > 300 {
			body = body[:300] + "..."
		}
		msg = apiErr.ErrorMessage
		if body != "" {
			msg = body
		}
	}
	if status != 0 {
		return fmt.Sprintf("datadog query API: HTTP %d: %s", status, s.redact(msg))
	}
	return fmt.Sprintf("datadog query API: %s", s.redact(msg))
}

// rateLimited pauses every call after a 429: until x-ratelimit-reset, or
// for the next step of RateLimitBackoff when the answer has no reset.
func (s *Source) rateLimited(now time.Time, h http.Header, why string) *sources.RateLimitError {
	s.mu.Lock()
	var pause time.Duration
	if reset, ok := headerSeconds(h, "X-RateLimit-Reset"); ok && reset > 0 {
		pause = min(reset, MaxRateLimitPause)
	} else {
		pause = s.cfg.Jitter(s.limitBackoff.Step(), RateLimitJitter)
	}
	until := now.Add(pause)
	if until.After(s.pauseUntil) {
		s.pauseUntil = until
	}
	until = s.pauseUntil
	s.mu.Unlock()
	s.cfg.RateLimits.SetDatadogBackoff(until.Sub(now))
	s.log.Warn("datadog: rate limited; no call until the pause ends", zap.String("answer", why), zap.Duration("pause", until.Sub(now)), zap.Time("until", until))
	return &sources.RateLimitError{RetryAt: until}
}

// account counts a call in the budget and reads its rate-limit headers,
// recording the figures the answer announced (primetime_datadog_ratelimit_*).
// A spent budget (x-ratelimit-remaining 0) pauses calls until the reset; a
// call that is not a 429 starts the 429 back-off again from its first step.
func (s *Source) account(p purpose, now time.Time, status int, h http.Header) {
	s.mu.Lock()
	s.budget.count(now, p)
	rl := s.budget.observe(now, h)
	if status != 0 && status != http.StatusTooManyRequests {
		s.limitBackoff = RateLimitBackoff
		if rl.HasRemaining && rl.Remaining <= 0 && !s.budget.resetAt.IsZero() && s.budget.resetAt.After(s.pauseUntil) {
			s.pauseUntil = s.budget.resetAt
		}
	}
	pause := max(s.pauseUntil.Sub(now), 0)
	s.mu.Unlock()
	if rl.Announced() {
		s.cfg.RateLimits.SetDatadogRateLimit(rl)
	}
	s.cfg.RateLimits.SetDatadogBackoff(pause)
}

// exchange is the outcome of sending a set of batches.
type exchange struct {
	// series holds each answered query's series (none: no data).
	series map[string][]datadogV1.MetricsQueryMetadata
	errs   map[string]error
	// alone holds the failures of queries that failed in a call of their own.
	alone map[string]*callError
	// ok: a call succeeded (or one had before the exchange began).
	ok      bool
	calls   int
	limited *sources.RateLimitError
	// cause is the first failure.
	cause error
}

// exchange sends the batches, one call each over [from, to], then splits
// in halves those that failed in a way one of their queries can cause, and
// so on, as long as a call succeeded (ok says one had before): when none
// does, Datadog itself is failing and splitting would only multiply the
// calls. A 429 stops the exchange; the queries not answered are
// rate-limited.
func (s *Source) exchange(ctx context.Context, batches [][]string, from, to, now time.Time, p purpose, ok bool) *exchange {
	ex := &exchange{series: map[string][]datadogV1.MetricsQueryMetadata{}, errs: map[string]error{}, alone: map[string]*callError{}, ok: ok}
	type held struct {
		batch []string
		err   *callError
	}
	queue := batches
	var failed []held
	for len(queue) > 0 || (ex.ok && len(failed) > 0) {
		if len(queue) == 0 {
			for _, h := range failed {
				half := len(h.batch) / 2
				queue = append(queue, h.batch[:half], h.batch[half:])
			}
			failed = nil
			continue
		}
		b := queue[0]
		queue = queue[1:]
		if err := ctx.Err(); err != nil {
			for _, t := range b {
				ex.errs[t] = fmt.Errorf("datadog: refresh stopped: %w", err)
			}
			continue
		}
		a := s.call(ctx, b, from, to, now, p)
		ex.calls++
		switch {
		case a.limited != nil:
			ex.limited = a.limited
			for _, t := range b {
				ex.errs[t] = a.limited
			}
			for _, rest := range queue {
				for _, t := range rest {
					ex.errs[t] = a.limited
				}
			}
			for _, h := range failed {
				for _, t := range h.batch {
					ex.errs[t] = a.limited
				}
			}
			return ex
		case a.err == nil:
			ex.ok = true
			for i, t := range b {
				ex.series[t] = a.series[i]
			}
		case a.err.kind.split() && len(b) > 1:
			failed = append(failed, held{b, a.err})
		default:
			for _, t := range b {
				ex.errs[t] = a.err
			}
			if len(b) == 1 {
				ex.alone[b[0]] = a.err
			}
		}
		if a.err != nil && ex.cause == nil {
			ex.cause = a.err
		}
	}
	for _, h := range failed { // no call succeeded: not split
		for _, t := range h.batch {
			ex.errs[t] = h.err
		}
	}
	return ex
}

// byQueryIndex maps the series of an answer to the batch's queries by
// query_index. A series without one in a call of several queries cannot be
// told apart: it is dropped, with a warning once per series expression.
func (s *Source) byQueryIndex(resp *datadogV1.MetricsQueryResponse, batch []string) [][]datadogV1.MetricsQueryMetadata {
	per := make([][]datadogV1.MetricsQueryMetadata, len(batch))
	for _, series := range resp.Series {
		idx := 0
		switch {
		case series.QueryIndex != nil:
			idx = int(*series.QueryIndex)
		case len(batch) > 1:
			s.warnUnindexed(series, len(batch))
			continue
		}
		if idx >= 0 && idx < len(batch) {
			per[idx] = append(per[idx], series)
		}
	}
	return per
}

func (s *Source) warnUnindexed(series datadogV1.MetricsQueryMetadata, n int) {
	expr := series.GetExpression()
	if expr == "" {
		expr = series.GetMetric() + "{" + series.GetScope() + "}"
	}
	s.mu.Lock()
	first := !s.warned[expr]
	s.warned[expr] = true
	s.mu.Unlock()
	if first {
		s.log.Warn("datadog: a series without query_index in a call of several queries was dropped: it cannot be told which query it answers",
			zap.String("expression", s.redact(expr)), zap.Int("queries", n))
	}
}
