package prometheus

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	promconfig "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/sources"
)

// Config says how to reach Prometheus.
type Config struct {
	// URL is the server's base URL, e.g. http://prometheus:9090.
	URL string
	// Timeout bounds each query (default 3s).
	Timeout time.Duration
	// Concurrency bounds the queries in flight (default 8).
	Concurrency int
	// HTTP holds bearer token, basic auth and TLS settings for managed
	// Prometheus services.
	HTTP promconfig.HTTPClientConfig
}

// Source queries Prometheus.
type Source struct {
	api     v1.API
	cfg     Config
	observe sources.Observer
}

var _ sources.Source = (*Source)(nil)

// New returns a Prometheus source. observe may be nil.
func New(cfg Config, observe sources.Observer) (*Source, error) {
	if cfg.URL == "" {
		return nil, errors.New("prometheus: no URL given (--prometheus-url)")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 3 * time.Second
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 8
	}
	if err := cfg.HTTP.Validate(); err != nil {
		return nil, fmt.Errorf("prometheus: %w", err)
	}
	rt, err := promconfig.NewRoundTripperFromConfig(cfg.HTTP, "primetime")
	if err != nil {
		return nil, fmt.Errorf("prometheus: %w", err)
	}
	client, err := api.NewClient(api.Config{Address: cfg.URL, RoundTripper: rt})
	if err != nil {
		return nil, fmt.Errorf("prometheus: %w", err)
	}
	if observe == nil {
		observe = (*sources.Metrics)(nil)
	}
	return &Source{api: v1.NewAPI(client), cfg: cfg, observe: observe}, nil
}

// Kind implements sources.Source.
func (s *Source) Kind() ground.SourceKind { return ground.SourcePrometheus }

// Fetch runs one instant query per distinct query, a few at a time.
func (s *Source) Fetch(ctx context.Context, queries []sources.Query, now time.Time) map[string]sources.Result {
	return sources.FanOut(ctx, queries, s.cfg.Concurrency, func(ctx context.Context, q sources.Query) sources.Result {
		return s.instant(ctx, q.Spec.Prometheus, now)
	})
}

func (s *Source) instant(ctx context.Context, query string, now time.Time) sources.Result {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	start := time.Now()
	val, _, err := s.api.Query(ctx, query, now, v1.WithTimeout(s.cfg.Timeout))
	var r sources.Result
	if err != nil {
		r.Err = fmt.Errorf("prometheus query %q: %w", query, err)
	} else {
		r = fromValue(val)
		if r.Err != nil {
			r.Err = fmt.Errorf("prometheus query %q: %w", query, r.Err)
		}
	}
	s.observe.ObserveRequest(ground.SourcePrometheus, sources.OutcomeOf(r.Err), time.Since(start))
	return r
}

// fromValue turns an instant query's answer into one load value: a scalar,
// or a vector of exactly one sample. An empty vector is no data; NaN and
// infinities are errors, never 0.
func fromValue(v model.Value) sources.Result {
	var sample model.SamplePair
	switch v := v.(type) {
	case *model.Scalar:
		sample = model.SamplePair{Timestamp: v.Timestamp, Value: v.Value}
	case model.Vector:
		switch len(v) {
		case 0:
			return sources.Result{Err: sources.ErrNoData}
		case 1:
			sample = model.SamplePair{Timestamp: v[0].Timestamp, Value: v[0].Value}
		default:
			return sources.Result{Err: fmt.Errorf("returns %d series, want one number; aggregate it, e.g. with sum()", len(v))}
		}
	default:
		return sources.Result{Err: fmt.Errorf("returns a %s, want one number", v.Type())}
	}
	f := float64(sample.Value)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return sources.Result{Err: fmt.Errorf("returns %v, not a load", f)}
	}
	return sources.Result{Value: sources.Value{V: f, At: sample.Timestamp.Time()}}
}

// History runs a range query. Points that are NaN or infinite are dropped.
func (s *Source) History(ctx context.Context, q sources.Query, from, to time.Time, step time.Duration) (ground.Series, error) {
	ctx, cancel := context.WithTimeout(ctx, 4*s.cfg.Timeout)
	defer cancel()
	start := time.Now()
	val, _, err := s.api.QueryRange(ctx, q.Spec.Prometheus, v1.Range{Start: from, End: to, Step: step}, v1.WithTimeout(4*s.cfg.Timeout))
	s.observe.ObserveRequest(ground.SourcePrometheus, sources.OutcomeOf(err), time.Since(start))
	if err != nil {
		return nil, fmt.Errorf("prometheus range query %q: %w", q.Spec.Prometheus, err)
	}
	m, ok := val.(model.Matrix)
	if !ok {
		return nil, fmt.Errorf("prometheus range query %q returns a %s, want a matrix", q.Spec.Prometheus, val.Type())
	}
	switch len(m) {
	case 0:
		return nil, nil
	case 1:
	default:
		return nil, fmt.Errorf("prometheus range query %q returns %d series, want one; aggregate it, e.g. with sum()", q.Spec.Prometheus, len(m))
	}
	series := make(ground.Series, 0, len(m[0].Values))
	for _, p := range m[0].Values {
		f := float64(p.Value)
		if !math.IsNaN(f) && !math.IsInf(f, 0) {
			series = append(series, ground.Sample{T: p.Timestamp.Time(), V: f})
		}
	}
	return series, nil
}

// BearerToken returns an HTTP config that sends a bearer token read from
// file (re-read on change, for rotated tokens).
func BearerToken(file string) promconfig.HTTPClientConfig {
	return promconfig.HTTPClientConfig{Authorization: &promconfig.Authorization{Type: "Bearer", CredentialsFile: file}}
}
