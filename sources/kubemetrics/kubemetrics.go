package kubemetrics

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/sources"
)

// Source sums pod CPU usage.
type Source struct {
	client      metricsclient.Interface
	timeout     time.Duration
	observe     sources.Observer
	concurrency int
}

var _ sources.Source = (*Source)(nil)

// New returns a resource metrics source. observe may be nil.
func New(client metricsclient.Interface, timeout time.Duration, observe sources.Observer) *Source {
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	if observe == nil {
		observe = (*sources.Metrics)(nil)
	}
	return &Source{client: client, timeout: timeout, observe: observe, concurrency: 8}
}

// Kind implements sources.Source.
func (s *Source) Kind() ground.SourceKind { return ground.SourceKubernetes }

// History implements sources.Source: metrics.k8s.io keeps no history.
func (s *Source) History(context.Context, sources.Query, time.Time, time.Time, time.Duration) (ground.Series, error) {
	return nil, sources.ErrNoHistory
}

// Fetch lists the pod metrics of each query and sums their CPU usage.
func (s *Source) Fetch(ctx context.Context, queries []sources.Query, _ time.Time) map[string]sources.Result {
	return sources.FanOut(ctx, queries, s.concurrency, s.one)
}

func (s *Source) one(ctx context.Context, q sources.Query) sources.Result {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	start := time.Now()
	list, err := s.client.MetricsV1beta1().PodMetricses(q.Namespace).List(ctx, metav1.ListOptions{LabelSelector: q.Spec.Kubernetes.Selector})
	var r sources.Result
	switch {
	case err != nil:
		r.Err = fmt.Errorf("metrics.k8s.io pods %q in %s: %w", q.Spec.Kubernetes.Selector, q.Namespace, err)
	case len(list.Items) == 0:
		r.Err = fmt.Errorf("%w: metrics.k8s.io has no pod matching %q in %s", sources.ErrNoData, q.Spec.Kubernetes.Selector, q.Namespace)
	default:
		var cores float64
		oldest := list.Items[0].Timestamp.Time
		for _, pm := range list.Items {
			for _, c := range pm.Containers {
				if cpu, ok := c.Usage["cpu"]; ok {
					cores += cpu.AsApproximateFloat64()
				}
			}
			if pm.Timestamp.Time.Before(oldest) {
				oldest = pm.Timestamp.Time
			}
		}
		// The sum is only as fresh as its oldest sample.
		r.Value = sources.Value{V: cores, At: oldest}
	}
	s.observe.ObserveRequest(ground.SourceKubernetes, sources.OutcomeOf(r.Err), time.Since(start))
	return r
}
