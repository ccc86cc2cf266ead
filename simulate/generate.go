package simulate

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/primetime-dev/primetime/ground"
)

// TraceKind names a synthetic trace.
type TraceKind string

// The synthetic traces `primetime simulate --generate` makes.
const (
	// TraceTVSpot: a week of organic traffic with TV spots (3–8x within a
	// minute, decaying over 10–20 minutes), each announced by a window in
	// the group tv-spots, as are its variants' spots and the demo's.
	TraceTVSpot TraceKind = "tv-spot"
	// TraceNewsletter: a week with a newsletter every morning at 10:00
	// (1.8–2.6x over 5–10 minutes, decaying over 45–75 minutes), announced
	// by one recurring window.
	TraceNewsletter TraceKind = "newsletter"
	// TraceOrganicWeek: a week of organic traffic only (no windows): what
	// the forecast and tracking do on their own.
	TraceOrganicWeek TraceKind = "organic-week"
	// TraceDemoSpot: the 7 minutes of make demo's live TV spot, at 1 s:
	// 42 req/s, then 4x for the spot's minute (the load generator's step)
	// starting 2 minutes in, announced by a window with a 75 s lead time.
	TraceDemoSpot TraceKind = "demo-spot"
	// TraceLateSpots: the TV-spot week with every spot airing 90 s after
	// its booked minute, the latest an ad break slips.
	TraceLateSpots TraceKind = "late-spots"
	// TraceMissedSpots: the TV-spot week where every other announced spot
	// never airs (the ad was pulled; the window stays).
	TraceMissedSpots TraceKind = "missed-spots"
	// TraceTwoWaveSpots: the TV-spot week where each spot brings a second
	// wave 5–9 minutes after the first, inside its window (the spot is
	// aired again in the next break, or a presenter mentions the site),
	// half to all of the first's rise over what is left of it.
	TraceTwoWaveSpots TraceKind = "two-wave-spots"
	// TraceShapeChangeSpots: the TV-spot week whose spots change shape
	// halfway: the first 4 (shapeChangeAfter) bring no second wave, those
	// from the 5th on bring one as two-wave-spots does (5–9 minutes after
	// the first, half to all of its rise, inside the window; the same
	// draws, so from the 5th spot on the waves are two-wave-spots' own).
	// What a group's learned shape meets when its spots stop being alike.
	TraceShapeChangeSpots TraceKind = "shape-change-spots"
)

// shapeChangeAfter is how many spots of the shape-change-spots week come
// without a second wave.
const shapeChangeAfter = 4

// tvSpotsGroup is the group of every TV-spot window a generated windows
// file announces: windows of the same kind, whose effect primetime learns.
const tvSpotsGroup = "tv-spots"

// TraceKinds lists the synthetic traces.
var TraceKinds = []TraceKind{TraceTVSpot, TraceNewsletter, TraceOrganicWeek, TraceDemoSpot, TraceLateSpots, TraceMissedSpots, TraceTwoWaveSpots, TraceShapeChangeSpots}

// spotted reports whether a kind of trace is the TV-spot week or one of
// its variants.
func (k TraceKind) spotted() bool {
	return k == TraceTVSpot || k == TraceLateSpots || k == TraceMissedSpots || k == TraceTwoWaveSpots || k == TraceShapeChangeSpots
}

// GenerateOptions are the parameters of a synthetic trace. Zero values
// take the defaults given in parentheses.
//
// The organic load is Peak × daily(hour) × weekly(day) × noise:
//   - daily: a night trough at 12% of the evening peak around 04:00, a
//     lunch bump around 12:45, an afternoon plateau, the peak around 21:00;
//   - weekly: Monday 1.00, Tuesday 0.97, Wednesday 0.99, Thursday 1.02,
//     Friday 0.94, Saturday 0.86, Sunday 1.08;
//   - noise: exp of a slow random walk (Ornstein–Uhlenbeck, 10-minute
//     correlation, standard deviation Noise) plus white noise (Noise/2).
//
// Events multiply the organic load by 1 + excess(t), the excess rising
// smoothly to (multiplier − 1) over the rise time, then decaying
// exponentially to 5% of its peak over the decay time.
type GenerateOptions struct {
	Kind TraceKind
	// Seed makes the trace reproducible (1).
	Seed uint64
	// Start is the first instant (Monday 2026-11-16 00:00 in Location).
	Start time.Time
	// Location is the time zone of the daily pattern and the windows
	// (Europe/Paris).
	Location *time.Location
	// Days is the trace's length (7).
	Days int
	// Step is the time between two rows (15 s).
	Step time.Duration
	// Peak is a weekday's organic evening peak, in load units (1000).
	Peak float64
	// Noise is the slow noise's relative standard deviation (0.05).
	Noise float64
	// Spots is how many TV spots a tv-spot trace has (8).
	Spots int
}

