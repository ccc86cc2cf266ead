package scaler_test

import (
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/policies"
	"github.com/primetime-dev/primetime/scaler"
	"github.com/primetime-dev/primetime/scaler/configwatch"
	"github.com/primetime-dev/primetime/scaler/metricsapi"
	"github.com/primetime-dev/primetime/sources"
	"sigs.k8s.io/custom-metrics-apiserver/pkg/provider"
)

// loadSource answers every Prometheus query with the load the test sets,
// or an error.
type loadSource struct {
	mu   sync.Mutex
	load float64
	err  error
	age  time.Duration // how old the values it answers are
}

func (s *loadSource) Kind() ground.SourceKind { return ground.SourcePrometheus }
func (s *loadSource) Fetch(_ context.Context, qs []sources.Query, now time.Time) map[string]sources.Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]sources.Result{}
	for _, q := range qs {
		if s.err != nil {
			out[q.Key()] = sources.Result{Err: s.err}
		} else {
			out[q.Key()] = sources.Result{Value: sources.Value{V: s.load, At: now.Add(-s.age)}}
		}
	}
	return out
}
func (s *loadSource) History(context.Context, sources.Query, time.Time, time.Time, time.Duration) (ground.Series, error) {
	return nil, sources.ErrNoHistory
}
func (s *loadSource) set(load float64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.load, s.err = load, err
}

const targetsYAML = `targets:
  - name: web
    scaleTargetRef: {kind: Deployment, name: web}
    load: {prometheus: 'sum(rate(http_requests_total[1m]))'}
    capacityPerReplica: 50
    minReplicas: 2
    maxReplicas: 300
    leadTime: 8m
  - name: eu-only
    scaleTargetRef: {kind: Deployment, name: eu}
    load: {prometheus: 'sum(rate(http_requests_total[1m]))'}
    capacityPerReplica: 50
    maxReplicas: 10
    clusters: [eu]
`

const windowsYAML = `timezone: Europe/Paris
windows:
  - name: tf1-prime-spot
    start: "2026-11-25 20:45"
    duration: 15m
    expect: 5x
    targets: [storefront/web]
`

type rig struct {
	src    *loadSource
	poller *sources.Poller
	engine *scaler.Engine
	board  *scaler.Board
	logs   *observer.ObservedLogs
	reg    *prometheus.Registry
	api    *metricsapi.Provider
	now    time.Time
}

func newRig(t *testing.T) *rig {
	t.Helper()
	store := configwatch.NewStore(nil, nil)
	store.Apply(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "storefront", Name: "targets", ResourceVersion: "1"},
		Data: map[string]string{"t.yaml": targetsYAML}})
	store.Apply(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "marketing", Name: "spots", ResourceVersion: "1"},
		Data: map[string]string{"w.yaml": windowsYAML}})
	src := &loadSource{load: 1000}
	poller := sources.NewPoller(sources.NewCache())
	poller.Register(sources.Registration{Source: src, Interval: 15 * time.Second, MaxAge: time.Minute})
	core, logs := observer.New(zapcore.InfoLevel)
	reg := prometheus.NewRegistry()
	board := &scaler.Board{}
	r := &rig{src: src, poller: poller, board: board, logs: logs, reg: reg,
		engine: &scaler.Engine{Interval: 15 * time.Second, Config: store, Poller: poller, Board: board,
			Metrics: scaler.NewMetrics(reg), Sources: sources.NewMetrics(reg), Log: zap.New(core)},
		now: time.Date(2026, 11, 25, 20, 0, 0, 0, mustZone("Europe/Paris"))}
	r.api = metricsapi.NewProvider(board, time.Minute, func() time.Time { return r.now })
	return r
}

func mustZone(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

// step advances the clock, refreshes the source and evaluates.
func (r *rig) step(t *testing.T, d time.Duration) []policies.Decision {
	t.Helper()
	r.now = r.now.Add(d)
	r.engine.SyncConfig()
	r.poller.Refresh(context.Background(), ground.SourcePrometheus, r.now)
	return r.engine.Cycle(context.Background(), r.now)
}

func (r *rig) value(t *testing.T, metric string) (string, error) {
	t.Helper()
	list, err := r.api.GetExternalMetric(context.Background(), "storefront", labels.SelectorFromSet(labels.Set{"target": "web"}),
		provider.ExternalMetricInfo{Metric: metric})
	if err != nil {
		return "", err
	}
	if len(list.Items) != 1 {
		t.Fatalf("%d items", len(list.Items))
	}
	return list.Items[0].Value.String(), nil
}

// scrape reads the rig's /metrics as Prometheus would.
func (r *rig) scrape(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	scaler.MetricsHandler(r.reg, r.engine.Metrics.WriteTargetSeries).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("/metrics does not parse: %v\n%s", err, rec.Body)
	}
	return mfs
}

