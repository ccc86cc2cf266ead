//go:build !simulateonly

package simulate

import (
	"fmt"
	"image/color"
	"io"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// strategyColors gives each strategy the same colour in every chart.
var strategyColors = map[Strategy]color.RGBA{
	StrategyPrimetime: {R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
	StrategyReactive:  {R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	StrategyStatic:    {R: 0x7f, G: 0x7f, B: 0x7f, A: 0xff},
	StrategyOracle:    {R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
}

// WriteSVG draws the report as an SVG: on top the load and each
// strategy's ready capacity, below each strategy's replicas.
func WriteSVG(w io.Writer, rep *Report, o PlotOptions) error {
	if len(rep.Results) == 0 {
		return fmt.Errorf("nothing to plot: no strategy was simulated")
	}
	if o.Location == nil {
		o.Location = time.UTC
	}
	if o.LoadUnit == "" {
		o.LoadUnit = "load units"
	}
	if o.MaxPoints <= 0 {
		o.MaxPoints = 1500
	}
	if o.From.IsZero() || o.From.Before(rep.From) {
		o.From = rep.From
	}
	if o.To.IsZero() || o.To.After(rep.To) {
		o.To = rep.To
	}
	if !o.To.After(o.From) {
		return fmt.Errorf("nothing to plot between %s and %s", o.From.Format(time.RFC3339), o.To.Format(time.RFC3339))
	}
	capacity := rep.Setup.Target.CapacityPerReplica
	ticks := timeTicks{loc: o.Location}

	top := plot.New()
	top.Title.Text = fmt.Sprintf("%s: load and ready capacity (pod start-up %s, metric delay %s)",
		rep.Target, rep.Setup.Startup, rep.Setup.MetricDelay)
	top.Y.Label.Text = "load (" + o.LoadUnit + ")"
	top.X.Tick.Marker = ticks
	top.Legend.Top = true
	bottom := plot.New()
	bottom.Title.Text = "replicas (ready or starting)"
	bottom.Y.Label.Text = "replicas"
	bottom.X.Label.Text = "time (" + o.Location.String() + ")"
	bottom.X.Tick.Marker = ticks
	bottom.Legend.Top = true

	// Room above the data for the legend; the windows' bands span it.
	topMax := 0.0
	for _, r := range rep.Results {
		for _, b := range bucketPoints(r.Points, o) {
			topMax = max(topMax, b.Load, float64(b.Ready)*capacity)
		}
	}
	topMax *= 1.45
	if err := shadeWindows(top, rep, o, topMax); err != nil {
		return err
	}
	buckets := bucketPoints(rep.Results[0].Points, o)
	load := make(plotter.XYs, len(buckets))
	for i, b := range buckets {
		load[i] = plotter.XY{X: float64(b.T.Unix()), Y: b.Load}
	}
	if err := addLine(top, "load", load, color.RGBA{A: 0xff}, 1.2, nil); err != nil {
		return err
	}
	for _, r := range rep.Results {
		c := strategyColors[r.Strategy]
		bs := bucketPoints(r.Points, o)
		ready := make(plotter.XYs, len(bs))
		replicas := make(plotter.XYs, len(bs))
		for i, b := range bs {
			x := float64(b.T.Unix())
			ready[i] = plotter.XY{X: x, Y: float64(b.Ready) * capacity}
			replicas[i] = plotter.XY{X: x, Y: float64(b.Replicas)}
		}
		dash := []vg.Length{vg.Points(4), vg.Points(2)}
		if err := addLine(top, string(r.Strategy)+": ready capacity", ready, c, 1, dash); err != nil {
			return err
		}
		if err := addLine(bottom, string(r.Strategy), replicas, c, 1, nil); err != nil {
			return err
		}
	}
	// Room above the data for the legends.
	top.Y.Min, bottom.Y.Min = 0, 0
	top.Y.Max = topMax
	bottom.Y.Max *= 1.35

	canvas := vgsvg.New(28*vg.Centimeter, 20*vg.Centimeter)
	dc := draw.New(canvas)
	plots := [][]*plot.Plot{{top}, {bottom}}
	tiles := draw.Tiles{Rows: 2, Cols: 1, PadX: vg.Millimeter * 4, PadY: vg.Millimeter * 4, PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 4}
	canvases := plot.Align(plots, tiles, dc)
	top.Draw(canvases[0][0])
	bottom.Draw(canvases[1][0])
	_, err := canvas.WriteTo(w)
	return err
}

// shadeWindows draws the announced windows within the plot's time span
// as light bands up to height; added before the lines, they are behind.
func shadeWindows(p *plot.Plot, rep *Report, o PlotOptions, height float64) error {
	inLegend := false
	for _, w := range rep.Windows {
		from, to := max(w.Start.Unix(), o.From.Unix()), min(w.End.Unix(), o.To.Unix())
		if from >= to {
			continue
		}
		x0, x1, y1 := float64(from), float64(to), height
		band, err := plotter.NewPolygon(plotter.XYs{{X: x0, Y: 0}, {X: x1, Y: 0}, {X: x1, Y: y1}, {X: x0, Y: y1}})
		if err != nil {
			return err
		}
		band.Color = color.RGBA{R: 0xff, G: 0xf0, B: 0xc0, A: 0xff}
		band.LineStyle.Width = 0
		p.Add(band)
		if !inLegend {
			p.Legend.Add("announced window", band)
			inLegend = true
		}
	}
	return nil
}

func addLine(p *plot.Plot, name string, xys plotter.XYs, c color.RGBA, width vg.Length, dashes []vg.Length) error {
	l, err := plotter.NewLine(xys)
	if err != nil {
		return fmt.Errorf("%s: %v", name, err)
	}
	l.Color = c
	l.Width = vg.Points(float64(width))
	l.Dashes = dashes
	p.Add(l)
	p.Legend.Add(name, l)
	return nil
}

// bucketPoints returns the points within [o.From, o.To], merged into at
// most o.MaxPoints buckets: highest load and replicas, lowest ready.
func bucketPoints(pts []Point, o PlotOptions) []Point {
	var in []Point
	for _, p := range pts {
		if !p.T.Before(o.From) && !p.T.After(o.To) {
			in = append(in, p)
		}
	}
	if len(in) <= o.MaxPoints {
		return in
	}
	size := (len(in) + o.MaxPoints - 1) / o.MaxPoints
	out := make([]Point, 0, o.MaxPoints)
	for i := 0; i < len(in); i += size {
		b := in[i]
		for _, p := range in[i+1 : min(i+size, len(in))] {
			b.Load = max(b.Load, p.Load)
			b.Replicas = max(b.Replicas, p.Replicas)
			b.Ready = min(b.Ready, p.Ready)
		}
		out = append(out, b)
	}
	return out
}

// timeTicks puts the time axis' ticks on round local times: about six
// labelled ticks, whatever the span.
type timeTicks struct{ loc *time.Location }

var tickSteps = []time.Duration{
	time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour,
}

// Ticks implements plot.Ticker.
func (tt timeTicks) Ticks(lo, hi float64) []plot.Tick {
	from, to := time.Unix(int64(lo), 0).In(tt.loc), time.Unix(int64(hi), 0).In(tt.loc)
	span := to.Sub(from)
	step := tickSteps[len(tickSteps)-1]
	for _, s := range tickSteps {
		if span/s <= 8 {
			step = s
			break
		}
	}
	format := "15:04"
	if step >= 24*time.Hour {
		format = "Mon 02 Jan"
	} else if span > 24*time.Hour {
		format = "Mon 15:04"
	}
	// Round up to a multiple of step in local time (days start at midnight).
	day := time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, tt.loc)
	t := day
	for t.Before(from) {
		t = t.Add(step)
	}
	var ticks []plot.Tick
	for ; !t.After(to); t = t.Add(step) {
		ticks = append(ticks, plot.Tick{Value: float64(t.Unix()), Label: t.Format(format)})
	}
	return ticks
}
