package sources

import (
	"sync"
	"time"
)

// entry is what the cache keeps per query.
type entry struct {
	last      Value // last good value
	hasValue  bool
	lastErr   error // error of the last fetch; nil when it succeeded
	lastFetch time.Time
}

// Cache keeps, for each query, the last good value, its timestamp and the
// last error. It is safe for concurrent use: sources write, the engine and
// the metrics API read.
type Cache struct {
	mu      sync.RWMutex
	entries map[string]*entry
}

// NewCache returns an empty cache.
func NewCache() *Cache { return &Cache{entries: map[string]*entry{}} }

// Put records the result of one fetch of the query key.
func (c *Cache) Put(key string, r Result, fetchedAt time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[key]
	if e == nil {
		e = &entry{}
		c.entries[key] = e
	}
	e.lastFetch = fetchedAt
	e.lastErr = r.Err
	if r.Err == nil && (!e.hasValue || !r.Value.At.Before(e.last.At)) {
		e.last, e.hasValue = r.Value, true
	}
}

// Get returns what is known about key at now, given the source's staleness
// limit. The last good value is served while it is at most maxAge plus its
// Span old (a value from a 5-minute bucket is replaced once per 5 minutes),
// even if the latest fetch failed (a blip); after that the reading is stale.
func (c *Cache) Get(key string, now time.Time, maxAge time.Duration) Reading {
	c.mu.RLock()
	e, ok := c.entries[key]
	var cp entry
	if ok {
		cp = *e
	}
	c.mu.RUnlock()
	if !ok {
		return Reading{Status: StatusPending, Err: errPending}
	}
	if !cp.hasValue {
		return Reading{Status: statusOf(cp.lastErr), Err: cp.lastErr}
	}
	age := now.Sub(cp.last.At)
	if age < 0 {
		age = 0
	}
	limit := maxAge + cp.last.Span
	if age > limit {
		return Reading{Status: StatusStale, Value: cp.last, Age: age, Limit: limit, Err: &StaleError{Age: age, Limit: limit, Span: cp.last.Span, Cause: cp.lastErr}}
	}
	return Reading{Status: StatusOK, Value: cp.last, Age: age, Limit: limit}
}

// Forget drops the queries whose keys are not in keep.
func (c *Cache) Forget(keep map[string]bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.entries {
		if !keep[k] {
			delete(c.entries, k)
		}
	}
}

var errPending = pendingError{}

type pendingError struct{}

func (pendingError) Error() string { return "not fetched yet" }