func (r *rig) gauge(t *testing.T, name string, want map[string]string) (float64, bool) {
	t.Helper()
	mfs := r.scrape(t)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if got[k] != v {
					continue next
				}
			}
			return m.GetGauge().GetValue(), true
		}
	}
	return 0, false
}

func TestEngineThroughASpot(t *testing.T) {
	r := newRig(t)
	ds := r.step(t, 0)
	if len(ds) != 1 {
		t.Fatalf("%d decisions: the eu-only target must be skipped without --cluster=eu", len(ds))
	}
	if v, err := r.value(t, "primetime_replicas"); err != nil || v != "20" {
		t.Fatalf("at 20:00 with a load of 1000: %q %v, want 20", v, err)
	}
	if v, err := r.value(t, "primetime_load"); err != nil || v != "1k" {
		t.Errorf("primetime_load: %q %v", v, err)
	}
	if n := r.engine.Changes(); n != 1 {
		t.Errorf("%d changes after the first decision, want 1", n)
	}
	r.step(t, 15*time.Second) // same load, same decision
	if n := r.engine.Changes(); n != 1 {
		t.Errorf("%d changes with nothing changed, want 1", n)
	}
	// 20:37: pre-scaling for the 20:45 spot, from the load latched then.
	r.step(t, 37*time.Minute-15*time.Second)
	if n := r.engine.Changes(); n != 2 {
		t.Errorf("%d changes once the floor is up, want 2", n)
	}
	if v, _ := r.value(t, "primetime_replicas"); v != "100" {
		t.Fatalf("at 20:37: %s, want the floor of 100", v)
	}
	if v, ok := r.gauge(t, "primetime_window_active", map[string]string{"window": "tf1-prime-spot", "configmap": "marketing/spots", "target": "web", "phase": "lead"}); !ok || v != 1 {
		t.Errorf("primetime_window_active: %v %v", v, ok)
	}
	if v, ok := r.gauge(t, "primetime_target_replicas", map[string]string{"kind": "floor", "target": "web"}); !ok || v != 100 {
		t.Errorf("floor gauge: %v %v", v, ok)
	}
	// The source fails during the spot: the floor still holds.
	r.src.set(0, errors.New("connection refused"))
	r.step(t, 10*time.Minute)
	r.step(t, 2*time.Minute) // 20:49: the last good value is 2 minutes old
	if v, err := r.value(t, "primetime_replicas"); err != nil || v != "100" {
		t.Fatalf("during an outage with a floor: %q %v, want 100", v, err)
	}
	// After the step-down, with the source still down: an error, never 0.
	r.step(t, 40*time.Minute)
	if _, err := r.value(t, "primetime_replicas"); err == nil || !strings.Contains(err.Error(), "stale") {
		t.Fatalf("stale data and no floor: %v, want a stale error", err)
	}
	if _, ok := r.gauge(t, "primetime_target_load", map[string]string{"kind": "observed", "target": "web"}); ok {
		t.Errorf("the observed load is exported while stale")
	}
	// The source recovers: values again on the next cycle.
	r.src.set(1500, nil)
	r.step(t, 15*time.Second)
	if v, err := r.value(t, "primetime_replicas"); err != nil || v != "30" {
		t.Fatalf("after recovery: %q %v, want 30", v, err)
	}
	// Every change of desired replicas was logged once, with its reason.
	var changes []string
	for _, e := range r.logs.FilterMessage("desired replicas changed").All() {
		changes = append(changes, e.ContextMap()["from"].(string)+"->"+e.ContextMap()["to"].(string)+" by "+e.ContextMap()["policy"].(string))
	}
	if got := strings.Join(changes, ", "); !strings.HasPrefix(got, "none->20 by tracking, 20->100 by window") {
		t.Errorf("logged changes: %s", got)
	}
}

