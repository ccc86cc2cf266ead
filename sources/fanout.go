package sources

import (
	"context"
	"sync"
)

// FanOut runs fetch for every query with at most concurrency in flight and
// returns the results keyed by Query.Key, for sources that ask one query
// per request.
func FanOut(ctx context.Context, queries []Query, concurrency int, fetch func(context.Context, Query) Result) map[string]Result {
	out := make(map[string]Result, len(queries))
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(concurrency, 1))
	for _, q := range queries {
		wg.Add(1)
		sem <- struct{}{}
		go func(q Query) {
			defer func() { <-sem; wg.Done() }()
			r := fetch(ctx, q)
			mu.Lock()
			out[q.Key()] = r
			mu.Unlock()
		}(q)
	}
	wg.Wait()
	return out
}
