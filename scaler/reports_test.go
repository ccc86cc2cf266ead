package scaler_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/policies"
	"github.com/primetime-dev/primetime/scaler"
	"github.com/primetime-dev/primetime/scaler/configwatch"
)

// TestWindowReportEvent: the engine reports a 5x spot that brought 3x,
// once, on the windows ConfigMap, when its floor is released.
func TestWindowReportEvent(t *testing.T) {
	r := newRig(t)
	rec := &refRecorder{}
	reporter := scaler.NewWindowReporter(r.reg, rec, r.engine.Config.(*configwatch.Store), nil, ground.None[float64]())
	r.engine.Reports = reporter
	// 20:00 Paris; the spot is at 20:45 with an 8 min lead, 15 min long,
	// 10 min of cooldown, then a step-down from 100 to 20 replicas.
	load := map[string]float64{"20:46": 3000, "20:47": 2500, "20:48": 2200, "20:49": 2100, "20:50": 1900, "20:51": 1000}
	var released string
	for range 120 {
		if v, ok := load[r.now.Add(time.Minute).Format("15:04")]; ok {
			r.src.set(v, nil)
		}
		r.step(t, time.Minute)
		if released == "" && len(rec.events) > 0 {
			released = r.now.Format("15:04")
		}
	}
	const metrics = `# HELP primetime_window_expected_ratio The multiplier the window stated, in the last report of each window and target.
# TYPE primetime_window_expected_ratio gauge
primetime_window_expected_ratio{namespace="storefront",target="web",window="tf1-prime-spot"} 5
# HELP primetime_window_peak_ratio Peak load over the baseline in the last report of each window and target.
# TYPE primetime_window_peak_ratio gauge
primetime_window_peak_ratio{namespace="storefront",target="web",window="tf1-prime-spot"} 3
# HELP primetime_window_replica_hours Replica-hours added by window floors over tracking (effect=added) and saved by quiet windows below it (effect=saved), from the window reports.
# TYPE primetime_window_replica_hours counter
primetime_window_replica_hours{effect="added"} 27.933333333333312
primetime_window_replica_hours{effect="saved"} 0
# HELP primetime_window_reports_total Window reports written, one per window occurrence and target once its floor or cap is released.
# TYPE primetime_window_reports_total counter
primetime_window_reports_total 1
`
	if err := testutil.GatherAndCompare(r.reg, strings.NewReader(metrics), "primetime_window_peak_ratio", "primetime_window_expected_ratio", "primetime_window_replica_hours", "primetime_window_reports_total"); err != nil {
		t.Error(err)
	}
	// Without --carbon-intensity nothing is said of carbon.
	if n, err := testutil.GatherAndCount(r.reg, "primetime_window_co2e_grams"); err != nil || n != 0 {
		t.Errorf("primetime_window_co2e_grams without a carbon intensity: %d series, %v", n, err)
	}
	events := rec.events
	if len(events) != 1 {
		t.Fatalf("%d Events, want 1: %q", len(events), events)
	}
	// The peak 3000 at 20:46 is 3x the baseline 1000; halfway back is
	// 2000, first read at 20:50. The spot came (3000 is above 1000 + a
	// third of the 4000 expected) and passed its peak at 20:47, but the
	// floor is held to the window's end (21:00): a second wave may come.
	// Added over tracking: 8 minutes at 100 over 20 (640 replica-minutes),
	// the spike's minutes over 60 50 44 42 38 (40+50+56+58+62), 9 more at
	// 100 over 20 (720); in the cooldown the floor follows the load with
	// 25% headroom, 25 over 20 for 10 minutes (50); at 21:10 the load is
	// back at the baseline and the floor is released: 1,676.
	want := "marketing/spots Normal WindowReport tf1-prime-spot on Wed 25 Nov 20:45: storefront/web peaked at 3.0x its usual load (3000 for 1000) 1 min after the start (expected 5x), half gone 4 min later; the window added 27.93 replica-hours over tracking"
	if events[0] != want {
		t.Errorf("Event\n %s\nwant\n %s", events[0], want)
	}
	if released != "21:10" {
		t.Errorf("report at %s, want 21:10 (the end of the cooldown, the load back at its baseline)", released)
	}
}

