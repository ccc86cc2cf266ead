package sources

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/primetime-dev/primetime/policies"
	"github.com/primetime-dev/primetime/policies/config"
)

// SeasonalHistory fetches what a forecast needs around instant at: for each
// of the past spec.Lookback seasons, the load from at-season-margin to
// at-season+horizon+margin, at step. Asking for these short ranges instead
// of weeks of data keeps each call small. Seasons the source cannot answer
// are skipped; ErrNoHistory is returned as is.
func SeasonalHistory(ctx context.Context, src Source, q Query, at time.Time, spec config.ForecastSpec, horizon, step time.Duration) (policies.Series, error) {
	margin := policies.SampleTolerance
	var out policies.Series
	var errs []error
	for k := 1; k <= spec.Lookback; k++ {
		center := at.Add(-time.Duration(k) * spec.Seasonality)
		s, err := src.History(ctx, q, center.Add(-margin), center.Add(horizon+margin), step)
		if errors.Is(err, ErrNoHistory) {
			return nil, err
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("season -%d: %w", k, err))
			continue
		}
		out = append(out, s...)
	}
	slices.SortFunc(out, func(a, b policies.Sample) int { return a.T.Compare(b.T) })
	out = slices.CompactFunc(out, func(a, b policies.Sample) bool { return a.T.Equal(b.T) })
	if len(out) == 0 && len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}
