package actuate

import (
	"testing"
	"time"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/policies"
	"github.com/primetime-dev/primetime/policies/config"
)

// What `primetime plan` shows for an hpa-floor target is what the
// actuator does to its HPA: at every step of the plan's floors and caps,
// the same windows evaluated by the daemon's policies and carried out on
// a fake HPA give minReplicas = the floor and maxReplicas = the cap (at
// least 1, as an HPA allows).
func TestPlanMatchesTheActuator(t *testing.T) {
	res := config.ParseFile("targets.yaml", []byte(`targets:
  - name: web
    namespace: shop
    scaleTargetRef: {kind: Deployment, name: web}
    load: {prometheus: up}
    capacityPerReplica: 50
    minReplicas: 2
    maxReplicas: 150
    leadTime: 5m
    mode: hpa-floor
`))
	res.Merge(config.ParseFile("windows.yaml", []byte(`timezone: Europe/Paris
windows:
  - {name: sale, start: "2026-11-25 20:45", duration: 15m, replicas: 40, targets: [shop/web]}
  - {name: spot, start: "2026-11-25 21:30", duration: 15m, expect: 3x, targets: [shop/web]}
  - {name: night, start: "2026-11-25 23:00", duration: 7h, replicas: 0, quiet: true, targets: [shop/web]}
`)))
	if errs := res.Problems.Errors(); len(errs) > 0 {
		t.Fatal(errs)
	}
	tg := res.Targets[0]
	cal := policies.NewCalendar(res.Windows)
	from := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
	baseline := policies.ConstantBaseline(1000)
	plans := policies.Plan(res.Targets, cal, from, from.Add(12*time.Hour), baseline)

	r := newHPARig(t, 3, nil)
	a := r.actuator()
	steps := 0
	for _, ep := range plans[0].Episodes {
		for _, st := range ep.Steps {
			occs := cal.Agenda(st.At, tg.LeadTime).For(tg.Key(), nil)
			d := policies.Decide(policies.Input{Target: &tg, Now: st.At, Observed: ground.Some(100.0),
				Schedule: policies.Evaluate(&tg, occs, st.At, baseline)})
			r.act(t, a, &tg, &d)
			h := r.hpa(t)
			steps++
			switch ep.Kind {
			case policies.EpisodeFloor:
				if want := max(st.Replicas.V, 3); minOf(h) != want {
					t.Errorf("%s at %s: the plan's floor %v, the HPA's minReplicas %d; want %d", ep.Windows, st.At.Format(time.TimeOnly), st.Replicas, minOf(h), want)
				}
			case policies.EpisodeCap:
				if want := max(st.Replicas.V, 1); h.Spec.MaxReplicas != want {
					t.Errorf("%s at %s: the plan's cap %v, the HPA's maxReplicas %d; want %d", ep.Windows, st.At.Format(time.TimeOnly), st.Replicas, h.Spec.MaxReplicas, want)
				}
			}
		}
		// Once the episode ends, the HPA is its owner's again.
		occs := cal.Agenda(ep.End, tg.LeadTime).For(tg.Key(), nil)
		d := policies.Decide(policies.Input{Target: &tg, Now: ep.End, Observed: ground.Some(100.0), Schedule: policies.Evaluate(&tg, occs, ep.End, baseline)})
		r.act(t, a, &tg, &d)
		if h := r.hpa(t); !d.Schedule.Floor.OK && !d.Schedule.Cap.OK && (minOf(h) != 3 || h.Spec.MaxReplicas != 150 || managed(h.Annotations)) {
			t.Errorf("after %s (%s): min %d max %d, %v", ep.Windows, ep.End.Format(time.TimeOnly), minOf(h), h.Spec.MaxReplicas, h.Annotations)
		}
	}
	if steps < 10 {
		t.Fatalf("only %d plan steps compared", steps)
	}
}