func TestEngineHandsBaselinesOver(t *testing.T) {
	a := newRig(t)
	a.step(t, 37*time.Minute) // latches 1000 for the spot
	b := newRig(t)
	b.engine.ImportBaselines(a.engine.ExportBaselines())
	b.src.set(4000, nil) // the new leader sees a higher load, but the spot's baseline stays 1000
	b.now = a.now
	b.step(t, 15*time.Second)
	if v, _ := b.value(t, "primetime_replicas"); v != "100" {
		t.Errorf("after a handover: %s, want the same floor of 100 (5 × the latched 1000 / 50)", v)
	}
}

func TestAPIRefusesOldDecisions(t *testing.T) {
	r := newRig(t)
	r.step(t, 0)
	r.now = r.now.Add(2 * time.Minute) // the engine stopped evaluating
	if _, err := r.value(t, "primetime_replicas"); err == nil || !strings.Contains(err.Error(), "not evaluating") {
		t.Errorf("got %v", err)
	}
}

func TestAPINotFound(t *testing.T) {
	r := newRig(t)
	r.step(t, 0)
	_, err := r.api.GetExternalMetric(context.Background(), "storefront", labels.SelectorFromSet(labels.Set{"target": "nope"}), provider.ExternalMetricInfo{Metric: "primetime_replicas"})
	if err == nil || !strings.Contains(err.Error(), "not find") {
		t.Errorf("unknown target: %v", err)
	}
	_, err = r.api.GetExternalMetric(context.Background(), "storefront", labels.Everything(), provider.ExternalMetricInfo{Metric: "cpu"})
	if err == nil || !strings.Contains(err.Error(), "not find") {
		t.Errorf("unknown metric: %v", err)
	}
}

// TestRunWakesOnNewReadings checks that a change of load reaches the
// external metrics API after the source's refresh, not after the next
// evaluation interval (an hour here).
func TestRunWakesOnNewReadings(t *testing.T) {
	r := newRig(t)
	r.engine.Interval = time.Hour
	r.engine.SyncConfig()
	r.poller.Refresh(context.Background(), ground.SourcePrometheus, r.now)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clock := func() time.Time { return r.now } // r.now is not moved while Run runs
	evaluated := make(chan struct{}, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.engine.Run(ctx, clock, func(time.Time) { evaluated <- struct{}{} })
	}()
	waitValue := func(want string) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case <-evaluated:
				if v, err := r.value(t, "primetime_replicas"); err == nil && v == want {
					return
				}
			case <-deadline:
				v, err := r.value(t, "primetime_replicas")
				t.Fatalf("primetime_replicas %q (%v), want %s without waiting for the hourly evaluation", v, err, want)
			}
		}
	}
	waitValue("20") // 1000 at 50 per replica
	r.src.set(5000, nil)
	r.poller.Refresh(context.Background(), ground.SourcePrometheus, r.now)
	waitValue("100")
	cancel()
	<-done
}

// flatHistory is a HistoryReader holding, for yesterday, a flat load from
// one instant for an hour, as the daemon's HistoryCache holds past
// seasons around its last refresh only.
type flatHistory struct {
	mu     sync.Mutex
	series ground.Series
}

func (h *flatHistory) History(*ground.Target) ground.Series {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.series
}

func (h *flatHistory) set(from time.Time, load float64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.series = nil
	for m := range 60 {
		h.series = append(h.series, ground.Sample{T: from.Add(time.Duration(m) * time.Minute), V: load})
	}
}

