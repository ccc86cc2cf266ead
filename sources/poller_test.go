package sources

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/primetime-dev/primetime/ground"
)

// scripted is a Source whose answers the test sets per query text.
type scripted struct {
	mu      sync.Mutex
	answers map[string]Result
	calls   [][]string
}

func (s *scripted) Kind() ground.SourceKind { return ground.SourcePrometheus }

func (s *scripted) Fetch(_ context.Context, qs []Query, now time.Time) map[string]Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	var texts []string
	out := map[string]Result{}
	for _, q := range qs {
		texts = append(texts, q.Spec.Prometheus)
		if r, ok := s.answers[q.Spec.Prometheus]; ok {
			if r.Err == nil && r.Value.At.IsZero() {
				r.Value.At = now
			}
			out[q.Key()] = r
		}
	}
	s.calls = append(s.calls, texts)
	return out
}

func (s *scripted) History(context.Context, Query, time.Time, time.Time, time.Duration) (ground.Series, error) {
	return nil, ErrNoHistory
}

func (s *scripted) set(query string, r Result) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answers[query] = r
}

func promQuery(ns, q string) Query {
	return Query{Namespace: ns, Spec: ground.LoadSpec{Prometheus: q}}
}

func TestPollerFetchesEachDistinctQueryOnce(t *testing.T) {
	src := &scripted{answers: map[string]Result{"a": {Value: Value{V: 1}}, "b": {Value: Value{V: 2}}}}
	p := NewPoller(NewCache())
	p.Register(Registration{Source: src, Interval: time.Second, MaxAge: time.Minute})
	var qs []Query
	for i := 0; i < 100; i++ {
		qs = append(qs, promQuery(fmt.Sprintf("ns-%d", i), []string{"a", "b"}[i%2]))
	}
	p.SetQueries(qs)
	now := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
	p.Refresh(context.Background(), ground.SourcePrometheus, now)
	if len(src.calls) != 1 || strings.Join(src.calls[0], ",") != "a,b" {
		t.Fatalf("fetched %v, want each distinct query once", src.calls)
	}
	for i, q := range qs {
		if r := p.Reading(q, now); r.Load() != ground.Some(float64(1+i%2)) {
			t.Fatalf("target %d: %+v", i, r)
		}
	}
}

func TestReadingsOverTime(t *testing.T) {
	src := &scripted{answers: map[string]Result{}}
	p := NewPoller(NewCache())
	p.Register(Registration{Source: src, Interval: time.Second, MaxAge: time.Minute})
	q := promQuery("shop", "load")
	p.SetQueries([]Query{q})
	t0 := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
	refresh := func(at time.Time) Reading {
		p.Refresh(context.Background(), ground.SourcePrometheus, at)
		return p.Reading(q, at)
	}
	if r := p.Reading(q, t0); r.Status != StatusPending || r.Load().OK {
		t.Errorf("before any fetch: %+v", r)
	}
	src.set("load", Result{Err: ErrNoData})
	if r := refresh(t0); r.Status != StatusNoData || r.Load().OK {
		t.Errorf("no data: %+v", r)
	}
	src.set("load", Result{Err: &RateLimitError{RetryAt: t0.Add(time.Minute)}})
	if r := refresh(t0.Add(time.Second)); r.Status != StatusRateLimited || r.Load().OK {
		t.Errorf("rate limited: %+v", r)
	}
	src.set("load", Result{Value: Value{V: 1500}})
	if r := refresh(t0.Add(2 * time.Second)); r.Load() != ground.Some(1500.0) {
		t.Errorf("good value: %+v", r)
	}
	// A blip: the last good value serves while it is fresh...
	src.set("load", Result{Err: errors.New("connection refused")})
	if r := refresh(t0.Add(30 * time.Second)); r.Load() != ground.Some(1500.0) || r.Age != 28*time.Second {
		t.Errorf("during a blip: %+v", r)
	}
	// ...and never after the limit: stale, with the cause.
	r := refresh(t0.Add(2*time.Second + time.Minute + time.Second))
	if r.Status != StatusStale || r.Load().OK || !strings.Contains(r.Err.Error(), "connection refused") {
		t.Errorf("after the limit: %+v", r)
	}
	// An unknown kind says so.
	dd := Query{Namespace: "shop", Spec: ground.LoadSpec{Datadog: "sum:x{*}"}}
	if r := p.Reading(dd, t0); r.Status != StatusError || !strings.Contains(r.Err.Error(), "no datadog source") {
		t.Errorf("unregistered source: %+v", r)
	}
}

func TestSetQueriesForgetsOldOnes(t *testing.T) {
	src := &scripted{answers: map[string]Result{"a": {Value: Value{V: 1}}, "b": {Value: Value{V: 2}}}}
	p := NewPoller(NewCache())
	p.Register(Registration{Source: src, Interval: time.Second, MaxAge: time.Minute})
	now := time.Now()
	p.SetQueries([]Query{promQuery("x", "a"), promQuery("x", "b")})
	p.Refresh(context.Background(), ground.SourcePrometheus, now)
	p.SetQueries([]Query{promQuery("x", "b")})
	if r := p.Reading(promQuery("x", "a"), now); r.Status != StatusPending {
		t.Errorf("a removed query keeps its value: %+v", r)
	}
	p.Refresh(context.Background(), ground.SourcePrometheus, now)
	if last := src.calls[len(src.calls)-1]; len(last) != 1 || last[0] != "b" {
		t.Errorf("still fetching %v", last)
	}
}

