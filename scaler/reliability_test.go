package scaler_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/custom-metrics-apiserver/pkg/provider"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/sources"
	promsource "github.com/primetime-dev/primetime/sources/prometheus"
)

// heldReplicas is the workload's current replicas, as the HPA reports them.
type heldReplicas struct{ n int32 }

func (h heldReplicas) Current(*ground.Target) ground.Opt[int32] { return ground.Some(h.n) }

// Scenario 1 of docs/reliability.md: the source is down for 10 minutes on
// a simulated clock. No decision ever lowers the replicas; the API serves
// the last value while it is younger than the staleness limit (1 min),
// then an error; after recovery the right value is served within 2
// intervals.
func TestSourceDownTenMinutes(t *testing.T) {
	r := newRig(t)
	r.now = r.now.Add(-2 * time.Hour) // far from the rig's 20:45 spot
	r.engine.Replicas = heldReplicas{20}
	r.step(t, 0)
	if v, err := r.value(t, "primetime_replicas"); v != "20" {
		t.Fatalf("before the outage: %q %v, want 20 (1000 / 50)", v, err)
	}
	r.src.set(0, errors.New("dial tcp 127.0.0.1:9090: connection refused"))
	outage := r.now
	decreases, served, refused := 0, 0, 0
	for r.now.Sub(outage) < 10*time.Minute {
		for _, d := range r.step(t, 15*time.Second) {
			if d.Target.Name == "web" && d.Desired.OK && d.Desired.V < 20 {
				decreases++
			}
		}
		v, err := r.value(t, "primetime_replicas")
		age := r.now.Sub(outage)
		switch {
		case age <= time.Minute && (err != nil || v != "20"):
			t.Errorf("%s into the outage: %q %v, want the last value 20 while it is fresh", age, v, err)
		case age > time.Minute && (err == nil || !strings.Contains(err.Error(), "older than the 1m0s limit")):
			t.Errorf("%s into the outage: %q %v, want a staleness error", age, v, err)
		}
		if err == nil {
			served++
		} else {
			refused++
		}
	}
	if decreases != 0 {
		t.Errorf("%d decisions lowered the replicas during the outage", decreases)
	}
	t.Logf("10 min outage: %d evaluations served the last value, %d answered an error, 0 decreases", served, refused)

	r.src.set(1500, nil)
	for i := 1; ; i++ {
		r.step(t, 15*time.Second)
		if v, err := r.value(t, "primetime_replicas"); err == nil && v == "30" {
			t.Logf("right value %d interval(s) after recovery", i)
			break
		}
		if i == 2 {
			t.Fatal("the right value (30) was not served within 2 intervals of recovery")
		}
	}
}

// Scenario 2: the source answers, but with old timestamps: a staleness
// error from the first answer on, never the stale value.
func TestStaleDataIsNeverServed(t *testing.T) {
	r := newRig(t)
	r.src.age = 5 * time.Minute
	for range 8 {
		r.step(t, 15*time.Second)
		v, err := r.value(t, "primetime_replicas")
		if err == nil || !strings.Contains(err.Error(), "data is 5m0s old, older than the 1m0s limit") {
			t.Fatalf("%q %v, want the staleness error", v, err)
		}
	}
}

// Scenario 7: a window during a source outage. The source fails from
// 20:30; the spot's floor (5x, from 20:37) is still applied on time, on
// the last good load (1000), and served although the data is stale.
func TestWindowDuringSourceOutage(t *testing.T) {
	r := newRig(t)
	r.step(t, 15*time.Minute) // 20:15, load 1000
	r.src.set(0, errors.New("connection refused"))
	r.step(t, 15*time.Minute) // 20:30
	if _, err := r.value(t, "primetime_replicas"); err == nil {
		t.Fatal("20:30: a value is served on data 15 minutes old")
	}
	for r.now.Before(time.Date(2026, 11, 25, 20, 37, 0, 0, r.now.Location())) {
		r.step(t, 15*time.Second)
	}
	if v, err := r.value(t, "primetime_replicas"); v != "100" {
		t.Errorf("20:37, the floor's start: %q %v, want 100 (5 × the last good 1000 / 50)", v, err)
	}
}

// Scenario 4: a slow source (5 s latency against its 3 s timeout), polled
// in the background on the real clock, while the engine runs 10,000
// cycles and the API is asked after each. The API answers from memory
// (its latency is logged, a figure for docs/reliability.md), and the
// goroutine count is the same after 10,000 cycles as after 1,000.
func TestSlowSourceNeverHoldsTheAPI(t *testing.T) {
	var asked atomic.Int64
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		asked.Add(1)
		select {
		case <-time.After(5 * time.Second):
		case <-req.Context().Done():
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"status":"success","data":{"resultType":"vector","result":[]}}`)
	}))
	defer slow.Close()
	src, err := promsource.New(promsource.Config{URL: slow.URL, Timeout: 3 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := newRig(t)
	r.now = r.now.Add(-2 * time.Hour)
	r.step(t, 0) // a good reading first
	r.poller.Register(sources.Registration{Source: src, Interval: 100 * time.Millisecond, MaxAge: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	polling := make(chan struct{})
	go func() { r.poller.Run(ctx, ground.SourcePrometheus, time.Now, nil); close(polling) }()
	defer func() { cancel(); <-polling }()

	sel := labels.SelectorFromSet(labels.Set{"target": "web"})
	latencies := make([]time.Duration, 0, 10000)
	var after1000 int
	for i := range 10000 {
		r.now = r.now.Add(time.Second)
		r.engine.Cycle(ctx, r.now)
		start := time.Now()
		_, _ = r.api.GetExternalMetric(ctx, "storefront", sel, provider.ExternalMetricInfo{Metric: "primetime_replicas"})
		latencies = append(latencies, time.Since(start))
		if i == 999 {
			after1000 = runtime.NumGoroutine()
		}
		if i%10 == 9 {
			time.Sleep(7 * time.Millisecond) // spread the cycles over the source's hung calls
		}
	}
	after10000 := runtime.NumGoroutine()
	if n := asked.Load(); n < 2 {
		t.Fatalf("the slow source was asked %d times during the run: the test proves nothing", n)
	}
	if after10000 > after1000+10 {
		t.Errorf("goroutines: %d after 1,000 cycles, %d after 10,000", after1000, after10000)
	}
	slices.Sort(latencies)
	t.Logf("slow source asked %d times; API p50 %s, p99 %s, max %s; goroutines %d after 1,000 cycles, %d after 10,000",
		asked.Load(), latencies[5000], latencies[9900], latencies[9999], after1000, after10000)
}
