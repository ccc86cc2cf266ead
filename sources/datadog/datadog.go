package datadog

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/DataDog/datadog-api-client-go/v2/api/datadog"
	"github.com/DataDog/datadog-api-client-go/v2/api/datadogV1"
	"go.uber.org/zap"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/primetime-dev/primetime/ground"
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
	// DefaultWindow is how far back each live call looks for points (at
	// least three rollup intervals).
	DefaultWindow = 5 * time.Minute
	// DefaultRollup is the rollup pinned on every query sent, live and
	// history alike, as the Datadog Cluster Agent pins one: without it the
	// API picks the interval from the window (1 s for 200 s, 20 s for 51
	// minutes, 300 s for a day), and a count per bucket (.as_count())
	// would change unit with the window.
	DefaultRollup = 30 * time.Second
	// DefaultBudgetShare is the share of the organisation's query budget
	// (x-ratelimit-limit per x-ratelimit-period) that primetime's live
	// reads and history spend together.
	DefaultBudgetShare = 0.5
	// DefaultTimeout bounds one call.
	DefaultTimeout = 10 * time.Second
	// RejectedRetry is how long a quarantined query (refused with HTTP 400,
	// or failing alone twice in a row) is answered with its error before it
	// is sent again, alone.
	RejectedRetry = 10 * time.Minute
	// OutageJitter: while every call fails, each refresh sends one probe,
	// its time jittered (wait.Jitter) by up to this share of the interval so
	// that the daemons of several clusters do not probe in step.
	OutageJitter = 0.25
	// RateLimitJitter is the jitter of each step of RateLimitBackoff.
	RateLimitJitter = 0.2
	// MaxRateLimitPause bounds a pause until x-ratelimit-reset: Datadog's
	// periods are an hour at most, and a reset sent as a Unix time (by a
	// proxy) must not stop the calls for decades.
	MaxRateLimitPause = time.Hour
)

// RateLimitBackoff is the pause after an HTTP 429 that carries no
// x-ratelimit-reset: 30 s, doubling up to 5 minutes, each step jittered by
// up to RateLimitJitter. A 429 with the header pauses until the reset.
var RateLimitBackoff = wait.Backoff{Duration: 30 * time.Second, Factor: 2, Steps: math.MaxInt32, Cap: 5 * time.Minute}

// RateLimitRecorder receives the rate-limit figures each answer announces
// (x-ratelimit-limit, -period, -remaining, -reset, by -name), the pause and
// the refresh interval in force (sources.Metrics does).
type RateLimitRecorder interface {
	SetDatadogRateLimit(r sources.DatadogRateLimit)
	SetDatadogBackoff(d time.Duration)
	SetDatadogRefreshInterval(d time.Duration)
}

// Config says how to reach Datadog. Keys come from DD_API_KEY and
// DD_APP_KEY, the site from DD_SITE. Zero fields take the defaults above.
type Config struct {
	// Site is a Datadog site such as datadoghq.eu; a URL such as
	// https://api.datadoghq.eu/ is accepted too.
	Site   string
	APIKey string
	AppKey string
	// Endpoint, when set, replaces the site with a base URL such as
	// http://127.0.0.1:8080 or https://proxy.internal/datadog-proxy (tests,
	// proxies); its path is kept, /api/v1/query is added to it.
	Endpoint string
	// Timeout bounds one call.
	Timeout time.Duration
	// Window is how far back a live call looks.
	Window time.Duration
	// Rollup is pinned on every query sent (whole seconds).
	Rollup         time.Duration
	BatchSize      int
	MaxQueryLength int
	// BudgetShare is the share of the organisation's query budget that
	// primetime spends, in (0, 1].
	BudgetShare float64
	HTTPClient  *http.Client
	Logger      *zap.Logger
	Observer    sources.Observer
	RateLimits  RateLimitRecorder
	// Now is the clock of the source's decisions (pauses, quarantines,
	// budget); time.Now when nil.
	Now func() time.Time
	// Jitter spreads the waits; wait.Jitter when nil.
	Jitter func(d time.Duration, maxFactor float64) time.Duration
}

