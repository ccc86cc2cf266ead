package policies

import (
	"testing"
	"time"

	"github.com/primetime-dev/primetime/policies/config"
)

// weeklyHistory returns hourly samples over `weeks` past weeks, the load at
// each instant given by f(week ago, time).
func weeklyHistory(now time.Time, weeks int, f func(week int, t time.Time) float64) Series {
	var s Series
	for ts := now.Add(-time.Duration(weeks) * 168 * time.Hour); ts.Before(now); ts = ts.Add(time.Hour) {
		week := int((now.Sub(ts)-1)/(168*time.Hour)) + 1
		s = append(s, Sample{T: ts, V: f(week, ts)})
	}
	return s
}

func TestForecast(t *testing.T) {
	now := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
	spec := config.ForecastSpec{Seasonality: 168 * time.Hour, Lookback: 4}
	cases := []struct {
		name    string
		history Series
		want    Opt[float64]
		seasons int
	}{
		{"four steady seasons", weeklyHistory(now, 4, func(int, time.Time) float64 { return 1000 }), Some(1000.0), 4},
		{"one season with a spike does not move the median", weeklyHistory(now, 4, func(w int, _ time.Time) float64 {
			if w == 2 {
				return 9000
			}
			return 1000 + float64(w)
		}), Some(1003.5), 4},
		{"two seasons average", weeklyHistory(now, 2, func(w int, _ time.Time) float64 { return float64(w * 1000) }), Some(1500.0), 2},
		{"one season", weeklyHistory(now, 1, func(int, time.Time) float64 { return 700 }), Some(700.0), 1},
		{"no history", nil, None[float64](), 0},
		{"history too recent", weeklyHistory(now, 0, nil), None[float64](), 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := ForecastAt(tc.history, now, spec)
			if f.Load != tc.want || f.Seasons != tc.seasons {
				t.Fatalf("got %v from %d seasons, want %v from %d", f.Load, f.Seasons, tc.want, tc.seasons)
			}
		})
	}
}

func TestForecastAheadSeesTheComingRise(t *testing.T) {
	now := time.Date(2026, 11, 25, 19, 55, 0, 0, time.UTC)
	spec := config.ForecastSpec{Seasonality: 24 * time.Hour, Lookback: 3}
	var h Series
	for ts := now.Add(-72 * time.Hour); ts.Before(now); ts = ts.Add(time.Minute) {
		v := 100.0
		if ts.Hour() == 20 {
			v = 400 // every evening at 20:00 the load quadruples
		}
		h = append(h, Sample{T: ts, V: v})
	}
	if f := ForecastAt(h, now, spec); f.Load != Some(100.0) {
		t.Errorf("at 19:55: %v, want 100", f.Load)
	}
	if f := ForecastAhead(h, now, 8*time.Minute, time.Minute, spec); f.Load != Some(400.0) {
		t.Errorf("over the next 8 minutes: %v, want 400", f.Load)
	}
}
