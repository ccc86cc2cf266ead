package scaler_test

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/primetime-dev/primetime/policies"
	"github.com/primetime-dev/primetime/scaler/configwatch"
)

// TestEngineFollowsALearnedShape: a nightly 20:45 spot of 15 minutes,
// "expect: 3x" and "shape: learned", whose group has 3 lessons for the
// target (first peak 1 min after the start, no second wave), handed over
// as a new leader takes them. The floor (60 replicas for 3x of 1,000) is
// held until the peak has passed and the load is read below it, then
// follows it down inside the window (to 26 at 20:59: 1,031 × 1.25 / 50),
// and the report says so. Lessons
// that reach the engine once a floor is in force do not reshape it: that
// night's floor is held flat.
func TestEngineFollowsALearnedShape(t *testing.T) {
	const windows = `timezone: Europe/Paris
windows:
  - name: nightly-spot
    cron: "45 20 * * *"
    group: tf1-prime
    duration: 15m
    expect: 3x
    shape: learned
    targets: [storefront/web]
`
	night := time.Date(2026, 11, 24, 20, 45, 0, 0, mustZone("Europe/Paris"))
	lessons := map[string][]policies.Lesson{"storefront/web|tf1-prime": {
		{Window: "nightly-spot", Start: night.AddDate(0, 0, -2), Ratio: 3, PeakAfter: time.Minute, HalfDecay: 3 * time.Minute},
		{Window: "nightly-spot", Start: night.AddDate(0, 0, -1), Ratio: 2.8, PeakAfter: 45 * time.Second, HalfDecay: 2 * time.Minute},
		{Window: "nightly-spot", Start: night, Ratio: 3, PeakAfter: time.Minute, HalfDecay: 4 * time.Minute},
	}}
	// load: the usual 1,000, 3,000 from 20:46 to 20:48, then halving
	// towards the usual every 2 minutes.
	load := func(at time.Time) float64 {
		h, m := at.Hour(), at.Minute()
		switch since := at.Sub(time.Date(at.Year(), at.Month(), at.Day(), 20, 48, 0, 0, at.Location())); {
		case h == 20 && m >= 46 && m < 48:
			return 3000
		case since >= 0 && since < time.Hour:
			return 1000 + 2000/float64(int(1)<<(int(since/(2*time.Minute))+1))
		}
		return 1000
	}
	for _, tc := range []struct {
		name       string
		importAt   string // when the lessons reach the engine
		wantLowest int32  // the lowest floor inside the window
	}{
		{"lessons handed over before the floor", "2026-11-25 20:00", 26},
		{"lessons arriving once the floor is in force", "2026-11-25 20:40", 60},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t)
			r.engine.Config.(*configwatch.Store).Apply(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "marketing", Name: "spots", ResourceVersion: "2"},
				Data: map[string]string{"w.yaml": windows}})
			var reports []policies.WindowReport
			r.engine.Reports = sinkFunc(func(rep policies.WindowReport) { reports = append(reports, rep) })
			r.now = time.Date(2026, 11, 25, 19, 59, 0, 0, mustZone("Europe/Paris"))
			lowest, highest := int32(0), int32(0)
			for r.now.Before(time.Date(2026, 11, 25, 21, 30, 0, 0, mustZone("Europe/Paris"))) {
				if r.now.Format("2006-01-02 15:04") == tc.importAt {
					r.engine.ImportLessons(lessons)
				}
				next := r.now.Add(15 * time.Second)
				r.src.set(load(next), nil)
				d := r.step(t, 15*time.Second)[0]
				if e, ok := d.Schedule.FloorWindow(); ok && e.Phase == policies.PhaseActive {
					if f := d.Schedule.Floor.V; lowest == 0 || f < lowest {
						lowest = f
					}
					highest = max(highest, d.Schedule.Floor.V)
				}
			}
			if highest != 60 || lowest != tc.wantLowest {
				t.Errorf("floor inside the window from %d down to %d, want 60 down to %d", highest, lowest, tc.wantLowest)
			}
			if len(reports) != 1 {
				t.Fatalf("%d reports, want 1", len(reports))
			}
			followed := strings.Contains(reports[0].Sentence(), "the floor followed the load down from ")
			if followed != (tc.wantLowest < 60) {
				t.Errorf("report %q: says the floor followed = %v, want %v", reports[0].Sentence(), followed, tc.wantLowest < 60)
			}
		})
	}
}

// sinkFunc is a ReportSink.
type sinkFunc func(policies.WindowReport)

func (f sinkFunc) Report(r policies.WindowReport) { f(r) }