// Source queries Datadog.
//
// Failures stay with what failed. A call refused in a way one of its
// queries can cause (HTTP 400, 422, 5xx, a timeout, an answer with status
// "error") is split in halves and retried within the same refresh, as long
// as another call of that refresh succeeded; a query failing alone is sent
// alone the next time, and quarantined when it fails again (at once for a
// 400): answered from its error and retried alone every RejectedRetry. When
// every call of a refresh fails, Datadog itself is failing: each later
// refresh sends one probe call, and the first that succeeds sends the rest
// of its refresh. Only a 429 (or a spent budget) pauses every call.
type Source struct {
	cfg    Config
	api    *datadogV1.MetricsApi
	base   context.Context
	log    *zap.Logger
	secret []string
	url    string // the API's base URL, for logs

	mu sync.Mutex
	// states holds what is known of queries that failed, by query as sent.
	states map[string]*queryState
	// pauseUntil: no call before it (a 429, or a spent budget).
	pauseUntil   time.Time
	limitBackoff wait.Backoff
	// outage is set while every call fails.
	outage    *outage
	probeTurn int
	// warned holds the series expressions already reported without a
	// query_index.
	warned map[string]bool
	budget budget
	// interval, intervalKind: the live refresh interval in force.
	interval     time.Duration
	intervalKind intervalKind
	// pinned holds each query as sent, by query as written (PinRollup
	// parses the query; the queries change only with the configuration).
	pinned    sync.Map
	pinnedLen atomic.Int64
}

// maxPinned bounds the queries kept pinned: past it, the memo starts
// again (edits of the configuration over months leave old queries).
const maxPinned = 100_000

// pin returns query as sent.
func (s *Source) pin(query string) string {
	if t, ok := s.pinned.Load(query); ok {
		return t.(string)
	}
	t := PinRollup(query, s.cfg.Rollup)
	if s.pinnedLen.Add(1) > maxPinned {
		s.pinned.Clear()
		s.pinnedLen.Store(1)
	}
	s.pinned.Store(query, t)
	return t
}

// queryState is a query that failed: a suspect is sent alone; a
// quarantined one is answered with err until retryAt, then sent alone.
type queryState struct {
	err         error
	quarantined bool
	retryAt     time.Time
}

// outage: every call failed since since.
type outage struct {
	since time.Time
	cause error
}

// outageError answers the queries a refresh did not send because Datadog
// fails every call.
type outageError struct {
	since time.Time
	cause error
}

func (e *outageError) Error() string {
	return fmt.Sprintf("%v (Datadog has failed every call since %s; one probe call per refresh until it answers)", e.cause, e.since.UTC().Format(time.RFC3339))
}

func (e *outageError) Unwrap() error { return e.cause }

var (
	_ sources.Source       = (*Source)(nil)
	_ sources.BatchHistory = (*Source)(nil)
	_ sources.Pacer        = (*Source)(nil)
)

// ConfigFromEnv reads DD_SITE, DD_API_KEY and DD_APP_KEY.
func ConfigFromEnv(getenv func(string) string) Config {
	return Config{Site: getenv("DD_SITE"), APIKey: getenv("DD_API_KEY"), AppKey: getenv("DD_APP_KEY")}
}

