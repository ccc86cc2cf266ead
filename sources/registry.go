package sources

import (
	"context"
	"fmt"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/primetime-dev/primetime/policies/config"
)

// Default staleness limits: a value older than this is not used.
const (
	DefaultMaxAgeDatadog    = 2 * time.Minute
	DefaultMaxAgePrometheus = time.Minute
	DefaultMaxAgeScrape     = 30 * time.Second
	DefaultMaxAgeKubernetes = 2 * time.Minute
)

// DefaultScrapeInterval is how often the pods' own metrics are read.
const DefaultScrapeInterval = 5 * time.Second

// DatadogMinInterval is the shortest time between two Datadog refreshes,
// whatever --interval says: it keeps a cluster's calls within the API's
// hourly budget.
const DatadogMinInterval = 30 * time.Second

// DefaultTiming returns how often the daemon fetches a kind of source,
// given its --interval, and that kind's staleness limit. The simulator
// polls its traces with the same timing.
func DefaultTiming(kind config.SourceKind, interval time.Duration) (every, maxAge time.Duration) {
	switch kind {
	case config.SourceDatadog:
		return max(interval, DatadogMinInterval), DefaultMaxAgeDatadog
	case config.SourceScrape:
		return DefaultScrapeInterval, DefaultMaxAgeScrape
	case config.SourceKubernetes:
		return interval, DefaultMaxAgeKubernetes
	default:
		return interval, DefaultMaxAgePrometheus
	}
}

// Registration is a source with its polling interval and staleness limit.
type Registration struct {
	Source Source
	// Interval is the time between two fetches.
	Interval time.Duration
	// MaxAge is the staleness limit.
	MaxAge time.Duration
}

// Poller maps load kinds to sources, keeps the set of queries the targets
// need, fetches them on each source's own interval into the cache, and
// answers readings from the cache only: a reader never waits for a source.
type Poller struct {
	cache   *Cache
	mu      sync.Mutex
	sources map[config.SourceKind]Registration
	queries map[config.SourceKind]map[string]Query
	updated chan struct{}
}

// NewPoller returns a poller with no source registered.
func NewPoller(cache *Cache) *Poller {
	return &Poller{
		cache: cache, sources: map[config.SourceKind]Registration{},
		queries: map[config.SourceKind]map[string]Query{}, updated: make(chan struct{}, 1),
	}
}

// Updated receives after a refresh has stored new readings; several
// refreshes before a receive coalesce into one.
func (p *Poller) Updated() <-chan struct{} { return p.updated }

// Register adds a source; the last registration of a kind wins.
func (p *Poller) Register(r Registration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sources[r.Source.Kind()] = r
}

// Registered returns the registration of a kind.
func (p *Poller) Registered(kind config.SourceKind) (Registration, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r, ok := p.sources[kind]
	return r, ok
}

// SetQueries replaces the set of queries to poll and forgets the others.
func (p *Poller) SetQueries(qs []Query) {
	byKind := map[config.SourceKind]map[string]Query{}
	keep := map[string]bool{}
	for _, q := range qs {
		k := q.Kind()
		if byKind[k] == nil {
			byKind[k] = map[string]Query{}
		}
		byKind[k][q.Key()] = q
		keep[q.Key()] = true
	}
	p.mu.Lock()
	p.queries = byKind
	p.mu.Unlock()
	p.cache.Forget(keep)
}

// queriesOf returns the queries of one kind, sorted by key.
func (p *Poller) queriesOf(kind config.SourceKind) []Query {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.queries[kind]
	out := make([]Query, 0, len(m))
	for _, q := range m {
		out = append(out, q)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key() < out[j].Key() })
	return out
}

// Refresh fetches every query of one kind once and stores the results.
func (p *Poller) Refresh(ctx context.Context, kind config.SourceKind, now time.Time) {
	reg, ok := p.Registered(kind)
	qs := p.queriesOf(kind)
	if !ok || len(qs) == 0 {
		return
	}
	results := reg.Source.Fetch(ctx, qs, now)
	for _, q := range qs {
		r, ok := results[q.Key()]
		switch {
		case !ok:
			r = Result{Err: fmt.Errorf("%s returned nothing for this query", kind)}
		case r.Err == nil && !validLoad(r.Value.V):
			// Whatever the source: a value that is not a load is an error,
			// never a reading (NaN would read as 0 replicas).
			r = Result{Err: fmt.Errorf("%s returned %v, which is not a load", kind, r.Value.V)}
		}
		p.cache.Put(q.Key(), r, now)
	}
	select {
	case p.updated <- struct{}{}:
	default:
	}
}

// validLoad reports whether v can be a load: a finite number >= 0.
func validLoad(v float64) bool {
	return v >= 0 && !math.IsInf(v, 0) // false for NaN too
}

// Run refreshes one kind every interval until ctx ends. clock gives the
// current time (time.Now in production).
func (p *Poller) Run(ctx context.Context, kind config.SourceKind, clock func() time.Time) {
	reg, ok := p.Registered(kind)
	if !ok {
		return
	}
	t := time.NewTicker(reg.Interval)
	defer t.Stop()
	for {
		p.Refresh(ctx, kind, clock())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Reading returns what is known about q at now.
func (p *Poller) Reading(q Query, now time.Time) Reading {
	reg, ok := p.Registered(q.Kind())
	if !ok {
		return Reading{Status: StatusError, Err: fmt.Errorf("no %s source is configured", q.Kind())}
	}
	return p.cache.Get(q.Key(), now, reg.MaxAge)
}