// Event is one spike the generator put in a trace.
type Event struct {
	// Name is the window's name.
	Name string
	// Scheduled is the announced start (a whole minute); the spike starts
	// at Actual, 0–90 s later for a TV spot (ad breaks slip).
	Scheduled, Actual time.Time
	// Multiplier is the spike's peak over the organic load.
	Multiplier float64
	// Rise and Decay shape the spike.
	Rise, Decay time.Duration
	// Missed: the spot never aired; its window announces it all the same.
	Missed bool
	// Wave is 0 for an announced event, 1 for a second wave of the one
	// before it (announced by that one's window).
	Wave int
}

// Generated is a synthetic trace with the files that go with it.
type Generated struct {
	Trace  Trace
	Events []Event
	// Windows is the windows file announcing the events (YAML); nil for
	// an organic trace, which announces nothing.
	Windows []byte
	// Targets is the targets file of the traced workload (YAML).
	Targets []byte
}

// WriteFiles writes the trace to PREFIX.csv, the windows to
// PREFIX.windows.yaml (when it announces any) and the target to
// PREFIX.targets.yaml, and returns the files written, in that order, until
// one fails.
func (g *Generated) WriteFiles(prefix string) ([]string, error) {
	var csv strings.Builder
	if err := WriteSeriesCSV(&csv, ground.Series(g.Trace), 1); err != nil {
		return nil, err
	}
	var written []string
	for _, f := range []struct {
		name string
		data []byte
	}{{prefix + ".csv", []byte(csv.String())}, {prefix + ".windows.yaml", g.Windows}, {prefix + ".targets.yaml", g.Targets}} {
		if f.data == nil {
			continue // nothing announced
		}
		if err := os.WriteFile(f.name, f.data, 0o644); err != nil {
			return written, err
		}
		written = append(written, f.name)
	}
	return written, nil
}

func (o *GenerateOptions) withDefaults() error {
	if !slices.Contains(TraceKinds, o.Kind) {
		return fmt.Errorf("unknown trace %q (want tv-spot, newsletter, organic-week, demo-spot, late-spots, missed-spots, two-wave-spots or shape-change-spots)", o.Kind)
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Location == nil {
		loc, err := time.LoadLocation("Europe/Paris")
		if err != nil {
			return err
		}
		o.Location = loc
	}
	if o.Start.IsZero() {
		o.Start = time.Date(2026, 11, 16, 0, 0, 0, 0, o.Location)
	}
	if o.Days == 0 {
		o.Days = 7
	}
	if o.Step == 0 {
		o.Step = 15 * time.Second
	}
	if o.Peak == 0 {
		o.Peak = 1000
	}
	if o.Noise == 0 {
		o.Noise = 0.05
	}
	if o.Spots == 0 {
		o.Spots = 8
	}
	switch {
	case o.Days < 1 || o.Days > 366:
		return fmt.Errorf("days: want 1 to 366, got %d", o.Days)
	case o.Step < time.Second:
		return fmt.Errorf("step: want at least 1s, got %s", o.Step)
	case o.Peak <= 0:
		return fmt.Errorf("peak: want a load > 0, got %g", o.Peak)
	case o.Noise < 0 || o.Noise > 1:
		return fmt.Errorf("noise: want 0 to 1, got %g", o.Noise)
	case o.Kind.spotted() && (o.Spots < 0 || o.Spots > 4*o.Days):
		return fmt.Errorf("spots: want 0 to %d (4 a day), got %d", 4*o.Days, o.Spots)
	}
	return nil
}

// Generate makes a synthetic trace.
func Generate(o GenerateOptions) (*Generated, error) {
	if err := o.withDefaults(); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15))
	if o.Kind == TraceDemoSpot {
		return demoSpot(rng, &o), nil
	}
	end := o.Start.AddDate(0, 0, o.Days)
	var events []Event
	switch {
	case o.Kind.spotted():
		events = tvSpots(rng, &o)
		events = varySpots(rng, o.Kind, events)
	case o.Kind == TraceNewsletter:
		events = newsletters(rng, &o)
	}
	daily := newDailyShape()
	var tr Trace
	slow := 0.0
	decay := math.Exp(-o.Step.Seconds() / (10 * time.Minute).Seconds())
	kick := o.Noise * math.Sqrt(1-decay*decay)
	slow = o.Noise * rng.NormFloat64()
	for t := o.Start; t.Before(end); t = t.Add(o.Step) {
		local := t.In(o.Location)
		h := float64(local.Hour()) + float64(local.Minute())/60 + float64(local.Second())/3600
		organic := o.Peak * daily.at(h) * weekly[local.Weekday()]
		slow = slow*decay + kick*rng.NormFloat64()
		load := organic * math.Exp(slow+o.Noise/2*rng.NormFloat64())
		for i := range events {
			load *= 1 + events[i].excess(t)
		}
		tr = append(tr, ground.Sample{T: t.UTC(), V: math.Round(load*10) / 10})
	}
	g := &Generated{Trace: tr, Events: events, Targets: []byte(tracedTarget)}
	g.Windows = windowsFile(&o, events)
	return g, nil
}