// TestWindowReportCarbon: with a carbon intensity of 120 g a replica-hour,
// a spot's and a quiet night's reports give their grams of CO2e, in the
// sentence and in primetime_window_co2e_grams.
func TestWindowReportCarbon(t *testing.T) {
	reg := prometheus.NewRegistry()
	rec := &refRecorder{}
	reporter := scaler.NewWindowReporter(reg, rec, nil, nil, ground.Some(120.0))
	const zero = `# HELP primetime_window_co2e_grams Grams of CO2e of the replica-hours added by window floors (effect=added) and saved by quiet windows (effect=saved), at --carbon-intensity.
# TYPE primetime_window_co2e_grams counter
primetime_window_co2e_grams{effect="added"} 0
primetime_window_co2e_grams{effect="saved"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(zero), "primetime_window_co2e_grams"); err != nil {
		t.Error(err)
	}
	paris, start := mustZone("Europe/Paris"), time.Date(2026, 11, 25, 20, 45, 0, 0, time.UTC)
	web := ground.TargetKey{Namespace: "storefront", Name: "web"}
	reporter.Report(policies.WindowReport{Target: web, Window: "tf1-spot", Origin: ground.Origin{File: "marketing/spots[w.yaml]", Line: 2}, Location: paris,
		Demand: ground.Demand{Kind: ground.DemandMultiplier, Value: 5}, Start: start, End: start.Add(15 * time.Minute),
		Baseline: ground.Some(1000.0), Peak: ground.Some(3000.0), PeakAt: start.Add(time.Minute),
		AddedReplicaHours: 44.3})
	reporter.Report(policies.WindowReport{Target: web, Window: "night", Origin: ground.Origin{File: "marketing/spots[w.yaml]", Line: 9}, Location: paris,
		Demand: ground.Demand{Kind: ground.DemandReplicas}, Quiet: true, Start: start.Add(3 * time.Hour), End: start.Add(10 * time.Hour),
		SavedReplicaHours: 1.5})
	const metrics = `# HELP primetime_window_co2e_grams Grams of CO2e of the replica-hours added by window floors (effect=added) and saved by quiet windows (effect=saved), at --carbon-intensity.
# TYPE primetime_window_co2e_grams counter
primetime_window_co2e_grams{effect="added"} 5316
primetime_window_co2e_grams{effect="saved"} 180
# HELP primetime_window_replica_hours Replica-hours added by window floors over tracking (effect=added) and saved by quiet windows below it (effect=saved), from the window reports.
# TYPE primetime_window_replica_hours counter
primetime_window_replica_hours{effect="added"} 44.3
primetime_window_replica_hours{effect="saved"} 1.5
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(metrics), "primetime_window_co2e_grams", "primetime_window_replica_hours"); err != nil {
		t.Error(err)
	}
	want := []string{
		"marketing/spots Normal WindowReport tf1-spot on Wed 25 Nov 21:45: storefront/web peaked at 3.0x its usual load (3000 for 1000) 1 min after the start (expected 5x); the window added 44.30 replica-hours over tracking (5316 g CO2e)",
		"marketing/spots Normal WindowReport night on Thu 26 Nov 00:45: storefront/web was capped; the quiet window saved 1.50 replica-hours (180 g CO2e)",
	}
	if strings.Join(rec.events, "\n") != strings.Join(want, "\n") {
		t.Errorf("Events\n %s\nwant\n %s", strings.Join(rec.events, "\n "), strings.Join(want, "\n "))
	}
}

// refRecorder records "namespace/name type reason message" of each Event.
type refRecorder struct{ events []string }

func (r *refRecorder) Event(o runtime.Object, eventtype, reason, message string) {
	ref := o.(*corev1.ObjectReference)
	r.events = append(r.events, ref.Namespace+"/"+ref.Name+" "+eventtype+" "+reason+" "+message)
}
func (r *refRecorder) Eventf(o runtime.Object, eventtype, reason, format string, args ...any) {
	r.Event(o, eventtype, reason, fmt.Sprintf(format, args...))
}
func (r *refRecorder) AnnotatedEventf(o runtime.Object, _ map[string]string, eventtype, reason, format string, args ...any) {
	r.Eventf(o, eventtype, reason, format, args...)
}

// TestLearnedWindowAcrossAFailover: a nightly "expect: learned" spot
// starts at its "initially" 5x (floor 100 on a baseline of 1000); the
// first night brings 3x, so the second night's floor is 3x + 10% = 3.3x
// (3300: 66 replicas), and a new leader that imports the lessons handed
// over starts the third night at 66 too.
func TestLearnedWindowAcrossAFailover(t *testing.T) {
	const learnedWindows = `timezone: Europe/Paris
windows:
  - name: nightly-spot
    cron: "45 20 * * *"
    group: tf1-prime
    duration: 15m
    expect: learned
    initially: 5x
    targets: [storefront/web]
`
	applyWindows := func(r *rig) {
		r.engine.Config.(*configwatch.Store).Apply(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "marketing", Name: "spots", ResourceVersion: "2"},
			Data: map[string]string{"w.yaml": learnedWindows}})
	}
	r := newRig(t)
	applyWindows(r)
	floorAt := func(r *rig, wall string) ground.Opt[int32] {
		t.Helper()
		for r.now.Format("2006-01-02 15:04") != wall {
			next := r.now.Add(time.Minute)
			v := 1000.0
			if h, m := next.Hour(), next.Minute(); h == 20 && m >= 46 && m < 50 {
				v = 3000 // the spot, 4 minutes at 3x
			}
			r.src.set(v, nil)
			r.step(t, time.Minute)
		}
		return r.engine.Cycle(context.Background(), r.now)[0].Schedule.Floor
	}
	if f := floorAt(r, "2026-11-25 20:40"); f != ground.Some[int32](100) {
		t.Fatalf("first night: floor %v, want 100 (initially 5x)", f)
	}
	if f := floorAt(r, "2026-11-26 20:40"); f != ground.Some[int32](66) {
		t.Fatalf("second night: floor %v, want 66 (learned 3.3x)", f)
	}
	lessons := r.engine.ExportLessons()
	if ls := lessons["storefront/web|tf1-prime"]; len(ls) != 1 || ls[0].Ratio != 3 {
		t.Fatalf("handed over %v, want one lesson of 3x", lessons)
	}
	next := newRig(t)
	applyWindows(next)
	next.now = r.now.Add(23 * time.Hour)
	next.engine.ImportLessons(lessons)
	if f := floorAt(next, "2026-11-27 20:40"); f != ground.Some[int32](66) {
		t.Errorf("after the failover: floor %v, want 66", f)
	}
	snap := next.engine.Config.Snapshot()
	var tg ground.Target
	for _, c := range snap.Targets {
		if c.Name == "web" {
			tg = c
		}
	}
	if l, ok := next.engine.Learned(&snap.Windows[0], &tg); !ok || len(l.From) != 1 || l.From[0].Window != "nightly-spot" || l.Multiplier != 3.3000000000000003 {
		t.Errorf("Learned = %+v, %v; want 3.3x from the night of the 25th", l, ok)
	}
}
