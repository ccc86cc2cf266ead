package policies

import (
	"math"
	"slices"
	"sort"
	"time"

	"github.com/primetime-dev/primetime/policies/config"
)

// Sample is one load value at one instant.
type Sample struct {
	T time.Time
	V float64
}

// Series is a load history, sorted by time.
type Series []Sample

// At returns the sample nearest to t within tolerance.
func (s Series) At(t time.Time, tolerance time.Duration) (float64, bool) {
	i := sort.Search(len(s), func(i int) bool { return !s[i].T.Before(t) })
	best, bestDist := 0.0, tolerance+1
	for _, j := range []int{i - 1, i} {
		if j < 0 || j >= len(s) {
			continue
		}
		d := s[j].T.Sub(t)
		if d < 0 {
			d = -d
		}
		if d <= tolerance && d < bestDist && !math.IsNaN(s[j].V) && !math.IsInf(s[j].V, 0) {
			best, bestDist = s[j].V, d
		}
	}
	return best, bestDist <= tolerance
}

// Forecast is the seasonal baseline at one instant.
type Forecast struct {
	// Load is the median of the loads at the same time in past seasons;
	// absent when no season has data.
	Load Opt[float64]
	// Seasons is how many past seasons had data.
	Seasons int
}

// SampleTolerance is how far from the wanted instant a history sample may
// be and still count for it.
const SampleTolerance = 5 * time.Minute

// ForecastAt returns the load expected at instant at: the median of the
// loads at the same time in the past spec.Lookback seasons. The median
// makes it robust to one unusual season (a past TV spot, an outage); with
// fewer seasons it uses those there are, and with none it is absent.
func ForecastAt(history Series, at time.Time, spec config.ForecastSpec) Forecast {
	var buf [52]float64
	vals := buf[:0]
	for k := 1; k <= spec.Lookback && k <= len(buf); k++ {
		if v, ok := history.At(at.Add(-time.Duration(k)*spec.Seasonality), SampleTolerance); ok {
			vals = append(vals, v)
		}
	}
	if len(vals) == 0 {
		return Forecast{}
	}
	return Forecast{Load: Some(median(vals)), Seasons: len(vals)}
}

// ForecastAhead returns the highest forecast over [now, now+horizon],
// looked at every step: what the load will need by the time new capacity
// is ready.
func ForecastAhead(history Series, now time.Time, horizon, step time.Duration, spec config.ForecastSpec) Forecast {
	if step <= 0 {
		step = time.Minute
	}
	var best Forecast
	for d := time.Duration(0); d <= horizon; d += step {
		f := ForecastAt(history, now.Add(d), spec)
		if f.Load.OK && (!best.Load.OK || f.Load.V > best.Load.V) {
			best = f
		}
	}
	return best
}

func median(vals []float64) float64 {
	slices.Sort(vals)
	n := len(vals)
	if n%2 == 1 {
		return vals[n/2]
	}
	return (vals[n/2-1] + vals[n/2]) / 2
}
