package simulate

import (
	"context"
	"testing"
	"time"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/policies/config"
)

// A target whose Datadog query pins a wide rollup reads the mean of the
// newest bucket that ended (by the metric delay) and tracks the load from
// it: an unannounced step is followed within one bucket (plus the metric
// delay) and one refresh, and every decision in between rests on fresh
// data.
func TestAWideRollupTracksAStep(t *testing.T) {
	const bucket = 5 * time.Minute
	const target = `targets:
  - name: web
    namespace: storefront
    scaleTargetRef: {kind: Deployment, name: web}
    load: {datadog: 'avg:nginx.net.request_per_s{service:web}.rollup(avg, 300)'}
    capacityPerReplica: 50
    minReplicas: 2
    maxReplicas: 300
`
	cases := []struct {
		name string
		step time.Time
		// want: the desired replicas at an offset from the step.
		want []struct {
			after    time.Duration
			replicas int32
		}
	}{
		{name: "a step on a bucket's start", step: t0.Add(45 * time.Minute), want: []struct {
			after    time.Duration
			replicas int32
		}{
			{0, 20},
			// [20:40, 20:45) is the newest bucket known until 20:51, its
			// last 15 s ramping to 5000 (the trace is linear between its
			// rows): 1100 req/s.
			{bucket + DefaultMetricDelay - 15*time.Second, 22},
			// Read by the next Datadog refresh (30 s), decided by the next cycle.
			{bucket + DefaultMetricDelay + 30*time.Second + DefaultInterval, 100},
			{14 * time.Minute, 100},
		}},
		{name: "a step in the middle of a bucket", step: t0.Add(47*time.Minute + 30*time.Second), want: []struct {
			after    time.Duration
			replicas int32
		}{
			{0, 20},
			// [20:45, 20:50): 135 s at 1000, a 15 s ramp, 150 s at 5000:
			// 3100 req/s.
			{bucket/2 + DefaultMetricDelay + 30*time.Second + DefaultInterval, 62},
			// [20:50, 20:55) all at 5000.
			{bucket/2 + bucket + DefaultMetricDelay + 30*time.Second + DefaultInterval, 100},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			all := config.ParseFile("targets.yaml", []byte(target))
			if errs := all.Problems.Errors(); len(errs) > 0 {
				t.Fatalf("fixture: %v", errs)
			}
			rep, err := Run(context.Background(), Setup{Trace: stepAt(tc.step, 20*time.Minute), Target: all.Targets[0],
				Startup: DefaultStartup, MetricDelay: DefaultMetricDelay}, []Strategy{StrategyPrimetime})
			if err != nil {
				t.Fatal(err)
			}
			res := rep.Results[0]
			for _, w := range tc.want {
				if p := at(t, res, tc.step.Add(w.after)); p.Desired != w.replicas {
					t.Errorf("%s after the step: primetime desires %d replicas, want %d", w.after, p.Desired, w.replicas)
				}
			}
			// Once the first bucket is known, every decision has fresh
			// data: the value of a 5-minute bucket is never stale.
			for _, p := range res.Points {
				if p.T.After(t0.Add(bucket+DefaultMetricDelay+time.Minute)) && p.Desired == 0 {
					t.Fatalf("no decision at %s: the load read stale", p.T.Format(time.TimeOnly))
				}
			}
		})
	}
}

// stepAt is two hours at 15 s from t0: 1000 req/s, 5000 from step for d.
func stepAt(step time.Time, d time.Duration) Trace {
	var tr Trace
	for t := t0; !t.After(t0.Add(2 * time.Hour)); t = t.Add(15 * time.Second) {
		v := 1000.0
		if !t.Before(step) && t.Before(step.Add(d)) {
			v = 5000
		}
		tr = append(tr, ground.Sample{T: t, V: v})
	}
	return tr
}
