package simulate

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/policies"
	"github.com/primetime-dev/primetime/policies/config"
)

// flatOf is a setup with every learned part off: floors held flat
// (no shape: learned) and the target's lead fixed at its maxLeadTime.
func flatOf(s Setup) Setup {
	s.Windows = append([]ground.Window(nil), s.Windows...)
	for i := range s.Windows {
		s.Windows[i].ShapeLearned = false
	}
	s.Target.LeadLearned = false
	return s
}

// TestLearnedShapesAndLeads: on every committed week with windows, the
// learned shapes and leads leave no load unserved inside any announced
// window, and cost fewer replica-hours than the same week with floors
// held flat and a fixed 5-minute lead.
func TestLearnedShapesAndLeads(t *testing.T) {
	for _, kind := range []TraceKind{TraceTVSpot, TraceLateSpots, TraceMissedSpots, TraceTwoWaveSpots, TraceShapeChangeSpots, TraceNewsletter} {
		t.Run(string(kind), func(t *testing.T) {
			learned := committedSetup(t, kind)
			if !learned.Target.LeadLearned {
				t.Fatal("the committed target does not learn its lead")
			}
			shaped := 0
			for _, w := range learned.Windows {
				if w.ShapeLearned {
					shaped++
				}
			}
			if shaped != len(learned.Windows) {
				t.Fatalf("%d of %d committed windows say shape: learned", shaped, len(learned.Windows))
			}
			hours := map[string]float64{}
			for name, s := range map[string]Setup{"learned": learned, "flat": flatOf(learned)} {
				rep, err := Run(context.Background(), s, []Strategy{StrategyPrimetime})
				if err != nil {
					t.Fatal(err)
				}
				pt := rep.Results[0]
				for k, w := range rep.Windows {
					if v := pt.UnservedByWindow[k]; v > 0 {
						t.Errorf("%s: %s: %.0f unserved, want 0", name, w.Name, v)
					}
				}
				hours[name] = pt.ReplicaHours
			}
			if hours["learned"] >= hours["flat"] {
				t.Errorf("learned shapes and leads cost %.1f replica-hours, flat floors %.1f: want fewer", hours["learned"], hours["flat"])
			}
			t.Logf("replica-hours: learned %.1f, flat %.1f (%.1f saved)", hours["learned"], hours["flat"], hours["flat"]-hours["learned"])
		})
	}
}

// TestMissedSpotsTeachNothing: a daily 20:00 window "expect: learned"
// (initially 5x) whose spot airs 3 days, then never for 5 days, then
// again at 5x. The days without a spot are reported with no rise and
// teach nothing: the multiplier learned from the first 3 spots is still
// in force on the 9th day, and its spot leaves no load unserved.
func TestMissedSpotsTeachNothing(t *testing.T) {
	loc, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 11, 16, 0, 0, 0, 0, loc)
	const usual, days = 1000.0, 9
	aired := func(day int) bool { return day < 3 || day == 8 }
	var tr Trace
	for at := start; at.Before(start.AddDate(0, 0, days)); at = at.Add(15 * time.Second) {
		day := int(at.Sub(start) / (24 * time.Hour))
		spot := time.Date(at.Year(), at.Month(), at.Day(), 20, 0, 30, 0, loc)
		load := usual
		if since := at.Sub(spot); aired(day) && since >= 0 && since < 20*time.Minute {
			// 5x within 30 s, then back to the usual load over 10 minutes.
			load = usual * (1 + 4*math.Min(1, float64(since)/float64(30*time.Second))*math.Max(0, 1-float64(since)/float64(10*time.Minute)))
		}
		tr = append(tr, ground.Sample{T: at.UTC(), V: load})
	}
	cfg := config.ParseFile("targets.yaml", []byte(`targets:
  - name: web
    namespace: storefront
    scaleTargetRef: {kind: Deployment, name: web}
    load: {datadog: 'sum:trace.http.request.hits{service:web}.as_rate()'}
    capacityPerReplica: 50
    minReplicas: 2
    maxReplicas: 300
    leadTime: 5m
`))
	cfg.Merge(config.ParseFile("windows.yaml", []byte(`timezone: Europe/Paris
windows:
  - name: evening-spot
    cron: "0 20 * * *"
    duration: 15m
    expect: learned
    initially: 5x
    targets: [storefront/web]
`)))
	if errs := cfg.Problems.Errors(); len(errs) > 0 {
		t.Fatal(errs)
	}
	s := Setup{Trace: tr, Target: cfg.Targets[0], Windows: cfg.Windows, Startup: DefaultStartup, MetricDelay: DefaultMetricDelay}
	rep, err := Run(context.Background(), s, []Strategy{StrategyPrimetime})
	if err != nil {
		t.Fatal(err)
	}
	pt := rep.Results[0]
	if len(rep.Windows) != days {
		t.Fatalf("%d occurrences, want %d", len(rep.Windows), days)
	}
	for k, w := range rep.Windows {
		if v := pt.UnservedByWindow[k]; v > 0 {
			t.Errorf("%s on day %d: %.0f unserved, want 0", w.Name, k+1, v)
		}
	}
	var learning policies.Learning
	taught := 0
	for i := range pt.Reports {
		r := &pt.Reports[i]
		day := int(r.Start.Sub(start) / (24 * time.Hour))
		if got := r.Rose(); got != aired(day) {
			t.Errorf("day %d: Rose() = %v, want %v: %s", day+1, got, aired(day), r.Sentence())
		}
		if !aired(day) && !strings.Contains(r.Sentence(), "no rise above the usual load came") {
			t.Errorf("day %d: %q does not say no rise came", day+1, r.Sentence())
		}
		if learning.Learn(r) {
			taught++
		}
	}
	if taught != 4 {
		t.Errorf("%d reports taught the group, want 4 (the days a spot aired)", taught)
	}
	// The 9th day's floor: the learned multiplier, not one lowered by the
	// missed days (1.1x) nor initially.
	last := pt.Reports[len(pt.Reports)-1]
	if !last.Learned || last.Demand.Value < 5 {
		t.Errorf("day 9 planned at %v (learned %v), want the multiplier learned from the 5x spots", last.Demand, last.Learned)
	}
}
