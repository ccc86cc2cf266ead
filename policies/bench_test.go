package policies

import (
	"fmt"
	"testing"
	"time"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/policies/config"
)

// cycleFixture builds n targets spread over 100 namespaces and 50 windows:
// spots on single targets, namespace-wide sales, recurring newsletters and
// quiet nights, a realistic mix for one cluster.
func cycleFixture(b *testing.B, n int) ([]ground.Target, *Calendar) {
	b.Helper()
	targets := make([]ground.Target, n)
	for i := range targets {
		t := webTarget()
		t.Namespace = fmt.Sprintf("ns-%d", i%100)
		t.Name = fmt.Sprintf("app-%d", i)
		targets[i] = *t
	}
	doc := "timezone: Europe/Paris\nwindows:\n"
	for i := 0; i < 50; i++ {
		switch i % 5 {
		case 0:
			doc += fmt.Sprintf("  - {name: spot-%d, start: '2026-11-25 20:%02d', duration: 15m, expect: 5x, targets: [ns-%d/app-%d, ns-%d/*]}\n", i, i, i, i, (i+1)%100)
		case 1:
			doc += fmt.Sprintf("  - {name: sale-%d, start: '2026-11-25 08:00', duration: 16h, expect: 2x, targets: [ns-%d/*]}\n", i, i)
		case 2:
			doc += fmt.Sprintf("  - {name: newsletter-%d, cron: '%d 10 * * *', duration: 1h, expect: 3x, targets: [ns-%d/*]}\n", i, i, i)
		case 3:
			doc += fmt.Sprintf("  - {name: night-%d, cron: '0 20 * * MON-FRI', duration: 12h, replicas: 1, quiet: true, targets: [ns-%d/*]}\n", i, i)
		default:
			doc += fmt.Sprintf("  - {name: all-%d, start: '2026-11-25 20:%02d', duration: 30m, expect: 12000, targets: ['*']}\n", i, i)
		}
	}
	res := config.ParseFile("bench.yaml", []byte(doc))
	if len(res.Problems) > 0 || len(res.Windows) != 50 {
		b.Fatalf("fixture: %d windows\n%s", len(res.Windows), res.Problems.Error())
	}
	return targets, NewCalendar(res.Windows)
}

// BenchmarkCycle measures one evaluation cycle of the decision code: the
// agenda of all windows, then for every target its windows, floor, cap and
// decision. The load values are given; fetching them is the sources' job.
func BenchmarkCycle(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("targets=%d/windows=50", n), func(b *testing.B) {
			targets, cal := cycleFixture(b, n)
			now := time.Date(2026, 11, 25, 20, 40, 0, 0, paris)
			baseline := ConstantBaseline(1000)
			decisions := make([]Decision, len(targets))
			var buf []Occurrence
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				agenda := cal.Agenda(now, 24*time.Hour)
				for j := range targets {
					t := &targets[j]
					buf = agenda.For(t.Key(), buf[:0])
					decisions[j] = Decide(Input{
						Target:   t,
						Now:      now,
						Observed: ground.Some(float64(500 + j%2000)),
						Current:  ground.Some[int32](10),
						Schedule: Evaluate(t, buf, now, baseline),
					})
				}
			}
			b.StopTimer()
			floors := 0
			for _, d := range decisions {
				if d.Schedule.Floor.OK {
					floors++
				}
			}
			if floors == 0 {
				b.Fatal("no target had a window floor: the fixture tests nothing")
			}
			b.ReportMetric(float64(floors), "targets-with-floor")
		})
	}
}
