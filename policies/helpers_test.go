package policies

import (
	"testing"
	"time"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/policies/config"
)

var (
	paris = mustZone("Europe/Paris")
	ny    = mustZone("America/New_York")
)

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// at parses a wall-clock time in loc.
func at(t *testing.T, loc *time.Location, wall string) time.Time {
	t.Helper()
	v, err := config.ParseTime(wall, loc)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// parseWindows parses a windows document and fails on any problem.
func parseWindows(t *testing.T, doc string) []ground.Window {
	t.Helper()
	res := config.ParseFile("windows.yaml", []byte(doc))
	if len(res.Problems) > 0 {
		t.Fatalf("windows do not parse:\n%s", res.Problems.Error())
	}
	return res.Windows
}

// webTarget is storefront/web of the SPEC example.
func webTarget() *ground.Target {
	return &ground.Target{
		Name: "web", Namespace: "storefront",
		ScaleTargetRef:     ground.ScaleTargetRef{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
		Load:               ground.LoadSpec{Prometheus: "sum(rate(http_requests_total[1m]))"},
		CapacityPerReplica: 50, MinReplicas: 2, MaxReplicas: 300, LeadTime: 8 * time.Minute,
		Mode: ground.ModeMetric,
	}
}

// floorAt evaluates the windows for target at instant now.
func floorAt(tg *ground.Target, windows []ground.Window, now time.Time, baseline float64) Schedule {
	cal := NewCalendar(windows)
	occs := cal.Agenda(now, tg.LeadTime).For(tg.Key(), nil)
	return Evaluate(tg, occs, now, ConstantBaseline(baseline))
}

func formatStarts(ts []time.Time, loc *time.Location) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.In(loc).Format("2006-01-02 15:04 MST")
	}
	return out
}
