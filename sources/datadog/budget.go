package datadog

import (
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/primetime-dev/primetime/sources"
)

// budget paces the calls by the rate limit Datadog announces in every
// answer (x-ratelimit-limit calls per x-ratelimit-period, -remaining left
// until -reset, for the limit -name; Go's http.Header reads them whatever
// their case): it counts the calls primetime made in the last period, live
// and history apart, and stretches the live refresh interval so that they
// stay within primetime's share of the limit:
//
//	interval = max(base, period × planned / (share × limit − history − extra))
//
// planned is what one live refresh costs when nothing fails (one call per
// batch); history and extra are the history calls and the live calls beyond
// planned (splits, probes, quarantine retries) of the last period. When that
// leaves less than one refresh, the interval is the period, with a warning.
// It is also stretched when the calls left in the organisation's current
// period (x-ratelimit-remaining, spent by other tools too) would not last
// until x-ratelimit-reset at that pace.
type budget struct {
	share float64
	// seen: an answer carried x-ratelimit-limit or -remaining.
	seen         bool
	name         string
	limit        float64
	period       time.Duration
	remaining    float64
	hasRemaining bool
	resetAt      time.Time
	// calls and refreshes are those of the last period, oldest first.
	calls     []spent
	refreshes []liveRefresh
	// planned is the cost of the last live refresh when nothing fails.
	planned int
}

type spent struct {
	at time.Time
	p  purpose
}

type liveRefresh struct {
	at             time.Time
	planned, calls int
}

// intervalKind is why the live refresh interval is what it is.
type intervalKind int

const (
	intervalBase  intervalKind = iota + 1 // the budget allows the base interval
	intervalShare                         // stretched to primetime's share
	intervalFull                          // history alone spends the share: one refresh per period
	intervalOrg                           // stretched to what is left of the organisation's period
)

// window is the sliding window the calls are counted in.
func (b *budget) window() time.Duration {
	if b.period > 0 {
		return b.period
	}
	return time.Hour
}

func (b *budget) prune(now time.Time) {
	cut := now.Add(-b.window())
	i := 0
	for i < len(b.calls) && !b.calls[i].at.After(cut) {
		i++
	}
	b.calls = slices.Delete(b.calls, 0, i)
	j := 0
	for j < len(b.refreshes) && !b.refreshes[j].at.After(cut) {
		j++
	}
	b.refreshes = slices.Delete(b.refreshes, 0, j)
}

// count records one call.
func (b *budget) count(now time.Time, p purpose) {
	b.calls = append(b.calls, spent{at: now, p: p})
	b.prune(now)
}

// refreshed records one live refresh: what it should cost and what it did.
func (b *budget) refreshed(now time.Time, planned, calls int, outage bool) {
	if !outage && planned > 0 {
		b.planned = planned
	}
	b.refreshes = append(b.refreshes, liveRefresh{at: now, planned: planned, calls: calls})
	b.prune(now)
}

// observe reads the rate-limit headers of an answer and returns the figures
// it announced (only those set), named by the last x-ratelimit-name seen.
func (b *budget) observe(now time.Time, h http.Header) sources.DatadogRateLimit {
	var r sources.DatadogRateLimit
	if h == nil {
		return r
	}
	if v, ok := headerFloat(h, "X-RateLimit-Limit"); ok && v > 0 {
		b.limit, b.seen = v, true
		r.Limit, r.HasLimit = v, true
	}
	if d, ok := headerSeconds(h, "X-RateLimit-Period"); ok && d > 0 {
		b.period = min(d, 24*time.Hour)
		r.Period, r.HasPeriod = d, true
	}
	if n := strings.TrimSpace(h.Get("X-RateLimit-Name")); n != "" {
		b.name = n
	}
	if d, ok := headerSeconds(h, "X-RateLimit-Reset"); ok && d >= 0 {
		// Seconds until the reset; a proxy's epoch time would pause for
		// decades: no pause is longer than MaxRateLimitPause.
		b.resetAt = now.Add(min(d, MaxRateLimitPause))
		r.Reset, r.HasReset = d, true
	}
	if v, ok := headerFloat(h, "X-RateLimit-Remaining"); ok {
		b.remaining, b.hasRemaining, b.seen = max(v, 0), true, true
		r.Remaining, r.HasRemaining = b.remaining, true
	}
	r.Name = b.name
	return r
}

