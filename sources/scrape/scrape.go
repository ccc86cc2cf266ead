package scrape

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/sources"
)

// Defaults of the scrape source.
const (
	DefaultInterval    = sources.DefaultScrapeInterval
	DefaultTimeout     = 2 * time.Second
	DefaultConcurrency = 32
	// maxBody bounds what is read from one pod.
	maxBody = 16 << 20
	// A pod seen for the first time that became ready less than
	// firstRateMax ago is new behind its Service: its counter grew from
	// about zero since then, and what it served belongs in the round's sum.
	// Without it the pods that take their share of the traffic would be
	// missing from the sum for one round, and a scale-up would read as a
	// fall in load. firstRateMin keeps a readiness time truncated to the
	// second from inflating the rate of a pod that is the query's first.
	firstRateMin = 2 * time.Second
	firstRateMax = 30 * time.Second
)

// Config tunes the scrape source.
type Config struct {
	// Timeout bounds one pod's scrape.
	Timeout time.Duration
	// Concurrency bounds the scrapes in flight, over all targets.
	Concurrency int
	// MaxRateAge is how long a pod's last rate stands in when a scrape of
	// it fails.
	MaxRateAge time.Duration
	// Client is the HTTP client; nil for a default one.
	Client   *http.Client
	Observer sources.Observer
}

// Source scrapes pods.
type Source struct {
	pods PodLister
	cfg  Config

	mu    sync.Mutex
	state map[string]map[types.UID]*podState // query key -> pod -> state
}

var _ sources.Source = (*Source)(nil)

// podState is what one pod's counter did at its last scrape.
type podState struct {
	value   float64
	at      time.Time
	rate    float64
	rateAt  time.Time
	hasRate bool
}

// New returns a scrape source.
func New(pods PodLister, cfg Config) *Source {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.MaxRateAge <= 0 {
		cfg.MaxRateAge = sources.DefaultMaxAgeScrape
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: cfg.Timeout}).DialContext,
			MaxIdleConnsPerHost: 2,
			IdleConnTimeout:     time.Minute,
		}}
	}
	if cfg.Observer == nil {
		cfg.Observer = (*sources.Metrics)(nil)
	}
	return &Source{pods: pods, cfg: cfg, state: map[string]map[types.UID]*podState{}}
}

// Kind implements sources.Source.
func (s *Source) Kind() ground.SourceKind { return ground.SourceScrape }

// History implements sources.Source: scraping keeps no history.
func (s *Source) History(context.Context, sources.Query, time.Time, time.Time, time.Duration) (ground.Series, error) {
	return nil, sources.ErrNoHistory
}

// scrapeJob is one pod to scrape for one query.
type scrapeJob struct {
	key     string
	pod     types.UID
	url     string
	counter string
	// readySince is when the pod became ready.
	readySince time.Time
	value      float64
	err        error
}

// Fetch scrapes every pod of every query once, all queries together under
// one concurrency bound, and returns each query's summed rate.
func (s *Source) Fetch(ctx context.Context, queries []sources.Query, now time.Time) map[string]sources.Result {
	out := make(map[string]sources.Result, len(queries))
	var jobs []*scrapeJob
	present := map[string]map[types.UID]bool{}
	for _, q := range queries {
		sc := q.Spec.Scrape
		sel, err := labels.Parse(sc.Selector)
		if err != nil {
			out[q.Key()] = sources.Result{Err: fmt.Errorf("selector %q: %w", sc.Selector, err)}
			continue
		}
		pods, err := s.pods.Pods(q.Namespace, sel)
		if err != nil {
			out[q.Key()] = sources.Result{Err: err}
			continue
		}
		present[q.Key()] = map[types.UID]bool{}
		for _, p := range pods {
			if !scrapeable(p) {
				continue
			}
			present[q.Key()][p.UID] = true
			jobs = append(jobs, &scrapeJob{
				key:        q.Key(),
				pod:        p.UID,
				url:        "http://" + net.JoinHostPort(p.Status.PodIP, strconv.Itoa(int(sc.Port))) + sc.Path,
				counter:    sc.Counter,
				readySince: readySince(p),
			})
		}
	}
	s.run(ctx, jobs)

	byKey := map[string][]*scrapeJob{}
	for _, j := range jobs {
		byKey[j.key] = append(byKey[j.key], j)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, q := range queries {
		key := q.Key()
		pods, listed := present[key]
		if !listed {
			continue
		}
		st := s.state[key]
		if st == nil {
			st = map[types.UID]*podState{}
			s.state[key] = st
		}
		for uid := range st {
			if !pods[uid] {
				delete(st, uid) // the pod is gone
			}
		}
		out[key] = s.sum(st, byKey[key], now, q)
	}
	for key := range s.state {
		if _, wanted := present[key]; !wanted {
			if _, failed := out[key]; !failed {
				delete(s.state, key)
			}
		}
	}
	return out
}

// scrapeable reports whether a pod serves load: running, ready (so that
// its Service sends it traffic), with an address, and not on its way out.
// A pod still starting serves nothing and may not answer yet.
func scrapeable(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodRunning && p.Status.PodIP != "" && p.DeletionTimestamp == nil && !readySince(p).IsZero()
}

// readySince returns when the pod became ready, or zero if it is not.
func readySince(p *corev1.Pod) time.Time {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			if c.LastTransitionTime.IsZero() {
				return time.Unix(0, 0) // ready, since an unknown time
			}
			return c.LastTransitionTime.Time
		}
	}
	return time.Time{}
}

