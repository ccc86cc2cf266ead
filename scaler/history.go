package scaler

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/primetime-dev/primetime/policies"
	"github.com/primetime-dev/primetime/policies/config"
	"github.com/primetime-dev/primetime/sources"
)

// How the daemon refreshes forecast history: every HistoryRefresh, the
// past seasons from now to HistoryHorizon (plus the target's lead time)
// ahead, at HistoryStep.
const (
	HistoryRefresh = 10 * time.Minute
	HistoryHorizon = time.Hour
	HistoryStep    = time.Minute
)

// HistoryCache keeps, for every target with a forecast, the load of its
// past seasons around now, refreshed in the background so that an
// evaluation never waits for a source.
type HistoryCache struct {
	Poller *sources.Poller
	// Horizon is how far ahead of the refresh time the history reaches
	// (HistoryHorizon in the daemon).
	Horizon time.Duration
	Log     *zap.Logger

	mu     sync.RWMutex
	series map[config.TargetKey]policies.Series
}

// History implements HistoryReader.
func (h *HistoryCache) History(t *config.Target) policies.Series {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.series[t.Key()]
}

// Refresh fetches the seasonal history of every target with a forecast.
func (h *HistoryCache) Refresh(ctx context.Context, targets []config.Target, now time.Time) {
	next := map[config.TargetKey]policies.Series{}
	for i := range targets {
		t := &targets[i]
		if t.Forecast == nil {
			continue
		}
		reg, ok := h.Poller.Registered(t.Load.Kind())
		if !ok {
			continue
		}
		q := sources.Query{Namespace: t.Namespace, Spec: t.Load}
		s, err := sources.SeasonalHistory(ctx, reg.Source, q, now, *t.Forecast, h.Horizon+t.LeadTime, HistoryStep)
		if err != nil {
			h.Log.Debug("no history for the forecast", zap.String("target", t.Key().String()), zap.Error(err))
			h.mu.RLock()
			s = h.series[t.Key()] // keep what we had
			h.mu.RUnlock()
		}
		next[t.Key()] = s
	}
	h.mu.Lock()
	h.series = next
	h.mu.Unlock()
}
