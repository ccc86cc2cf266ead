package simulate

import (
	"time"

	"github.com/primetime-dev/primetime/policies"
)

// Readiness is how ready one strategy was for one announced window.
type Readiness struct {
	Strategy Strategy
	// FloorFrom is when primetime's floor for the window came into force
	// (pre-scaling began); zero for other strategies or without a floor.
	FloorFrom time.Time
	// Floor is the highest floor primetime held for the window (0: none).
	Floor int32
	// Need is the most replicas the window's load needed.
	Need int32
	// ReadyAtStart is the replicas ready when the window started.
	ReadyAtStart int32
	// ReadyAt is when Need replicas were first ready, from floor start
	// (or the window's start) on; zero if never within the trace.
	ReadyAt time.Time
	// Unserved is the load left unserved inside the window.
	Unserved float64
}

// Readiness tells, for announced window k of rep, how ready each
// strategy was, from its recorded points (their resolution is
// Setup.RecordEvery).
func (rep *Report) Readiness(k int) []Readiness {
	a := rep.Windows[k]
	lead := rep.Setup.Target.LeadTime
	var need int32
	for _, r := range rep.Results {
		for _, p := range r.Points {
			if !p.T.Before(a.Start) && p.T.Before(a.End) {
				need = max(need, clampReplicas(policies.ReplicasFor(p.Load, rep.Setup.Target.CapacityPerReplica), &rep.Setup.Target))
			}
		}
		break
	}
	out := make([]Readiness, 0, len(rep.Results))
	for _, r := range rep.Results {
		rd := Readiness{Strategy: r.Strategy, Need: need, Unserved: r.UnservedByWindow[k]}
		from := a.Start.Add(-lead - time.Minute)
		for _, p := range r.Points {
			if p.T.Before(from) || !p.T.Before(a.End) {
				continue
			}
			if p.Floor > 0 {
				if rd.FloorFrom.IsZero() {
					rd.FloorFrom = p.T
				}
				rd.Floor = max(rd.Floor, p.Floor)
			}
			if !p.T.After(a.Start) {
				rd.ReadyAtStart = p.Ready
			}
			if rd.ReadyAt.IsZero() && p.Ready >= need && (!rd.FloorFrom.IsZero() || !p.T.Before(a.Start)) {
				rd.ReadyAt = p.T
			}
		}
		out = append(out, rd)
	}
	return out
}