// New returns a Datadog source.
func New(cfg Config) (*Source, error) {
	if cfg.APIKey == "" || cfg.AppKey == "" {
		return nil, errors.New("datadog: DD_API_KEY and DD_APP_KEY must both be set")
	}
	site, err := ParseSite(cfg.Site)
	if err != nil && cfg.Endpoint == "" {
		return nil, fmt.Errorf("datadog: %w", err)
	}
	cfg.Site = site.Domain
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.Timeout, DefaultTimeout)
	def(&cfg.Window, DefaultWindow)
	def(&cfg.Rollup, DefaultRollup)
	if cfg.Rollup%time.Second != 0 {
		return nil, fmt.Errorf("datadog: the rollup %s is not a whole number of seconds", cfg.Rollup)
	}
	cfg.Window = max(cfg.Window, 3*cfg.Rollup)
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.MaxQueryLength <= 0 {
		cfg.MaxQueryLength = DefaultMaxQueryLength
	}
	switch {
	case cfg.BudgetShare == 0:
		cfg.BudgetShare = DefaultBudgetShare
	case cfg.BudgetShare < 0 || cfg.BudgetShare > 1 || math.IsNaN(cfg.BudgetShare):
		return nil, fmt.Errorf("datadog: the budget share %v is not in (0, 1]; 0.5 leaves half of the organisation's query budget to other tools", cfg.BudgetShare)
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
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Jitter == nil {
		cfg.Jitter = wait.Jitter
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
		// Server 1 is "{protocol}://{name}": the name carries the path.
		ctx = context.WithValue(ctx, datadog.ContextServerIndex, 1)
		ctx = context.WithValue(ctx, datadog.ContextServerVariables, map[string]string{"protocol": u.Scheme, "name": u.Host + strings.TrimRight(u.EscapedPath(), "/")})
	case slices.Contains(dc.Servers[0].Variables["site"].EnumValues, cfg.Site):
		ctx = context.WithValue(ctx, datadog.ContextServerVariables, map[string]string{"site": cfg.Site})
	default: // a site the client does not list yet
		ctx = context.WithValue(ctx, datadog.ContextServerIndex, 1)
		ctx = context.WithValue(ctx, datadog.ContextServerVariables, map[string]string{"protocol": "https", "name": site.APIHost()})
	}
	s := &Source{
		cfg:    cfg,
		api:    datadogV1.NewMetricsApi(datadog.NewAPIClient(dc)),
		base:   ctx,
		log:    cfg.Logger,
		secret: []string{cfg.APIKey, cfg.AppKey},
		states: map[string]*queryState{},
		warned: map[string]bool{},
		budget: budget{share: cfg.BudgetShare},
	}
	s.limitBackoff = RateLimitBackoff
	u, err := s.api.Client.Cfg.ServerURLWithContext(ctx, "v1.MetricsApi.QueryMetrics")
	if err != nil {
		return nil, fmt.Errorf("datadog: %w", err)
	}
	s.url = u
	if cfg.HTTPClient == nil && strings.HasPrefix(u, "https://") {
		if err := checkRoots(x509.SystemCertPool); err != nil {
			return nil, fmt.Errorf("datadog: %s: %w", u, err)
		}
	}
	return s, nil
}

// BaseURL is the URL the query API is called at, without /api/v1/query.
func (s *Source) BaseURL() string { return s.url }

// Kind implements sources.Source.
func (s *Source) Kind() ground.SourceKind { return ground.SourceDatadog }

// HistoryBatchSize implements sources.BatchHistory.
func (s *Source) HistoryBatchSize() int { return s.cfg.BatchSize }

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

// textSet is the distinct queries of a refresh, as sent (rollup pinned),
// with the keys of the targets' queries each answers.
type textSet struct {
	order    []string            // as sent, in first-seen order
	keys     map[string][]string // as sent -> Query.Keys
	original map[string]string   // as sent -> as the user wrote it
}

func (s *Source) textsOf(queries []sources.Query) textSet {
	ts := textSet{keys: map[string][]string{}, original: map[string]string{}}
	for _, q := range queries {
		t := s.pin(q.Spec.Datadog)
		if _, seen := ts.keys[t]; !seen {
			ts.order = append(ts.order, t)
			ts.original[t] = q.Spec.Datadog
		}
		ts.keys[t] = append(ts.keys[t], q.Key())
	}
	return ts
}

// plan is what a refresh does with each distinct query.
type plan struct {
	answered map[string]error // not sent: quarantined (or, for history, suspect)
	alone    []string         // suspects and due retries, each in a call of its own
	batched  []string
}

// planLocked sorts the queries by what is known of them. A live refresh
// forgets the states of queries no longer asked for; history sends neither
// suspects nor retries (the live refresh decides on them).
func (s *Source) planLocked(texts []string, now time.Time, live bool) plan {
	p := plan{answered: map[string]error{}}
	asked := make(map[string]bool, len(texts))
	for _, t := range texts {
		asked[t] = true
		st := s.states[t]
		switch {
		case st == nil:
			p.batched = append(p.batched, t)
		case st.quarantined && now.Before(st.retryAt), !live:
			p.answered[t] = st.err
		default:
			p.alone = append(p.alone, t)
		}
	}
	if live {
		for t := range s.states {
			if !asked[t] {
				delete(s.states, t)
			}
		}
	}
	return p
}

// batches returns the calls of a plan: each query of alone in its own,
// then the others in chunks.
func (s *Source) batches(p plan) [][]string {
	var out [][]string
	for _, t := range p.alone {
		out = append(out, []string{t})
	}
	return append(out, Chunks(p.batched, s.cfg.BatchSize, s.cfg.MaxQueryLength)...)
}