// spentBesides returns the history calls and the live calls beyond the
// planned ones in the last period.
func (b *budget) spentBesides() (history, extra int) {
	for _, c := range b.calls {
		if c.p == purposeHistory {
			history++
		}
	}
	for _, r := range b.refreshes {
		extra += max(r.calls-r.planned, 0)
	}
	return history, extra
}

// interval returns the live refresh interval the budget allows, and why.
func (b *budget) interval(base time.Duration, now time.Time) (time.Duration, intervalKind, string) {
	b.prune(now)
	if !b.seen || b.limit <= 0 {
		return base, intervalBase, "no rate-limit header seen yet"
	}
	if b.planned == 0 {
		return base, intervalBase, "no live call to pace"
	}
	period := b.window()
	history, extra := b.spentBesides()
	mine := b.share * b.limit
	avail := mine - float64(history+extra)
	of := fmt.Sprintf("of primetime's %.0f calls per %s (%g%% of x-ratelimit-limit %.0f)", mine, period, 100*b.share, b.limit)
	spentOn := fmt.Sprintf("%d calls per refresh; %d history and %d retry or split calls in the last %s", b.planned, history, extra, period)
	var d time.Duration
	var kind intervalKind
	var why string
	switch {
	case avail < float64(b.planned):
		d, kind = period, intervalFull
		why = fmt.Sprintf("history and retries alone leave less than one refresh %s (%s): one refresh per period, loads up to %s old; lower the forecasts' lookback, share queries between targets, or raise --datadog-budget-share", of, spentOn, period)
	default:
		d = time.Duration(float64(period) * float64(b.planned) / avail)
		kind = intervalShare
		why = fmt.Sprintf("primetime's share of the Datadog budget: %s, %s", spentOn, of)
		if d <= base {
			d, kind = base, intervalBase
			why = fmt.Sprintf("within budget at the base interval: %s, %s", spentOn, of)
		}
	}
	if b.hasRemaining && b.resetAt.After(now) {
		left := b.resetAt.Sub(now)
		afford := b.remaining - float64(history+extra)*left.Seconds()/period.Seconds()
		if need := float64(b.planned) * left.Seconds() / d.Seconds(); afford < need {
			od := left
			if afford >= float64(b.planned) {
				od = time.Duration(float64(left) * float64(b.planned) / afford)
			}
			if od > d {
				d, kind = od, intervalOrg
				why = fmt.Sprintf("the organisation's budget: %.0f calls left (x-ratelimit-remaining) for the %s until x-ratelimit-reset, %d per refresh", b.remaining, left.Round(time.Second), b.planned)
			}
		}
	}
	d = min(d, period)
	if r := d % time.Second; r != 0 {
		d += time.Second - r
	}
	return d, kind, why
}

// RefreshInterval implements sources.Pacer: the live refresh interval the
// budget allows, recomputed after each refresh; while Datadog fails every
// call, jittered by up to OutageJitter (each refresh then sends one probe).
// It is exported as primetime_datadog_refresh_interval_seconds and logged
// with its reason whenever it changes (by more than a tenth, or for another
// reason).
func (s *Source) RefreshInterval(base time.Duration) time.Duration {
	now := s.cfg.Now()
	s.mu.Lock()
	d, kind, why := s.budget.interval(base, now)
	if kind == s.intervalKind && s.interval > 0 && d >= s.interval*9/10 && d <= s.interval*11/10 {
		d = s.interval // no flapping on a call more or less
	}
	changed := d != s.interval || kind != s.intervalKind
	s.interval, s.intervalKind = d, kind
	down := s.outage != nil
	s.mu.Unlock()
	in := d
	if down {
		in = s.cfg.Jitter(d, OutageJitter)
	}
	s.cfg.RateLimits.SetDatadogRefreshInterval(in)
	if changed {
		log := s.log.Info
		if kind == intervalFull {
			log = s.log.Warn
		}
		log("datadog: live refresh interval", zap.Duration("interval", d), zap.String("reason", why))
	}
	return in
}

func headerFloat(h http.Header, name string) (float64, bool) {
	v, err := strconv.ParseFloat(strings.TrimSpace(h.Get(name)), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	return v, true
}

func headerSeconds(h http.Header, name string) (time.Duration, bool) {
	v, ok := headerFloat(h, name)
	if !ok {
		return 0, false
	}
	return time.Duration(v * float64(time.Second)), true
}
