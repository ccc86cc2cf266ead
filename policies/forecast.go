package policies

import (
	"slices"
	"sort"
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
//
// A season whose instant lies in masks (a past window occurrence: a TV
// spot, a newsletter) counts with that day's load MaskedLoadBefore before
// the occurrence started instead, so that a past spike never raises the
// forecast at the same hour.
func ForecastAt(history ground.Series, at time.Time, spec ground.ForecastSpec, masks Masks) Forecast {
	var buf [52]float64
	vals := buf[:0]
	for k := 1; k <= spec.Lookback && k <= len(buf); k++ {
		past := at.Add(-time.Duration(k) * spec.Seasonality)
		// That day's usual load, before the occurrence's traffic (and
		// before any occurrence it follows closely).
		for range maxMaskHops {
			span, ok := masks.Cover(past)
			if !ok {
				break
			}
			past = span.From.Add(-MaskedLoadBefore)
		}
		if v, ok := history.At(past, SampleTolerance); ok {
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
func ForecastAhead(history ground.Series, now time.Time, horizon, step time.Duration, spec ground.ForecastSpec, masks Masks) Forecast {
	if step <= 0 {
		step = time.Minute
	}
	var best Forecast
	for d := time.Duration(0); d <= horizon; d += step {
		f := ForecastAt(history, now.Add(d), spec, masks)
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

// Span is the time from From (included) to To (excluded).
type Span struct {
	From, To time.Time
}

// Mask is the spans of one window's occurrences, each from its start to
// its end plus cooldown, in order: the load a forecast leaves out.
type Mask []Span

// Cover returns the span t lies in, if any.
func (m Mask) Cover(t time.Time) (Span, bool) {
	i := sort.Search(len(m), func(i int) bool { return m[i].To.After(t) })
	if i < len(m) && !t.Before(m[i].From) {
		return m[i], true
	}
	return Span{}, false
}

// Masks are the masks of a target's windows.
type Masks []Mask

// Cover returns a span of the masks that t lies in, the earliest
// starting when several do.
func (ms Masks) Cover(t time.Time) (Span, bool) {
	var best Span
	found := false
	for _, m := range ms {
		if s, ok := m.Cover(t); ok && (!found || s.From.Before(best.From)) {
			best, found = s, true
		}
	}
	return best, found
}

// maxMaskHops bounds how many back-to-back occurrences a masked season
// steps back over.
const maxMaskHops = 8

// MaxMaskSpans bounds the spans of one window's mask: a window that comes
// back every few minutes is no spike but the usual load, and masking it
// would cost each refresh more than the cycle's budget; it is not masked.
const MaxMaskSpans = 2000

// MaskedLoadBefore is how long before a past occurrence's start the load
// that stands for it in a forecast is read: a spot may air a little early.
const MaskedLoadBefore = time.Minute

// WindowMask returns the spans of w's occurrences that overlap [from, to):
// from each start to its end plus cooldown. A quiet window masks nothing:
// it caps replicas and brings no traffic of its own; nor does a window of
// more than MaxMaskSpans occurrences in the span.
func WindowMask(w *ground.Window, from, to time.Time) Mask {
	if w.Quiet {
		return nil
	}
	var m Mask
	n := 0
	Starts(w, from.Add(-w.Duration-w.Cooldown), to, func(t time.Time) bool {
		end := t.Add(w.Duration + w.Cooldown)
		if len(m) > 0 && !t.After(m[len(m)-1].To) {
			m[len(m)-1].To = maxTime(m[len(m)-1].To, end) // occurrences that overlap make one span
		} else {
			m = append(m, Span{From: t, To: end})
		}
		n++
		return n <= MaxMaskSpans
	})
	if n > MaxMaskSpans {
		return nil
	}
	return m
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