// weekly is the organic level of each weekday relative to Monday.
var weekly = [7]float64{
	time.Sunday: 1.08, time.Monday: 1.00, time.Tuesday: 0.97, time.Wednesday: 0.99,
	time.Thursday: 1.02, time.Friday: 0.94, time.Saturday: 0.86,
}

// dailyShape is the organic load over a day, 1 at its peak.
type dailyShape struct{ norm float64 }

func newDailyShape() dailyShape {
	d := dailyShape{norm: 1}
	peak := 0.0
	for m := 0; m < 24*60; m++ {
		peak = math.Max(peak, d.at(float64(m)/60))
	}
	d.norm = peak
	return d
}

func (d dailyShape) at(h float64) float64 {
	bump := func(mu, sigma float64) float64 {
		x := math.Abs(h - mu)
		x = math.Min(x, 24-x) // the day wraps around midnight
		return math.Exp(-x * x / (2 * sigma * sigma))
	}
	v := 0.12 + 0.40*bump(12.75, 1.25) + 0.45*bump(17, 3) + 0.90*bump(21, 1.6) - 0.10*bump(4, 2)
	return math.Max(v, 0.05) / d.norm
}

// excess is the event's relative extra load at t.
func (e *Event) excess(t time.Time) float64 {
	d := t.Sub(e.Actual)
	if d < 0 || e.Missed {
		return 0
	}
	top := e.Multiplier - 1
	if d < e.Rise {
		x := float64(d) / float64(e.Rise)
		return top * x * x * (3 - 2*x) // smooth start and arrival
	}
	return top * math.Exp(-3*float64(d-e.Rise)/float64(e.Decay))
}

// adBreaks are the local times of the ad breaks TV spots are bought in.
var adBreaks = []time.Duration{
	12*time.Hour + 55*time.Minute, 13*time.Hour + 45*time.Minute, 19*time.Hour + 50*time.Minute,
	20*time.Hour + 40*time.Minute, 20*time.Hour + 50*time.Minute, 21*time.Hour + 35*time.Minute,
	22*time.Hour + 20*time.Minute,
}