// liveWindow is how far back a live call looks: the configured window, at
// least three buckets of the widest rollup among the queries.
func (s *Source) liveWindow(texts []string) time.Duration {
	w := s.cfg.Window
	for _, t := range texts {
		w = max(w, 3*ground.DatadogRollup(t))
	}
	return w
}

// Fetch asks Datadog for every distinct query, a batch per call. While a
// rate limit pauses the calls it makes none and answers every query
// rate-limited; while Datadog fails every call it sends one probe.
func (s *Source) Fetch(ctx context.Context, queries []sources.Query, now time.Time) map[string]sources.Result {
	set := s.textsOf(queries)
	out := make(map[string]sources.Result, len(queries))
	put := func(t string, r sources.Result) {
		for _, k := range set.keys[t] {
			out[k] = r
		}
	}
	if len(set.order) == 0 {
		return out
	}
	s.mu.Lock()
	if now.Before(s.pauseUntil) {
		rl := &sources.RateLimitError{RetryAt: s.pauseUntil}
		s.mu.Unlock()
		for _, t := range set.order {
			put(t, sources.Result{Err: rl})
		}
		return out
	}
	pl := s.planLocked(set.order, now, true)
	down := s.outage
	s.mu.Unlock()
	for t, err := range pl.answered {
		put(t, sources.Result{Err: err})
	}
	// The calls a refresh needs when nothing fails; suspects and retries
	// sent alone, splits and probes are counted apart in the budget.
	planned := len(Chunks(pl.batched, s.cfg.BatchSize, s.cfg.MaxQueryLength))
	from := now.Add(-s.liveWindow(set.order))
	deliver := func(ex *exchange) {
		for t, list := range ex.series {
			put(t, latest(list, set.original[t], now, s.cfg.Rollup, ground.DatadogRollup(t)))
		}
		for t, err := range ex.errs {
			put(t, sources.Result{Err: err})
		}
	}
	calls, succeeded := 0, false
	if down != nil {
		probe, ok := s.nextProbe(pl)
		if !ok {
			return out
		}
		ex := s.exchange(ctx, [][]string{{probe}}, from, now, now, purposeLive, false)
		calls += ex.calls
		deliver(ex)
		if !ex.ok {
			var err error = &outageError{since: down.since, cause: ex.cause}
			if ex.limited != nil {
				err = ex.limited
			}
			for _, t := range slices.Concat(pl.alone, pl.batched) {
				if t != probe {
					put(t, sources.Result{Err: err})
				}
			}
			s.settleLive(ex, now, 0, calls)
			return out
		}
		s.endOutage(now, down)
		pl.alone = slices.DeleteFunc(pl.alone, func(t string) bool { return t == probe })
		pl.batched = slices.DeleteFunc(pl.batched, func(t string) bool { return t == probe })
		succeeded = true
		s.settleQueries(ex, now)
	}
	ex := s.exchange(ctx, s.batches(pl), from, now, now, purposeLive, succeeded)
	calls += ex.calls
	deliver(ex)
	s.settleLive(ex, now, planned, calls)
	return out
}

