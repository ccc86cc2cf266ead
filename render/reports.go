package render

import (
	"cmp"
	"encoding/json"
	"io"
	"time"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/policies"
)

// ReportJSON is a window report for machines; figures not known are null.
type ReportJSON struct {
	Window string `json:"window"`
	// Origin is the file (or namespace/configmap[key]) the window was
	// read from.
	Origin   string     `json:"origin"`
	Target   string     `json:"target"`
	Quiet    bool       `json:"quiet"`
	Start    time.Time  `json:"start"`
	End      time.Time  `json:"end"`
	Released time.Time  `json:"released"`
	Baseline *float64   `json:"baseline"`
	Peak     *float64   `json:"peak"`
	PeakAt   *time.Time `json:"peakAt"`
	Ratio    *float64   `json:"ratio"`
	Expected *float64   `json:"expected"`
	// Learned says Expected was learned from the group's earlier reports.
	Learned bool `json:"learned"`
	// TimeToPeakSeconds is from the start to the peak,
	// HalfDecaySeconds from the peak until the load was back halfway to
	// the baseline.
	TimeToPeakSeconds *float64 `json:"timeToPeakSeconds"`
	HalfDecaySeconds  *float64 `json:"halfDecaySeconds"`
	FloorAtStart      *int32   `json:"floorAtStart"`
	ReplicasAtStart   *int32   `json:"replicasAtStart"`
	// UnderCapacitySeconds and Excess need the workload's replicas:
	// null when they are not known (always, offline).
	UnderCapacitySeconds *float64 `json:"underCapacitySeconds"`
	Excess               *float64 `json:"excess"`
	AddedReplicaHours    float64  `json:"addedReplicaHours"`
	SavedReplicaHours    float64  `json:"savedReplicaHours"`
	Sentence             string   `json:"sentence"`
}

// floatPtr is o for JSON: nil when absent.
func floatPtr(o ground.Opt[float64]) *float64 {
	if !o.OK {
		return nil
	}
	v := o.V
	return &v
}

// seconds is d in seconds, for JSON.
func seconds(d time.Duration) *float64 {
	v := d.Seconds()
	return &v
}

// WriteReportsJSON writes window reports for machines (report -o json).
func WriteReportsJSON(w io.Writer, reports []policies.WindowReport) error {
	doc := make([]ReportJSON, 0, len(reports))
	for i := range reports {
		r := &reports[i]
		loc := cmp.Or(r.Location, time.UTC)
		j := ReportJSON{Window: r.Window, Origin: r.Origin.File, Target: r.Target.String(), Quiet: r.Quiet, Learned: r.Learned,
			Start: r.Start.In(loc), End: r.End.In(loc), Released: r.Released.In(loc),
			Baseline: floatPtr(r.Baseline), Peak: floatPtr(r.Peak), Ratio: floatPtr(r.Ratio()), Expected: floatPtr(r.ExpectedRatio()),
			FloorAtStart: optPtr(r.FloorAtStart), ReplicasAtStart: optPtr(r.ReplicasAtStart),
			AddedReplicaHours: r.AddedReplicaHours, SavedReplicaHours: r.SavedReplicaHours, Sentence: r.Sentence()}
		if r.Peak.OK {
			at := r.PeakAt.In(loc)
			j.PeakAt, j.TimeToPeakSeconds = &at, seconds(r.PeakAt.Sub(r.Start))
		}
		if r.HalfDecay.OK {
			j.HalfDecaySeconds = seconds(r.HalfDecay.V)
		}
		if r.ReplicasAtStart.OK {
			j.UnderCapacitySeconds = seconds(r.UnderCapacity)
			excess := r.Excess
			j.Excess = &excess
		}
		doc = append(doc, j)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}
