package metricsapi

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/metrics/pkg/apis/external_metrics"
	"sigs.k8s.io/custom-metrics-apiserver/pkg/provider"

	"github.com/primetime-dev/primetime/scaler"
)

// The metrics primetime publishes.
const (
	MetricReplicas = "primetime_replicas"
	MetricLoad     = "primetime_load"
)

// Provider answers external metrics requests from a Board.
type Provider struct {
	board *scaler.Board
	// maxAge is how old a published decision may be; older means the
	// engine (or the leader) stopped, and the API answers an error.
	maxAge time.Duration
	clock  func() time.Time
}

var _ provider.ExternalMetricsProvider = (*Provider)(nil)

// NewProvider returns a provider serving board; decisions older than
// maxAge are refused.
func NewProvider(board *scaler.Board, maxAge time.Duration, clock func() time.Time) *Provider {
	if clock == nil {
		clock = time.Now
	}
	return &Provider{board: board, maxAge: maxAge, clock: clock}
}

// ListAllExternalMetrics implements provider.ExternalMetricsProvider.
func (p *Provider) ListAllExternalMetrics() []provider.ExternalMetricInfo {
	return []provider.ExternalMetricInfo{{Metric: MetricReplicas}, {Metric: MetricLoad}}
}

// GetExternalMetric implements provider.ExternalMetricsProvider: the
// targets of namespace selected by the label selector (target=<name>).
// An unknown metric or target is NotFound; a target without a value (stale
// data, failing source, engine stopped) is an error, never 0.
func (p *Provider) GetExternalMetric(_ context.Context, namespace string, selector labels.Selector, info provider.ExternalMetricInfo) (*external_metrics.ExternalMetricValueList, error) {
	gr := schema.GroupResource{Group: external_metrics.GroupName, Resource: info.Metric}
	if info.Metric != MetricReplicas && info.Metric != MetricLoad {
		return nil, provider.NewMetricNotFoundError(gr, info.Metric)
	}
	if selector == nil {
		selector = labels.Everything()
	}
	entries := p.board.Lookup(namespace, selector)
	if len(entries) == 0 {
		return nil, provider.NewMetricNotFoundForSelectorError(gr, info.Metric, namespace, selector)
	}
	now := p.clock()
	list := &external_metrics.ExternalMetricValueList{Items: make([]external_metrics.ExternalMetricValue, 0, len(entries))}
	var problems []string
	for _, e := range entries {
		if age := now.Sub(e.At); age > p.maxAge {
			problems = append(problems, fmt.Sprintf("%s/%s: the decision is %s old (primetime is not evaluating)", e.Namespace, e.Name, age.Round(time.Second)))
			continue
		}
		var q *resource.Quantity
		switch {
		case e.Error != "":
			problems = append(problems, e.Error)
			continue
		case info.Metric == MetricReplicas && e.Replicas != nil:
			q = resource.NewQuantity(int64(*e.Replicas), resource.DecimalSI)
		case info.Metric == MetricLoad && e.Load != nil:
			q = resource.NewMilliQuantity(int64(*e.Load*1000+0.5), resource.DecimalSI)
		default:
			problems = append(problems, fmt.Sprintf("%s/%s: no %s value", e.Namespace, e.Name, info.Metric))
			continue
		}
		list.Items = append(list.Items, external_metrics.ExternalMetricValue{
			MetricName:   info.Metric,
			MetricLabels: map[string]string{"target": e.Name},
			Timestamp:    metav1.NewTime(e.At),
			Value:        *q,
		})
	}
	if len(problems) > 0 {
		// One bad target in the selection fails the request: the HPA then
		// holds its replicas instead of acting on a partial sum. A 500 (not
		// a 503, whose body the aggregation layer replaces) keeps the reason
		// visible in kubectl describe hpa.
		return nil, apierrors.NewInternalError(errors.New(strings.Join(problems, "; ")))
	}
	return list, nil
}
