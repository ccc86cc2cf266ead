//go:build !simulateonly

package simulate

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

func TestWriteSVG(t *testing.T) {
	rep, err := Run(context.Background(), parseSetup(t, stepTarget, stepWindows), Strategies)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteSVG(&b, rep, PlotOptions{LoadUnit: "req/s"}); err != nil {
		t.Fatal(err)
	}
	svg := b.String()
	for _, want := range []string{
		"<svg", "load (req/s)", "replicas", "time (UTC)", "announced window",
		"primetime: ready capacity", "reactive: ready capacity", "static", "oracle", "20:45",
	} {
		if !strings.Contains(svg, want) {
			t.Errorf("the SVG has no %q", want)
		}
	}

	// A zoom outside the trace says so.
	err = WriteSVG(&b, rep, PlotOptions{From: t0.Add(3 * time.Hour), To: t0.Add(4 * time.Hour)})
	if err == nil || !strings.Contains(err.Error(), "nothing to plot") {
		t.Errorf("zoom past the trace: %v, want a 'nothing to plot' error", err)
	}
}

func TestBucketPointsKeepsExtremes(t *testing.T) {
	var pts []Point
	for i := range 10 {
		pts = append(pts, Point{T: t0.Add(time.Duration(i) * time.Second), Load: 1, Ready: 5, Replicas: 5})
	}
	pts[3].Load, pts[4].Ready, pts[7].Replicas = 9, 1, 8
	got := bucketPoints(pts, PlotOptions{From: t0, To: t0.Add(time.Minute), MaxPoints: 2})
	if len(got) != 2 || got[0].Load != 9 || got[0].Ready != 1 || got[1].Replicas != 8 {
		t.Errorf("buckets %+v: want the spike, the shortfall and the peak kept", got)
	}
}