// sum folds one round of scrapes of a query's pods into their rates and
// returns the query's total rate.
//
// A pod's rate is its counter's increase since its previous scrape over
// the time between them; a counter that went down was reset (the process
// restarted), so its whole value is the increase. A new pod has no rate
// until its second scrape, unless it became ready moments ago (see
// firstRateMax): then its whole counter was served in this round, and is
// divided by the round's length like the other pods' increases, so that
// the sum is what all the pods served over the round. A pod whose scrape
// fails keeps its last rate for
// MaxRateAge; beyond that its share is estimated from the other pods, so
// that a failing pod never reads as zero load. If more than half of the
// pods cannot be read, the result is an error.
func (s *Source) sum(st map[types.UID]*podState, jobs []*scrapeJob, now time.Time, q sources.Query) sources.Result {
	if len(jobs) == 0 {
		return sources.Result{Err: fmt.Errorf("%w: no running pod matches %q in namespace %s", sources.ErrNoData, q.Spec.Scrape.Selector, q.Namespace)}
	}
	var total float64
	withRate, unknown := 0, 0
	var firstErr error
	// The previous round: the latest earlier scrape of a pod of this query.
	var prevRound time.Time
	for _, j := range jobs {
		if ps := st[j.pod]; ps != nil && ps.at.After(prevRound) {
			prevRound = ps.at
		}
	}
	for _, j := range jobs {
		ps := st[j.pod]
		if j.err != nil {
			if firstErr == nil {
				firstErr = j.err
			}
			if ps != nil && ps.hasRate && now.Sub(ps.rateAt) <= s.cfg.MaxRateAge {
				total += ps.rate
				withRate++
			} else {
				unknown++
			}
			continue
		}
		if ps == nil {
			ps = &podState{value: j.value, at: now}
			st[j.pod] = ps
			inService := now.Sub(j.readySince)
			over := inService
			if !prevRound.IsZero() {
				over = max(over, now.Sub(prevRound))
			}
			if inService <= firstRateMax && over >= firstRateMin {
				ps.rate, ps.rateAt, ps.hasRate = j.value/over.Seconds(), now, true
				total += ps.rate
				withRate++
			}
			continue
		}
		if dt := now.Sub(ps.at).Seconds(); dt > 0 {
			inc := j.value - ps.value
			if inc < 0 {
				inc = j.value // counter reset
			}
			ps.rate, ps.rateAt, ps.hasRate = inc/dt, now, true
		}
		ps.value, ps.at = j.value, now
		if ps.hasRate {
			total += ps.rate
			withRate++
		}
	}
	switch {
	case unknown*2 > len(jobs):
		return sources.Result{Err: fmt.Errorf("%d of %d pods cannot be scraped: %w", unknown, len(jobs), firstErr)}
	case withRate == 0 && unknown > 0:
		return sources.Result{Err: fmt.Errorf("no pod could be scraped: %w", firstErr)}
	case withRate == 0:
		return sources.Result{Err: fmt.Errorf("%w: warming up, a rate needs two scrapes", sources.ErrNoData)}
	}
	if unknown > 0 {
		total *= float64(withRate+unknown) / float64(withRate)
	}
	return sources.Result{Value: sources.Value{V: total, At: now}}
}

// run scrapes the jobs with at most Concurrency in flight.
func (s *Source) run(ctx context.Context, jobs []*scrapeJob) {
	var wg sync.WaitGroup
	next := make(chan *scrapeJob)
	workers := min(s.cfg.Concurrency, len(jobs))
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range next {
				start := time.Now()
				j.value, j.err = s.scrape(ctx, j.url, j.counter)
				s.cfg.Observer.ObserveRequest(ground.SourceScrape, sources.OutcomeOf(j.err), time.Since(start))
			}
		}()
	}
	for _, j := range jobs {
		next <- j
	}
	close(next)
	wg.Wait()
}

// scrape GETs one pod's metrics and returns the counter summed over its
// label sets.
func (s *Source) scrape(ctx context.Context, url, counter string) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return 0, fmt.Errorf("scrape %s: HTTP %d", url, resp.StatusCode)
	}
	return CounterValue(io.LimitReader(resp.Body, maxBody), counter)
}

// CounterValue parses the Prometheus text format and returns the named
// counter summed over its label sets.
func CounterValue(r io.Reader, counter string) (float64, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(r)
	if err != nil {
		return 0, fmt.Errorf("metrics do not parse: %w", err)
	}
	mf, ok := families[counter]
	if !ok {
		return 0, fmt.Errorf("no metric %q in the pod's metrics", counter)
	}
	var sum float64
	for _, m := range mf.GetMetric() {
		switch mf.GetType() {
		case dto.MetricType_COUNTER:
			sum += m.GetCounter().GetValue()
		case dto.MetricType_UNTYPED:
			sum += m.GetUntyped().GetValue()
		case dto.MetricType_GAUGE:
			sum += m.GetGauge().GetValue()
		default:
			return 0, fmt.Errorf("metric %q is a %s, want a counter", counter, mf.GetType())
		}
	}
	if sum != sum {
		return 0, errors.New("metric " + strconv.Quote(counter) + " is NaN")
	}
	return sum, nil
}
