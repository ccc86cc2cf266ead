package config

import (
	"testing"
	"time"
)

// TestBehaviorByMode: behavior paces scale mode as the HPA would; in
// metric mode it paces primetime_replicas' descent itself, and in
// hpa-floor mode how long a shaped floor is held (the HPA's own tolerance
// applies in both, so a tolerance is refused there).
func TestBehaviorByMode(t *testing.T) {
	target := func(mode, behavior string) string {
		return "targets:\n  - name: web\n    namespace: storefront\n    scaleTargetRef: {kind: Deployment, name: web}\n" +
			"    load: {prometheus: 'sum(rate(http_requests_total[1m]))'}\n    capacityPerReplica: 50\n    maxReplicas: 30\n" +
			"    mode: " + mode + "\n    behavior: " + behavior + "\n"
	}
	for _, tc := range []struct {
		name, mode, behavior string
		want                 string
		paced                bool
		stabilization        time.Duration
	}{
		{name: "scale", mode: "scale", behavior: "{tolerance: 0.05, scaleDown: {stabilizationWindowSeconds: 120}}", stabilization: 120 * time.Second},
		{name: "metric paces primetime_replicas", mode: "metric", behavior: "{scaleDown: {stabilizationWindowSeconds: 300}}", paced: true, stabilization: 300 * time.Second},
		{name: "metric refuses a tolerance", mode: "metric", behavior: "{tolerance: 0.1}", paced: true, stabilization: 300 * time.Second,
			want: `targets.yaml:9: target "web": behavior.tolerance: in mode metric the HPA's own tolerance applies; set it on the HPA (behavior.scaleDown paces primetime_replicas)`},
		{name: "hpa-floor: how long a shaped floor is held", mode: "hpa-floor", behavior: "{scaleDown: {stabilizationWindowSeconds: 30}}", stabilization: 30 * time.Second},
		{name: "hpa-floor refuses a tolerance", mode: "hpa-floor", behavior: "{tolerance: 0.1}", stabilization: 300 * time.Second,
			want: `targets.yaml:9: target "web": behavior.tolerance: in mode hpa-floor the HPA's own tolerance applies; set it on the HPA (behavior.scaleDown holds a floor following its learned shape)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := ParseFile("targets.yaml", []byte(target(tc.mode, tc.behavior)))
			if got := res.Problems.Error(); got != tc.want {
				t.Fatalf("problems:\n got %s\nwant %s", got, tc.want)
			}
			if tc.want != "" {
				return
			}
			got := res.Targets[0]
			if got.PacePublished != tc.paced || got.Behavior.ScaleDownStabilization != tc.stabilization {
				t.Errorf("PacePublished %v, stabilization %s; want %v, %s", got.PacePublished, got.Behavior.ScaleDownStabilization, tc.paced, tc.stabilization)
			}
		})
	}
}