func TestMissingAnswerIsAnError(t *testing.T) {
	src := &scripted{answers: map[string]Result{}}
	p := NewPoller(NewCache())
	p.Register(Registration{Source: src, Interval: time.Second, MaxAge: time.Minute})
	q := promQuery("x", "forgotten")
	p.SetQueries([]Query{q})
	p.Refresh(context.Background(), ground.SourcePrometheus, time.Now())
	if r := p.Reading(q, time.Now()); r.Status != StatusError {
		t.Errorf("got %+v", r)
	}
}

// A value that is not a load is an error whatever the source, and the
// last good value stays the reading (scenario 3 of docs/reliability.md).
func TestNotALoadIsAnError(t *testing.T) {
	cases := []struct {
		name string
		v    float64
	}{
		{"NaN", math.NaN()},
		{"+Inf", math.Inf(1)},
		{"-Inf", math.Inf(-1)},
		{"negative", -3},
	}
	t0 := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := &scripted{answers: map[string]Result{"q": {Value: Value{V: 700}}}}
			p := NewPoller(NewCache())
			p.Register(Registration{Source: src, Interval: time.Second, MaxAge: time.Minute})
			q := promQuery("x", "q")
			p.SetQueries([]Query{q})
			p.Refresh(context.Background(), ground.SourcePrometheus, t0)
			src.set("q", Result{Value: Value{V: c.v}})
			p.Refresh(context.Background(), ground.SourcePrometheus, t0.Add(15*time.Second))
			r := p.Reading(q, t0.Add(15*time.Second))
			if r.Status != StatusOK || r.Value.V != 700 {
				t.Errorf("reading %+v, want the last good 700 while it is fresh", r)
			}
			r = p.Reading(q, t0.Add(2*time.Minute))
			if r.Status != StatusStale || r.Load().OK || !strings.Contains(r.Err.Error(), "which is not a load") {
				t.Errorf("reading once the last good value is old: %+v, want stale, with the cause", r)
			}
		})
	}
}

func TestRunStopsWithItsContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &scripted{answers: map[string]Result{"a": {Value: Value{V: 1}}}}
		p := NewPoller(NewCache())
		p.Register(Registration{Source: src, Interval: 10 * time.Second, MaxAge: time.Minute})
		p.SetQueries([]Query{promQuery("x", "a")})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { p.Run(ctx, ground.SourcePrometheus, time.Now, nil); close(done) }()
		time.Sleep(25 * time.Second) // fake time: refreshes at 0, 10 and 20 s
		synctest.Wait()
		src.mu.Lock()
		n := len(src.calls)
		src.mu.Unlock()
		if n != 3 {
			t.Fatalf("%d refreshes in 25 s at a 10 s interval, want 3", n)
		}
		cancel()
		synctest.Wait()
		select {
		case <-done:
		default:
			t.Fatal("Run did not stop with its context")
		}
	})
}

// paced is a scripted source that asks for its own refresh interval.
type paced struct {
	*scripted
	interval time.Duration
	asked    []time.Duration // the base intervals it was asked with
}

func (p *paced) RefreshInterval(base time.Duration) time.Duration {
	p.asked = append(p.asked, base)
	return p.interval
}

var _ Pacer = (*paced)(nil)

// A Pacer's interval schedules the next refresh (a timer after each
// refresh, not a fixed ticker), and lengthens its staleness limit by as
// much as it stretched the interval: a stretched interval never makes the
// data stale between two refreshes.
func TestPacedSourceSetsItsInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &paced{scripted: &scripted{answers: map[string]Result{"a": {Value: Value{V: 7}}}}, interval: 90 * time.Second}
		p := NewPoller(NewCache())
		p.Register(Registration{Source: src, Interval: 30 * time.Second, MaxAge: 2 * time.Minute})
		q := promQuery("x", "a")
		p.SetQueries([]Query{q})
		if p.Interval(ground.SourcePrometheus) != 30*time.Second || p.MaxAge(ground.SourcePrometheus) != 2*time.Minute {
			t.Fatalf("before any refresh: interval %s, max age %s; want the registration's 30s and 2m0s", p.Interval(ground.SourcePrometheus), p.MaxAge(ground.SourcePrometheus))
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		start := time.Now()
		go p.Run(ctx, ground.SourcePrometheus, time.Now, nil)
		cases := []struct {
			after time.Duration
			calls int
		}{{time.Second, 1}, {89 * time.Second, 1}, {91 * time.Second, 2}, {179 * time.Second, 2}, {181 * time.Second, 3}}
		for _, c := range cases {
			time.Sleep(start.Add(c.after).Sub(time.Now()))
			synctest.Wait()
			src.mu.Lock()
			n := len(src.calls)
			src.mu.Unlock()
			if n != c.calls {
				t.Errorf("%s after the start: %d refreshes, want %d", c.after, n, c.calls)
			}
		}
		if got := p.Interval(ground.SourcePrometheus); got != 90*time.Second {
			t.Errorf("interval %s, want the pacer's 1m30s", got)
		}
		if fmt.Sprint(src.asked) != "[30s 30s 30s]" {
			t.Errorf("asked with %v, want the base interval after each refresh", src.asked)
		}
		// Stretched by 60 s, the limit is 2m + 60 s = 3m.
		if got := p.MaxAge(ground.SourcePrometheus); got != 3*time.Minute {
			t.Errorf("max age %s, want 3m0s", got)
		}
		last := time.Now().Add(-time.Second) // the refresh at 180 s
		if r := p.Reading(q, last.Add(3*time.Minute)); r.Status != StatusOK {
			t.Errorf("3 minutes after the last refresh: %+v, want ok", r)
		}
		if r := p.Reading(q, last.Add(3*time.Minute+time.Second)); r.Status != StatusStale || r.Err.Error() != "data is 3m1s old, older than the 3m0s limit" {
			t.Errorf("3m1s after the last refresh: %+v, want stale", r)
		}
	})
}
