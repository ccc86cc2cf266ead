package simulate

import (
	"testing"
	"time"

	"github.com/primetime-dev/primetime/ground"
)

var t0 = time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)

// sync is one HPA pass in a hand-computed sequence: at t0+At the metric is
// Metric (negative: the metrics API answers an error) and the workload has
// the replicas the previous step set; Want is what the HPA sets.
type sync struct {
	At     time.Duration
	Metric float64
	Want   int32
}

func runSyncs(t *testing.T, h *HPA, start int32, steps []sync) {
	t.Helper()
	current := start
	for i, s := range steps {
		m := ground.Some(s.Metric)
		if s.Metric < 0 {
			m = ground.None[float64]()
		}
		got := h.Sync(t0.Add(s.At), m, current)
		if got != s.Want {
			t.Fatalf("step %d at +%s, metric %v, %d replicas: HPA set %d, want %d", i, s.At, s.Metric, current, got, s.Want)
		}
		current = got
	}
}

func TestHPAHandComputed(t *testing.T) {
	sec := time.Second
	cases := []struct {
		name     string
		hpa      HPA
		start    int32
		steps    []sync
		behavior func(*Behavior)
	}{
		{
			// 10 pods at 100 each: 1050 is a ratio of 1.05, inside the 10%
			// tolerance; 1101 is 1.101, outside: ceil(1101/100) = 12.
			name:  "tolerance keeps small changes out",
			hpa:   HPA{Min: 1, Max: 100, Target: 100},
			start: 10,
			steps: []sync{{0, 1050, 10}, {15 * sec, 1100, 10}, {30 * sec, 1101, 12}},
		},
		{
			// With scaleUp.tolerance 0 (as primetime recommends), 17 -> 18 is taken.
			name:     "scale-up tolerance 0 takes a 6% step",
			hpa:      HPA{Min: 1, Max: 100, Target: 1},
			start:    17,
			behavior: func(b *Behavior) { b.Up.Tolerance = 0 },
			steps:    []sync{{0, 18, 18}},
		},
		{
			name:  "default tolerance swallows 17 -> 18",
			hpa:   HPA{Min: 1, Max: 100, Target: 1},
			start: 17,
			steps: []sync{{0, 18, 17}},
		},
		{
			// The load halves at +15 s; the 300 s window holds the highest
			// recommendation (10, made at 0 s) until it leaves the window at
			// +300 s; then the highest left is 5.
			name:  "scale-down waits for the stabilisation window",
			hpa:   HPA{Min: 1, Max: 100, Target: 100},
			start: 10,
			steps: []sync{{0, 1000, 10}, {15 * sec, 500, 10}, {285 * sec, 500, 10}, {300 * sec, 500, 5}},
		},
		{
			// The window holds the highest recommendation in it, not the first.
			name:  "scale-down to the highest recommendation of the window",
			hpa:   HPA{Min: 1, Max: 100, Target: 100},
			start: 10,
			steps: []sync{{0, 1000, 10}, {60 * sec, 800, 10}, {120 * sec, 300, 10}, {300 * sec, 300, 8}, {360 * sec, 300, 3}},
		},
		{
			// From 2 to 20: +4 pods or +100% per 15 s, the larger: 2 -> 6
			// (max(2+4, 4)); the event at 0 s is out of the period at +15 s:
			// 6 -> 12 (max(10, 12)); then 12 -> 20 (max(16, 24), capped by the
			// proposal).
			name:  "scale-up policy: 4 pods or 100% per 15 s",
			hpa:   HPA{Min: 1, Max: 100, Target: 100},
			start: 2,
			steps: []sync{{0, 2000, 6}, {15 * sec, 2000, 12}, {30 * sec, 2000, 20}},
		},
		{
			// Two syncs within one period: the second counts the first
			// scale-up, so the period still starts at 2 pods.
			name:  "scale-up policy counts the changes within the period",
			hpa:   HPA{Min: 1, Max: 100, Target: 100},
			start: 2,
			steps: []sync{{0, 2000, 6}, {10 * sec, 2000, 6}, {15 * sec, 2000, 12}},
		},
		{
			name:     "a Pods-only policy with select Min ramps slowly",
			hpa:      HPA{Min: 1, Max: 100, Target: 100},
			start:    10,
			behavior: func(b *Behavior) { b.Up.Select = SelectMin },
			// min(10+4, 20) = 14, then min(18, 28) = 18.
			steps: []sync{{0, 5000, 14}, {15 * sec, 5000, 18}},
		},
		{
			name:  "bounds: max replicas",
			hpa:   HPA{Min: 2, Max: 8, Target: 100},
			start: 5,
			steps: []sync{{0, 5000, 8}},
		},
		{
			name:  "bounds: min replicas after stabilisation",
			hpa:   HPA{Min: 3, Max: 8, Target: 100},
			start: 5,
			steps: []sync{{0, 0, 5}, {300 * sec, 0, 3}},
		},
		{
			name:  "a failing metric holds the replicas, even for long",
			hpa:   HPA{Min: 1, Max: 100, Target: 100},
			start: 10,
			steps: []sync{{0, -1, 10}, {600 * sec, -1, 10}, {615 * sec, 2000, 20}},
		},
		{
			name:  "replicas above max are brought down even without a metric",
			hpa:   HPA{Min: 1, Max: 8, Target: 100},
			start: 12,
			steps: []sync{{0, -1, 8}},
		},
		{
			name:  "a workload at zero is left alone",
			hpa:   HPA{Min: 1, Max: 8, Target: 100},
			start: 0,
			steps: []sync{{0, 500, 0}},
		},
		{
			name:     "scale-up disabled",
			hpa:      HPA{Min: 1, Max: 100, Target: 100},
			start:    4,
			behavior: func(b *Behavior) { b.Up.Select = SelectDisabled },
			steps:    []sync{{0, 5000, 4}, {15 * sec, 100, 4}, {300 * sec, 100, 1}},
		},
		{
			// A scale-down policy of 1 pod per 60 s: 10 -> 9 at +300 s, then
			// one pod a minute.
			name: "scale-down policy paces the fall",
			hpa:  HPA{Min: 1, Max: 100, Target: 100},
			behavior: func(b *Behavior) {
				b.Down.Policies = []ScalingPolicy{{Kind: PolicyPods, Value: 1, Period: 60 * sec}}
			},
			start: 10,
			steps: []sync{{0, 100, 10}, {300 * sec, 100, 9}, {315 * sec, 100, 9}, {360 * sec, 100, 8}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := c.hpa
			h.Behavior = DefaultBehavior()
			if c.behavior != nil {
				c.behavior(&h.Behavior)
			}
			runSyncs(t, &h, c.start, c.steps)
		})
	}
}

func TestWorkloadStartup(t *testing.T) {
	w := NewWorkload(2, 90*time.Second, t0)
	w.Scale(5, t0)
	assertPods := func(at time.Duration, replicas, ready int32) {
		t.Helper()
		if got := w.Replicas(); got != replicas {
			t.Errorf("at +%s: %d replicas, want %d", at, got, replicas)
		}
		if got := w.Ready(t0.Add(at)); got != ready {
			t.Errorf("at +%s: %d ready, want %d", at, got, ready)
		}
	}
	assertPods(0, 5, 2)
	assertPods(89*time.Second, 5, 2)
	assertPods(90*time.Second, 5, 5)

	// A scale-down removes the pods that are still starting first.
	w.Scale(8, t0.Add(100*time.Second)) // 3 more, ready at +190 s
	w.Scale(6, t0.Add(120*time.Second))
	assertPods(120*time.Second, 6, 5)
	assertPods(190*time.Second, 6, 6)
	w.Scale(3, t0.Add(200*time.Second))
	assertPods(200*time.Second, 3, 3)
}