func TestEngineSpotBaseline(t *testing.T) {
	spot := time.Date(2026, 11, 25, 20, 45, 0, 0, mustZone("Europe/Paris"))
	yesterday := spot.Add(-24 * time.Hour)
	cases := []struct {
		name     string
		forecast float64 // yesterday around the spot's start
		observed float64 // before the floor starts
		want     string  // primetime_replicas at the floor's start: 5 × baseline / 50
	}{
		{"the forecast when it is higher", 1200, 1000, "120"},
		{"the observed load when today is busier than the forecast", 800, 1000, "100"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t)
			withForecast(t, r)
			h := &flatHistory{}
			h.set(yesterday.Add(-30*time.Minute), c.forecast)
			r.engine.History = h
			r.src.set(c.observed, nil)
			r.step(t, 37*time.Minute) // 20:37, the floor starts
			if v, _ := r.value(t, "primetime_replicas"); v != c.want {
				t.Errorf("floor: %s replicas, want %s", v, c.want)
			}
		})
	}

	t.Run("latched while the history slides on and the spike arrives", func(t *testing.T) {
		r := newRig(t)
		withForecast(t, r)
		h := &flatHistory{}
		h.set(yesterday.Add(-30*time.Minute), 1000)
		r.engine.History = h
		r.step(t, 37*time.Minute)
		// 20:55: the history now starts after the spot's start, and the
		// source reads the spot's own traffic.
		h.set(yesterday.Add(10*time.Minute), 1000)
		r.src.set(5000, nil)
		r.step(t, 18*time.Minute)
		if v, _ := r.value(t, "primetime_replicas"); v != "100" {
			t.Errorf("floor during the spot: %s replicas, want the 100 set at its start (5 × 1000 / 50)", v)
		}
	})
}

// withForecast gives the rig's web target a one-day seasonal forecast.
func withForecast(t *testing.T, r *rig) {
	t.Helper()
	store := r.engine.Config.(*configwatch.Store)
	store.Apply(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "storefront", Name: "targets", ResourceVersion: "2"},
		Data: map[string]string{"t.yaml": strings.Replace(targetsYAML, "    leadTime: 8m\n", "    leadTime: 8m\n    forecast: {seasonality: 24h, lookback: 1}\n", 1)}})
	for _, tg := range store.Snapshot().Targets {
		if tg.Name == "web" && tg.Forecast == nil {
			t.Fatal("the web target has no forecast")
		}
	}
}

// beforeHistory is a history that knows the load before an instant.
type beforeHistory struct {
	flatHistory
	load float64
	ok   bool
}

func (h *beforeHistory) LoadBefore(_ context.Context, _ *ground.Target, _ time.Time) (float64, bool) {
	return h.load, h.ok
}

// A window first seen after its floor started never takes its baseline
// from the load seen then (the spike itself).
func TestEngineLateWindowBaseline(t *testing.T) {
	lateSpot := func(r *rig) {
		r.engine.Config.(*configwatch.Store).Apply(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "marketing", Name: "late", ResourceVersion: "1"},
			Data: map[string]string{"w.yaml": `timezone: Europe/Paris
windows:
  - name: late-spot
    start: "2026-11-25 21:30"
    duration: 15m
    expect: 5x
    targets: [storefront/web]
`}})
	}
	t.Run("created during its lead: the last load seen before the floor", func(t *testing.T) {
		r := newRig(t)
		r.step(t, 80*time.Minute) // 21:20, 1,000 req/s; the floor would start at 21:22
		r.src.set(5000, nil)      // the spot's traffic came early
		r.step(t, 5*time.Minute)
		lateSpot(r) // 21:25: the window is written three minutes after its floor's start
		r.step(t, 15*time.Second)
		if v, _ := r.value(t, "primetime_replicas"); v != "100" {
			t.Errorf("%s replicas, want 100 (5 × the 1,000 seen before 21:22), not 300 (from the spike)", v)
		}
	})
	t.Run("after a restart without state: the source's history before the floor", func(t *testing.T) {
		r := newRig(t)
		lateSpot(r)
		r.now = r.now.Add(85 * time.Minute) // 21:25, a fresh daemon
		r.src.set(5000, nil)
		h := &beforeHistory{load: 1000, ok: true}
		r.engine.History = h
		r.step(t, 0)
		if v, _ := r.value(t, "primetime_replicas"); v != "100" {
			t.Errorf("%s replicas, want 100 (5 × the history's 1,000 before 21:22)", v)
		}
	})
	t.Run("nothing known from before the floor: no floor, and the decision says why", func(t *testing.T) {
		r := newRig(t)
		lateSpot(r)
		r.now = r.now.Add(85 * time.Minute)
		r.src.set(5000, nil)
		r.engine.History = &beforeHistory{}
		ds := r.step(t, 0)
		if v, _ := r.value(t, "primetime_replicas"); v != "100" {
			t.Errorf("%s replicas, want tracking's 100 (5,000 / 50), no floor from the spike", v)
		}
		if reason := ds[0].Reason(); !strings.Contains(reason, `window "late-spot": 5x needs a baseline load, and none is known yet`) {
			t.Errorf("reason %q does not say the floor waits for a baseline", reason)
		}
	})
}

