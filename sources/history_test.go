package sources

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/primetime-dev/primetime/policies"
	"github.com/primetime-dev/primetime/policies/config"
)

// weekly answers History with one point a minute whose value is 1000 on
// Wednesdays at 20:xx and 100 otherwise; season -2 fails.
type weekly struct {
	scripted
	ranges [][2]time.Time
}

func (w *weekly) History(_ context.Context, _ Query, from, to time.Time, step time.Duration) (policies.Series, error) {
	w.ranges = append(w.ranges, [2]time.Time{from, to})
	if len(w.ranges) == 2 {
		return nil, errors.New("timeout")
	}
	var s policies.Series
	for t := from.Truncate(step); !t.After(to); t = t.Add(step) {
		v := 100.0
		if t.Weekday() == time.Wednesday && t.Hour() == 20 {
			v = 1000
		}
		s = append(s, policies.Sample{T: t, V: v})
	}
	return s, nil
}

func TestSeasonalHistoryFeedsTheForecast(t *testing.T) {
	src := &weekly{}
	at := time.Date(2026, 11, 25, 19, 55, 0, 0, time.UTC) // a Wednesday
	spec := config.ForecastSpec{Seasonality: 168 * time.Hour, Lookback: 4}
	h, err := SeasonalHistory(context.Background(), src, promQuery("shop", "load"), at, spec, 10*time.Minute, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(src.ranges) != 4 {
		t.Fatalf("%d calls, want one per season", len(src.ranges))
	}
	for _, r := range src.ranges {
		if d := r[1].Sub(r[0]); d != 20*time.Minute {
			t.Errorf("range of %s, want the 10m horizon plus 5m margins", d)
		}
	}
	// Three seasons answered: the forecast for 20:00 sees the evening rise.
	f := policies.ForecastAhead(h, at, 10*time.Minute, time.Minute, spec)
	if f.Load != policies.Some(1000.0) || f.Seasons != 3 {
		t.Errorf("forecast %v from %d seasons, want 1000 from 3", f.Load, f.Seasons)
	}
}

func TestSeasonalHistoryWithoutHistory(t *testing.T) {
	_, err := SeasonalHistory(context.Background(), &scripted{}, promQuery("shop", "load"), time.Now(),
		config.ForecastSpec{Seasonality: 24 * time.Hour, Lookback: 2}, time.Minute, time.Minute)
	if !errors.Is(err, ErrNoHistory) {
		t.Errorf("got %v", err)
	}
}