// tvSpots draws o.Spots spots at ad breaks, at least 3 hours apart.
func tvSpots(rng *rand.Rand, o *GenerateOptions) []Event {
	var out []Event
	for tries := 0; len(out) < o.Spots && tries < 1000; tries++ {
		day := o.Start.AddDate(0, 0, rng.IntN(o.Days))
		at := day.Add(adBreaks[rng.IntN(len(adBreaks))] + time.Duration(rng.IntN(5))*time.Minute)
		if slices.ContainsFunc(out, func(e Event) bool { return absDuration(e.Scheduled.Sub(at)) < 3*time.Hour }) {
			continue
		}
		out = append(out, Event{
			Scheduled:  at,
			Actual:     at.Add(time.Duration(rng.IntN(91)) * time.Second),
			Multiplier: 3 + 5*rng.Float64(),
			Rise:       time.Duration(30+rng.IntN(31)) * time.Second,
			Decay:      time.Duration(10+rng.IntN(11)) * time.Minute,
		})
	}
	slices.SortFunc(out, func(a, b Event) int { return a.Scheduled.Compare(b.Scheduled) })
	for i := range out {
		out[i].Name = out[i].Scheduled.Format("tv-spot-01-02-1504")
	}
	return out
}

// varySpots turns the TV-spot week's spots into those of a variant.
func varySpots(rng *rand.Rand, kind TraceKind, spots []Event) []Event {
	switch kind {
	case TraceLateSpots:
		for i := range spots {
			spots[i].Actual = spots[i].Scheduled.Add(90 * time.Second)
		}
	case TraceMissedSpots:
		for i := range spots {
			spots[i].Missed = i%2 == 1
		}
	case TraceTwoWaveSpots, TraceShapeChangeSpots:
		out := make([]Event, 0, 2*len(spots))
		for i, e := range spots {
			// Drawn for every spot, so that shape-change-spots' waves
			// are two-wave-spots' own.
			second := e
			second.Wave = 1
			second.Actual = e.Actual.Add(time.Duration(5*60+rng.IntN(4*60+1)) * time.Second)
			second.Multiplier = 1 + (e.Multiplier-1)*(0.5+0.5*rng.Float64())
			out = append(out, e)
			if kind == TraceTwoWaveSpots || i >= shapeChangeAfter {
				out = append(out, second)
			}
		}
		return out
	}
	return spots
}

// announced is the multiplier a spot's window expects: the most the
// spot and its second wave bring together over the organic load, rounded
// up to the half (marketing knows its audience).
func announced(events []Event, i int) float64 {
	e := &events[i]
	peak := e.Multiplier
	for t := e.Scheduled; t.Before(e.Scheduled.Add(15 * time.Minute)); t = t.Add(5 * time.Second) {
		x := 1.0
		for j := range events {
			if events[j].Name == e.Name {
				x *= 1 + (&events[j]).excessAired(t)
			}
		}
		peak = max(peak, x)
	}
	return math.Ceil(peak*2) / 2
}

// excessAired is excess as if the event aired.
func (e *Event) excessAired(t time.Time) float64 {
	c := *e
	c.Missed = false
	return c.excess(t)
}

// newsletter bounds: every day at 10:00 the newsletter brings this
// multiplier of the organic load.
const (
	newsletterMinX = 1.8
	newsletterMaxX = 2.6
)

// newsletters puts one newsletter a day at 10:00, its emails going out
// over the first minutes.
func newsletters(rng *rand.Rand, o *GenerateOptions) []Event {
	var out []Event
	for d := range o.Days {
		at := o.Start.AddDate(0, 0, d).Add(10 * time.Hour)
		out = append(out, Event{
			Name: "newsletter", Scheduled: at, Actual: at,
			Multiplier: newsletterMinX + (newsletterMaxX-newsletterMinX)*rng.Float64(),
			Rise:       time.Duration(5+rng.IntN(6)) * time.Minute,
			Decay:      time.Duration(45+rng.IntN(31)) * time.Minute,
		})
	}
	return out
}

// tracedTarget is the targets file that goes with every generated trace.
const tracedTarget = `# The workload whose load the trace is. Generated by primetime simulate --generate.
targets:
  - name: web
    namespace: storefront
    scaleTargetRef: {kind: Deployment, name: web}
    load:
      datadog: 'sum:trace.http.request.hits{service:web}.as_rate()'
    capacityPerReplica: 50
    minReplicas: 2
    maxReplicas: 300
    leadTime: learned
    maxLeadTime: 5m
    forecast: {seasonality: 24h, lookback: 3}
`