// A target's series go with it: once its ConfigMap is deleted, the next
// cycle exports none of them (an alert on its data age stops firing).
func TestEngineSeriesOfARemovedTarget(t *testing.T) {
	r := newRig(t)
	r.step(t, 0)
	for _, name := range []string{"primetime_source_data_age_seconds", "primetime_target_load", "primetime_target_replicas"} {
		if _, ok := r.gauge(t, name, map[string]string{"target": "web"}); !ok {
			t.Fatalf("%s of web is not exported", name)
		}
	}
	r.engine.Config.(*configwatch.Store).Delete("storefront", "targets")
	r.step(t, 15*time.Second)
	for _, name := range []string{"primetime_source_data_age_seconds", "primetime_target_load", "primetime_target_replicas", "primetime_window_active"} {
		if v, ok := r.gauge(t, name, map[string]string{"target": "web"}); ok {
			t.Errorf("%s of the removed target web is still exported: %v", name, v)
		}
	}
}

// TestTargetSeriesText: /metrics writes the per-target series in the text
// format, each family once with its HELP and TYPE, gzipped when asked,
// and what Prometheus parses back is the cycle's decision.
func TestTargetSeriesText(t *testing.T) {
	r := newRig(t)
	r.step(t, 0)
	r.step(t, 37*time.Minute) // 20:37: pre-scaling for the 20:45 spot
	rec := httptest.NewRecorder()
	scaler.MetricsHandler(r.reg, r.engine.Metrics.WriteTargetSeries).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type %q", ct)
	}
	for _, want := range []string{
		"# HELP primetime_target_load Load of each target: observed, forecast, scheduled (behind a window's floor) and effective (the highest).\n# TYPE primetime_target_load gauge\n" +
			`primetime_target_load{namespace="storefront",target="web",kind="observed"} 1000` + "\n",
		`primetime_target_replicas{namespace="storefront",target="web",kind="desired"} 100` + "\n" +
			`primetime_target_replicas{namespace="storefront",target="web",kind="floor"} 100` + "\n",
		"# TYPE primetime_window_active gauge\n" +
			`primetime_window_active{namespace="storefront",configmap="marketing/spots",window="tf1-prime-spot",target="web",phase="lead"} 1` + "\n",
		"# TYPE primetime_source_data_age_seconds gauge\n" + `primetime_source_data_age_seconds{source="prometheus",namespace="storefront",target="web"} `,
		"# TYPE primetime_window_targets gauge\n" + `primetime_window_targets{configmap="marketing/spots",window="tf1-prime-spot",phase="lead"} 1` + "\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks\n%s\n--- in ---\n%s", want, body)
		}
	}
	for _, family := range []string{"primetime_target_load", "primetime_target_replicas", "primetime_window_active", "primetime_window_targets", "primetime_source_data_age_seconds", "primetime_config_entries"} {
		if n := strings.Count(body, "# TYPE "+family+" "); n != 1 {
			t.Errorf("%d TYPE lines of %s, want 1", n, family)
		}
	}

	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept-Encoding", "gzip, deflate")
	rec = httptest.NewRecorder()
	scaler.MetricsHandler(r.reg, r.engine.Metrics.WriteTargetSeries).ServeHTTP(rec, req)
	zr, err := gzip.NewReader(rec.Body)
	if err != nil || rec.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("gzip asked: %v, Content-Encoding %q", err, rec.Header().Get("Content-Encoding"))
	}
	unzipped, _ := io.ReadAll(zr)
	// The data's age is read on the wall clock at each scrape.
	withoutAge := func(s string) string {
		var keep []string
		for _, l := range strings.Split(s, "\n") {
			if !strings.HasPrefix(l, "primetime_source_data_age_seconds{") {
				keep = append(keep, l)
			}
		}
		return strings.Join(keep, "\n")
	}
	if withoutAge(string(unzipped)) != withoutAge(body) {
		t.Errorf("gzipped body differs from the plain one:\n%s", unzipped)
	}
}
