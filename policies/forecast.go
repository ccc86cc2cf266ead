package policies

import (
	"slices"
	"time"

	"github.com/primetime-dev/primetime/ground"
)

// Forecast is the seasonal baseline at one instant.
type Forecast struct {
	// Load is the median of the loads at the same time in past seasons;
	// absent when no season has data.
	Load ground.Opt[float64]
	// Seasons is how many past seasons had data.
	Seasons int
}

// SampleTolerance is how far from the wanted instant a history sample may
// be and still count for it.
const SampleTolerance = 5 * time.Minute

// HistoryRange is a span of past load, [From, To], that a forecast reads.
type HistoryRange struct {
	From, To time.Time
	// Season is how many seasons before the instant asked for it lies.
	Season int
}

// HistoryRanges returns the past load a forecast needs to look from at up
// to horizon ahead: for each of the past spec.Lookback seasons, the same
// span one season earlier, widened by SampleTolerance on both sides (a
// sample that far from the wanted instant still counts for it). Asking for
// these short spans instead of weeks of data keeps each call small; the
// caller fetches them.
func HistoryRanges(at time.Time, spec ground.ForecastSpec, horizon time.Duration) []HistoryRange {
	out := make([]HistoryRange, 0, spec.Lookback)
	for k := 1; k <= spec.Lookback; k++ {
		center := at.Add(-time.Duration(k) * spec.Seasonality)
		out = append(out, HistoryRange{From: center.Add(-SampleTolerance), To: center.Add(horizon + SampleTolerance), Season: k})
	}
	return out
}

// ForecastAt returns the load expected at instant at: the median of the
// loads at the same time in the past spec.Lookback seasons. The median
// makes it robust to one unusual season (a past TV spot, an outage); with
// fewer seasons it uses those there are, and with none it is absent.
func ForecastAt(history ground.Series, at time.Time, spec ground.ForecastSpec) Forecast {
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
	return Forecast{Load: ground.Some(median(vals)), Seasons: len(vals)}
}

// ForecastAhead returns the highest forecast over [now, now+horizon],
// looked at every step: what the load will need by the time new capacity
// is ready.
func ForecastAhead(history ground.Series, now time.Time, horizon, step time.Duration, spec ground.ForecastSpec) Forecast {
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