// windowsFile announces the events as marketing would: each TV spot at
// its booked minute, for 15 minutes, expecting its audience's multiplier
// (both waves' when it brings two) rounded up to the half, in the group
// tv-spots, whose floors follow the group's learned shape once it has 3
// reports (shape: learned); the newsletter as one daily window expecting
// the most it has ever brought, rounded up, with a learned shape too. The
// target learns its lead (leadTime: learned, at most the 5 minutes it
// gave before).
func windowsFile(o *GenerateOptions, events []Event) []byte {
	if o.Kind == TraceOrganicWeek || (o.Kind.spotted() && len(events) == 0) {
		return nil
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Windows announcing the events of the %s trace (seed %d). Generated by primetime simulate --generate.\n", o.Kind, o.Seed)
	fmt.Fprintf(&b, "timezone: %s\n", o.Location)
	switch {
	case o.Kind.spotted():
		b.WriteString("windows:\n")
		for i, e := range events {
			if e.Wave > 0 {
				continue
			}
			fmt.Fprintf(&b, "  - name: %s\n    group: %s\n    start: %q\n    duration: 15m\n    expect: %sx\n    shape: learned\n    targets: [storefront/web]\n",
				e.Name, tvSpotsGroup, e.Scheduled.In(o.Location).Format("2006-01-02 15:04"), formatMultiplier(announced(events, i)))
		}
	case o.Kind == TraceNewsletter:
		fmt.Fprintf(&b, "windows:\n  - name: newsletter\n    cron: \"0 10 * * *\"\n    duration: 1h\n    expect: %sx\n    shape: learned\n    targets: [storefront/web]\n",
			formatMultiplier(math.Ceil(newsletterMaxX*2)/2))
	}
	return b.Bytes()
}

func formatMultiplier(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// The demo spot's shape, as make demo plays it on a real control plane.
const (
	demoRate     = 42.0
	demoSpike    = 4.0
	demoSpotIn   = 2 * time.Minute
	demoSpotLen  = time.Minute
	demoTraceLen = 7 * time.Minute
)

// demoSpot is the trace of make demo's spot: a flat demoRate (with 2%
// white noise, as a load generator's counters read), then demoSpike times
// it from demoSpotIn for demoSpotLen; Start defaults to 20:40 on the
// first day, Step to 1 s.
func demoSpot(rng *rand.Rand, o *GenerateOptions) *Generated {
	start := o.Start
	if start.Equal(time.Date(2026, 11, 16, 0, 0, 0, 0, o.Location)) {
		start = start.Add(20*time.Hour + 40*time.Minute)
	}
	step := o.Step
	if step == 15*time.Second {
		step = time.Second
	}
	spot := Event{Name: "tf1-spot", Scheduled: start.Add(demoSpotIn), Actual: start.Add(demoSpotIn), Multiplier: demoSpike}
	var tr Trace
	for t := start; t.Before(start.Add(demoTraceLen)); t = t.Add(step) {
		load := demoRate
		if !t.Before(spot.Actual) && t.Before(spot.Actual.Add(demoSpotLen)) {
			load *= demoSpike
		}
		load *= 1 + 0.02*rng.NormFloat64()
		tr = append(tr, ground.Sample{T: t.UTC(), V: math.Round(load*10) / 10})
	}
	windows := fmt.Sprintf(`# The window of make demo's spot. Generated by primetime simulate --generate demo-spot.
timezone: %s
windows:
  - name: tf1-spot
    group: %s
    start: %q
    duration: 1m
    cooldown: 30s
    expect: %gx
    targets: [storefront/web]
`, o.Location, tvSpotsGroup, spot.Scheduled.In(o.Location).Format("2006-01-02 15:04:05"), demoSpike)
	return &Generated{Trace: tr, Events: []Event{spot}, Windows: []byte(windows), Targets: []byte(demoTarget)}
}

// demoTarget is the workload of make demo: the e2e stage's web target.
const demoTarget = `# make demo's workload. Generated by primetime simulate --generate demo-spot.
targets:
  - name: web
    namespace: storefront
    scaleTargetRef: {kind: Deployment, name: web}
    load: {prometheus: 'sum(rate(http_requests_total[15s]))'}
    capacityPerReplica: 10
    minReplicas: 2
    maxReplicas: 50
    leadTime: 75s
`