// nextProbe picks the query of an outage's probe call, in turn among the
// queries to send, so that one broken query cannot keep the source dark.
func (s *Source) nextProbe(p plan) (string, bool) {
	candidates := slices.Concat(p.alone, p.batched)
	if len(candidates) == 0 {
		return "", false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := candidates[s.probeTurn%len(candidates)]
	s.probeTurn++
	return t, true
}

// endOutage records that Datadog answers again.
func (s *Source) endOutage(now time.Time, down *outage) {
	s.mu.Lock()
	s.outage = nil
	s.mu.Unlock()
	s.log.Info("datadog: answers again", zap.Duration("after", now.Sub(down.since)))
}

// settleLive ends a live refresh: an outage starts when no call succeeded;
// otherwise what failed alone is remembered; the calls count in the budget.
func (s *Source) settleLive(ex *exchange, now time.Time, planned, calls int) {
	if ex.limited == nil && !ex.ok && ex.calls > 0 {
		s.mu.Lock()
		started := s.outage == nil
		if started {
			s.outage = &outage{since: now, cause: ex.cause}
		} else {
			s.outage.cause = ex.cause
		}
		s.mu.Unlock()
		if started {
			s.log.Warn("datadog: every call failed; one probe call per refresh until Datadog answers", zap.Int("calls", ex.calls), zap.Error(ex.cause))
		}
	} else if ex.ok {
		s.settleQueries(ex, now)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.budget.refreshed(now, planned, calls, s.outage != nil)
}

// settleQueries updates what is known of the queries of an exchange in
// which a call succeeded: answered ones are cleared; one failing alone is a
// suspect, sent alone next time, and quarantined if it fails again (at
// once when Datadog refused it with HTTP 400).
func (s *Source) settleQueries(ex *exchange, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for t := range ex.series {
		if st := s.states[t]; st != nil {
			delete(s.states, t)
			if st.quarantined {
				s.log.Info("datadog: a quarantined query is accepted again", zap.String("query", t))
			}
		}
	}
	for t, ce := range ex.alone {
		if !ce.kind.split() {
			continue
		}
		st := s.states[t]
		if st == nil && ce.kind != failQuery {
			s.states[t] = &queryState{err: ce}
			continue
		}
		s.states[t] = &queryState{err: ce, quarantined: true, retryAt: now.Add(RejectedRetry)}
		s.log.Warn("datadog: query refused; it is answered with its error and retried alone every "+RejectedRetry.String(), zap.String("query", t), zap.Error(ce))
	}
}

// History returns one query's complete points over [from, to].
func (s *Source) History(ctx context.Context, q sources.Query, from, to time.Time, step time.Duration) (ground.Series, error) {
	r, ok := s.HistoryBatch(ctx, []sources.Query{q}, from, to, step)[q.Key()]
	if !ok {
		return nil, errors.New("datadog: no answer for this query")
	}
	return r.Series, r.Err
}

// HistoryBatch implements sources.BatchHistory: the distinct queries, up to
// BatchSize per call over the same range, at the pinned rollup (step is not
// used: the history has the live reads' unit). Its calls count as history
// in the budget. While Datadog fails every live call or a rate limit
// pauses calls it makes none; quarantined and suspect queries are answered
// with their error.
func (s *Source) HistoryBatch(ctx context.Context, queries []sources.Query, from, to time.Time, _ time.Duration) map[string]sources.HistoryResult {
	now := s.cfg.Now()
	set := s.textsOf(queries)
	out := make(map[string]sources.HistoryResult, len(queries))
	put := func(t string, r sources.HistoryResult) {
		for _, k := range set.keys[t] {
			out[k] = r
		}
	}
	s.mu.Lock()
	var refuse error
	switch {
	case now.Before(s.pauseUntil):
		refuse = &sources.RateLimitError{RetryAt: s.pauseUntil}
	case s.outage != nil:
		refuse = &outageError{since: s.outage.since, cause: s.outage.cause}
	}
	pl := s.planLocked(set.order, now, false)
	s.mu.Unlock()
	if refuse != nil {
		for _, t := range set.order {
			put(t, sources.HistoryResult{Err: refuse})
		}
		return out
	}
	for t, err := range pl.answered {
		put(t, sources.HistoryResult{Err: err})
	}
	ex := s.exchange(ctx, Chunks(pl.batched, s.cfg.BatchSize, s.cfg.MaxQueryLength), from, to, now, purposeHistory, false)
	for t, list := range ex.series {
		switch len(list) {
		case 0:
			put(t, sources.HistoryResult{})
		case 1:
			points, _ := completePoints(list[0], now, s.cfg.Rollup, ground.DatadogRollup(t))
			put(t, sources.HistoryResult{Series: points})
		default:
			put(t, sources.HistoryResult{Err: groupedError(set.original[t], len(list))})
		}
	}
	for t, err := range ex.errs {
		put(t, sources.HistoryResult{Err: err})
	}
	if ex.ok {
		// A query failing alone here is sent alone by the next live refresh.
		s.mu.Lock()
		for t, ce := range ex.alone {
			if ce.kind.split() && s.states[t] == nil {
				s.states[t] = &queryState{err: ce}
			}
		}
		s.mu.Unlock()
	}
	return out
}

// redact removes the keys from a message should Datadog ever echo them.
func (s *Source) redact(msg string) string {
	for _, k := range s.secret {
		if k != "" {
			msg = strings.ReplaceAll(msg, k, "[redacted]")
		}
	}
	return msg
}
