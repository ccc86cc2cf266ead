package sources

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/primetime-dev/primetime/ground"
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
// whatever --interval says: the base interval, which the Datadog source
// stretches (as a Pacer) when its queries would spend more than primetime's
// share of the API's budget.
const DatadogMinInterval = 30 * time.Second

// DefaultTiming returns how often the daemon fetches a kind of source,
// given its --interval, and that kind's staleness limit. The simulator
// polls its traces with the same timing.
func DefaultTiming(kind ground.SourceKind, interval time.Duration) (every, maxAge time.Duration) {
	switch kind {
	case ground.SourceDatadog:
		return max(interval, DatadogMinInterval), DefaultMaxAgeDatadog
	case ground.SourceScrape:
		return DefaultScrapeInterval, DefaultMaxAgeScrape
	case ground.SourceKubernetes:
		return interval, DefaultMaxAgeKubernetes
	default:
		return interval, DefaultMaxAgePrometheus
	}
}

// Registration is a source with its polling interval and staleness limit.
type Registration struct {
	Source Source
	// Interval is the time between two fetches (the base interval of a
	// Pacer).
	Interval time.Duration
	// MaxAge is the staleness limit at Interval.
	MaxAge time.Duration
}

// Pacer is a Source that sets its own refresh interval, from the rate-limit
// budget its backend announces (Datadog). After each refresh the poller
// asks it for the time until the next one.
type Pacer interface {
	// RefreshInterval returns the time until the next refresh, never less
	// than base (the registration's Interval).
	RefreshInterval(base time.Duration) time.Duration
}

// Poller maps load kinds to sources, keeps the set of queries the targets
// need, fetches them on each source's own interval into the cache, and
// answers readings from the cache only: a reader never waits for a source.
//
// A Pacer source's refreshes follow the interval it asks for, and its
// staleness limit grows with it: MaxAge + (interval - Interval). A value is
// at most MaxAge old when refreshes come every Interval; a refresh that
// comes (interval - Interval) later may make it that much older, and it is
// still the freshest value there can be, not a sign of a failing source.
type Poller struct {
	cache     *Cache
	mu        sync.Mutex
	sources   map[ground.SourceKind]Registration
	queries   map[ground.SourceKind]map[string]Query
	intervals map[ground.SourceKind]time.Duration // set by Pacer sources
	updated   chan struct{}
}

// NewPoller returns a poller with no source registered.
func NewPoller(cache *Cache) *Poller {
	return &Poller{
		cache: cache, sources: map[ground.SourceKind]Registration{},
		queries:   map[ground.SourceKind]map[string]Query{},
		intervals: map[ground.SourceKind]time.Duration{}, updated: make(chan struct{}, 1),
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
	delete(p.intervals, r.Source.Kind())
}

// Interval returns the time from a refresh of kind to the next: the
// registration's Interval, or what a Pacer source asked for after its last
// refresh.
func (p *Poller) Interval(kind ground.SourceKind) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.intervalLocked(kind)
}

func (p *Poller) intervalLocked(kind ground.SourceKind) time.Duration {
	if d, ok := p.intervals[kind]; ok {
		return d
	}
	return p.sources[kind].Interval
}

// MaxAge returns the staleness limit of kind in force: the registration's
// MaxAge, lengthened by as much as a Pacer stretched the interval beyond the
// registration's Interval.
func (p *Poller) MaxAge(kind ground.SourceKind) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	reg := p.sources[kind]
	return reg.MaxAge + max(p.intervalLocked(kind)-reg.Interval, 0)
}

// Registered returns the registration of a kind.
func (p *Poller) Registered(kind ground.SourceKind) (Registration, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r, ok := p.sources[kind]
	return r, ok
}

// SetQueries replaces the set of queries to poll and forgets the others.
func (p *Poller) SetQueries(qs []Query) {
	byKind := map[ground.SourceKind]map[string]Query{}
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
func (p *Poller) queriesOf(kind ground.SourceKind) []Query {
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
func (p *Poller) Refresh(ctx context.Context, kind ground.SourceKind, now time.Time) {
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
	if pacer, ok := reg.Source.(Pacer); ok {
		d := pacer.RefreshInterval(reg.Interval)
		p.mu.Lock()
		p.intervals[kind] = max(d, reg.Interval)
		p.mu.Unlock()
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

// Kinds returns the registered source kinds, sorted.
func (p *Poller) Kinds() []ground.SourceKind {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]ground.SourceKind, 0, len(p.sources))
	for k := range p.sources {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Run refreshes one kind until ctx ends, each refresh Interval(kind) after
// the end of the previous one (a Pacer source's own interval). clock gives
// the current time (time.Now in production). first, when not nil, is called
// once the first refresh is over (or at once when the kind is not
// registered).
func (p *Poller) Run(ctx context.Context, kind ground.SourceKind, clock func() time.Time, first func()) {
	if _, ok := p.Registered(kind); !ok {
		if first != nil {
			first()
		}
		return
	}
	for {
		p.Refresh(ctx, kind, clock())
		if first != nil {
			first()
			first = nil
		}
		t := time.NewTimer(p.Interval(kind))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// Reading returns what is known about q at now.
func (p *Poller) Reading(q Query, now time.Time) Reading {
	if _, ok := p.Registered(q.Kind()); !ok {
		return Reading{Status: StatusError, Err: fmt.Errorf("no %s source is configured", q.Kind())}
	}
	return p.cache.Get(q.Key(), now, p.MaxAge(q.Kind()))
}
