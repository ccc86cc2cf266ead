package policies

import (
	"testing"
	"time"

	"github.com/primetime-dev/primetime/ground"
)

// weeklyHistory returns hourly samples over `weeks` past weeks, the load at
// each instant given by f(week ago, time).
func weeklyHistory(now time.Time, weeks int, f func(week int, t time.Time) float64) ground.Series {
	var s ground.Series
	for ts := now.Add(-time.Duration(weeks) * 168 * time.Hour); ts.Before(now); ts = ts.Add(time.Hour) {
		week := int((now.Sub(ts)-1)/(168*time.Hour)) + 1
		s = append(s, ground.Sample{T: ts, V: f(week, ts)})
	}
	return s
}

func TestForecast(t *testing.T) {
	now := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
	spec := ground.ForecastSpec{Seasonality: 168 * time.Hour, Lookback: 4}
	cases := []struct {
		name    string
		history ground.Series
		want    ground.Opt[float64]
		seasons int
	}{
		{"four steady seasons", weeklyHistory(now, 4, func(int, time.Time) float64 { return 1000 }), ground.Some(1000.0), 4},
		{"one season with a spike does not move the median", weeklyHistory(now, 4, func(w int, _ time.Time) float64 {
			if w == 2 {
				return 9000
			}
			return 1000 + float64(w)
		}), ground.Some(1003.5), 4},
		{"two seasons average", weeklyHistory(now, 2, func(w int, _ time.Time) float64 { return float64(w * 1000) }), ground.Some(1500.0), 2},
		{"one season", weeklyHistory(now, 1, func(int, time.Time) float64 { return 700 }), ground.Some(700.0), 1},
		{"no history", nil, ground.None[float64](), 0},
		{"history too recent", weeklyHistory(now, 0, nil), ground.None[float64](), 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := ForecastAt(tc.history, now, spec, nil)
			if f.Load != tc.want || f.Seasons != tc.seasons {
				t.Fatalf("got %v from %d seasons, want %v from %d", f.Load, f.Seasons, tc.want, tc.seasons)
			}
		})
	}
}

func TestForecastAheadSeesTheComingRise(t *testing.T) {
	now := time.Date(2026, 11, 25, 19, 55, 0, 0, time.UTC)
	spec := ground.ForecastSpec{Seasonality: 24 * time.Hour, Lookback: 3}
	var h ground.Series
	for ts := now.Add(-72 * time.Hour); ts.Before(now); ts = ts.Add(time.Minute) {
		v := 100.0
		if ts.Hour() == 20 {
			v = 400 // every evening at 20:00 the load quadruples
		}
		h = append(h, ground.Sample{T: ts, V: v})
	}
	if f := ForecastAt(h, now, spec, nil); f.Load != ground.Some(100.0) {
		t.Errorf("at 19:55: %v, want 100", f.Load)
	}
	if f := ForecastAhead(h, now, 8*time.Minute, time.Minute, spec, nil); f.Load != ground.Some(400.0) {
		t.Errorf("over the next 8 minutes: %v, want 400", f.Load)
	}
}
