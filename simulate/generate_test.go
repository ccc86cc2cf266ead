package simulate

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/policies/config"
)

func generate(t *testing.T, o GenerateOptions) *Generated {
	t.Helper()
	g, err := Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestGenerateIsReproducible(t *testing.T) {
	a := generate(t, GenerateOptions{Kind: TraceTVSpot, Seed: 7, Days: 2})
	b := generate(t, GenerateOptions{Kind: TraceTVSpot, Seed: 7, Days: 2})
	c := generate(t, GenerateOptions{Kind: TraceTVSpot, Seed: 8, Days: 2})
	if len(a.Trace) != 2*24*60*4 {
		t.Fatalf("%d rows, want one every 15 s for 2 days", len(a.Trace))
	}
	same := func(x, y *Generated) bool {
		for i := range x.Trace {
			if x.Trace[i] != y.Trace[i] {
				return false
			}
		}
		return bytes.Equal(x.Windows, y.Windows)
	}
	if !same(a, b) {
		t.Error("the same seed made two different traces")
	}
	if same(a, c) {
		t.Error("two seeds made the same trace")
	}
}

func TestGenerateTVSpots(t *testing.T) {
	g := generate(t, GenerateOptions{Kind: TraceTVSpot, Seed: 3})
	if len(g.Events) != 8 {
		t.Fatalf("%d spots, want 8", len(g.Events))
	}
	tr := g.Trace
	for _, e := range g.Events {
		if e.Multiplier < 3 || e.Multiplier > 8 || e.Rise > time.Minute || e.Decay < 10*time.Minute || e.Decay > 20*time.Minute {
			t.Errorf("%s: %.2fx, rise %s, decay %s; want 3–8x within 60 s, decaying over 10–20 min", e.Name, e.Multiplier, e.Rise, e.Decay)
		}
		if slip := e.Actual.Sub(e.Scheduled); slip < 0 || slip > 90*time.Second {
			t.Errorf("%s: airs %s after its booked minute, want 0–90 s", e.Name, slip)
		}
		// Measured in the trace: the load a minute before the spot and at
		// its top, noise included.
		before, _ := tr.LoadAt(e.Actual.Add(-time.Minute))
		top := 0.0
		for d := time.Duration(0); d <= e.Rise+30*time.Second; d += 15 * time.Second {
			v, _ := tr.LoadAt(e.Actual.Add(d))
			top = max(top, v)
		}
		if r := top / before; r < 0.75*e.Multiplier || r > 1.35*e.Multiplier {
			t.Errorf("%s: the load rose %.2fx in the trace, want about %.2fx", e.Name, r, e.Multiplier)
		}
		after, _ := tr.LoadAt(e.Actual.Add(e.Rise + e.Decay))
		if r := after / before; r > 1+0.15*(e.Multiplier-1)+0.3 {
			t.Errorf("%s: still %.2fx after its decay time", e.Name, r)
		}
	}
	// The windows file announces every spot at its booked minute,
	// expecting at least its multiplier, and lints clean.
	res := config.ParseFile("tv-spot.windows.yaml", g.Windows)
	res.Merge(config.ParseFile("tv-spot.targets.yaml", g.Targets))
	if errs := res.Problems.Errors(); len(errs) > 0 {
		t.Fatalf("generated files do not lint: %v", errs)
	}
	if len(res.Windows) != len(g.Events) || len(res.Targets) != 1 {
		t.Fatalf("%d windows and %d targets, want %d and 1", len(res.Windows), len(res.Targets), len(g.Events))
	}
	for i, w := range res.Windows {
		e := g.Events[i]
		if w.Name != e.Name || !w.Start.Equal(e.Scheduled) || w.Demand.Value < e.Multiplier || w.Demand.Value > e.Multiplier+0.5 {
			t.Errorf("window %s at %s expecting %gx; spot %s at %s is %.2fx", w.Name, w.Start, w.Demand.Value, e.Name, e.Scheduled, e.Multiplier)
		}
		if w.Group != "tv-spots" || w.Learned {
			t.Errorf("window %s: group %q, learned %v; want group tv-spots, a fixed expect", w.Name, w.Group, w.Learned)
		}
	}
}

// The shape-change week: the TV-spot week's spots, the first 4 alone,
// those from the 5th on with two-wave-spots' own second waves; each
// window expects both waves of its spot, in the group tv-spots.
func TestGenerateShapeChangeSpots(t *testing.T) {
	tv := generate(t, GenerateOptions{Kind: TraceTVSpot, Seed: 5})
	two := generate(t, GenerateOptions{Kind: TraceTwoWaveSpots, Seed: 5})
	g := generate(t, GenerateOptions{Kind: TraceShapeChangeSpots, Seed: 5})
	var firsts, seconds []Event
	for _, e := range g.Events {
		if e.Wave == 0 {
			firsts = append(firsts, e)
		} else {
			seconds = append(seconds, e)
		}
	}
	sameEvent := func(a, b Event) bool {
		return a.Name == b.Name && a.Scheduled.Equal(b.Scheduled) && a.Actual.Equal(b.Actual) && a.Multiplier == b.Multiplier &&
			a.Rise == b.Rise && a.Decay == b.Decay && a.Missed == b.Missed && a.Wave == b.Wave
	}
	if !slices.EqualFunc(firsts, tv.Events, sameEvent) {
		t.Fatalf("first waves %+v, want the TV-spot week's spots %+v", firsts, tv.Events)
	}
	var want []Event
	for _, e := range two.Events {
		if e.Wave == 1 && slices.IndexFunc(tv.Events, func(s Event) bool { return s.Name == e.Name }) >= shapeChangeAfter {
			want = append(want, e)
		}
	}
	if len(want) != len(tv.Events)-shapeChangeAfter || !slices.EqualFunc(seconds, want, sameEvent) {
		t.Fatalf("second waves %+v, want two-wave-spots' from the 5th spot on %+v", seconds, want)
	}
	for _, e := range seconds {
		first := firsts[slices.IndexFunc(firsts, func(f Event) bool { return f.Name == e.Name })]
		if d := e.Actual.Sub(first.Actual); d < 5*time.Minute || d > 9*time.Minute || e.Actual.After(first.Scheduled.Add(15*time.Minute)) {
			t.Errorf("%s: second wave %s after the first, at %s; want 5–9 min, inside the 15 min window", e.Name, d, e.Actual)
		}
		if r := (e.Multiplier - 1) / (first.Multiplier - 1); r < 0.5 || r > 1 {
			t.Errorf("%s: second wave %.2f of the first's rise, want half to all", e.Name, r)
		}
	}
	res := config.ParseFile("shape-change-spots.windows.yaml", g.Windows)
	if errs := res.Problems.Errors(); len(errs) > 0 || len(res.Windows) != len(firsts) {
		t.Fatalf("windows: %v, %d of them; want %d that lint clean", errs, len(res.Windows), len(firsts))
	}
	tvw, twow := config.ParseFile("tv", tv.Windows).Windows, config.ParseFile("two", two.Windows).Windows
	for i, w := range res.Windows {
		// Its spot's own announcement: the TV-spot week's for a spot alone,
		// the two-wave week's (both waves) for one with a second wave.
		ref := tvw[i]
		if i >= shapeChangeAfter {
			ref = twow[i]
		}
		if w.Name != firsts[i].Name || w.Group != "tv-spots" || w.Demand != ref.Demand || w.Duration != 15*time.Minute {
			t.Errorf("window %s (group %q) expects %v for %s; want group tv-spots, %v for 15m", w.Name, w.Group, w.Demand, w.Duration, ref.Demand)
		}
	}
}

func TestGenerateNewsletterAndOrganic(t *testing.T) {
	g := generate(t, GenerateOptions{Kind: TraceNewsletter})
	res := config.ParseFile("newsletter.windows.yaml", g.Windows)
	if errs := res.Problems.Errors(); len(errs) > 0 || len(res.Windows) != 1 || res.Windows[0].Cron == nil {
		t.Fatalf("newsletter windows: %v, %+v; want one daily cron window", errs, res.Windows)
	}
	if len(g.Events) != 7 {
		t.Errorf("%d newsletters in 7 days, want 7", len(g.Events))
	}
	for _, e := range g.Events {
		if e.Multiplier > res.Windows[0].Demand.Value {
			t.Errorf("%s on %s brought %.2fx, more than the %gx announced", e.Name, e.Actual.Weekday(), e.Multiplier, res.Windows[0].Demand.Value)
		}
	}
	o := generate(t, GenerateOptions{Kind: TraceOrganicWeek})
	if o.Windows != nil || len(o.Events) != 0 {
		t.Errorf("organic-week announced %d events: %s", len(o.Events), o.Windows)
	}
	// The daily pattern: the night is far quieter than the evening.
	night, _ := Trace(o.Trace).LoadAt(time.Date(2026, 11, 17, 3, 0, 0, 0, time.UTC))    // 04:00 in Paris
	evening, _ := Trace(o.Trace).LoadAt(time.Date(2026, 11, 17, 20, 0, 0, 0, time.UTC)) // 21:00 in Paris
	if night > evening/3 {
		t.Errorf("night load %.0f, evening %.0f: want the night under a third of the evening", night, evening)
	}
}

func TestGenerateRejectsBadOptions(t *testing.T) {
	cases := []struct {
		name string
		o    GenerateOptions
		want string
	}{
		{"unknown kind", GenerateOptions{Kind: "flash-sale"}, `unknown trace "flash-sale"`},
		{"days", GenerateOptions{Kind: TraceTVSpot, Days: -1}, "days: want 1 to 366, got -1"},
		{"step", GenerateOptions{Kind: TraceTVSpot, Step: time.Millisecond}, "step: want at least 1s"},
		{"peak", GenerateOptions{Kind: TraceTVSpot, Peak: -5}, "peak: want a load > 0, got -5"},
		{"noise", GenerateOptions{Kind: TraceTVSpot, Noise: 2}, "noise: want 0 to 1, got 2"},
		{"spots", GenerateOptions{Kind: TraceTVSpot, Days: 1, Spots: 9}, "spots: want 0 to 4 (4 a day), got 9"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Generate(c.o)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one saying %q", err, c.want)
			}
		})
	}
}

// tracesDir holds the committed traces of docs/performance.md.
const tracesDir = "../docs/traces"

// The committed traces are exactly what `primetime simulate --generate
// KIND --seed 1` writes, so the report can be reproduced from the code.
func TestCommittedTracesAreGenerated(t *testing.T) {
	for _, kind := range TraceKinds {
		t.Run(string(kind), func(t *testing.T) {
			g := generate(t, GenerateOptions{Kind: kind, Seed: 1})
			var csv bytes.Buffer
			if err := WriteSeriesCSV(&csv, ground.Series(g.Trace), 1); err != nil {
				t.Fatal(err)
			}
			for name, want := range map[string][]byte{".csv": csv.Bytes(), ".windows.yaml": g.Windows, ".targets.yaml": g.Targets} {
				got, err := os.ReadFile(filepath.Join(tracesDir, string(kind)+name))
				if want == nil {
					if err == nil {
						t.Errorf("%s%s is committed, but the generator writes none", kind, name)
					}
					continue
				}
				if err != nil || !bytes.Equal(got, want) {
					t.Errorf("%s%s differs from the generator's output (%v): regenerate it with primetime simulate --generate %s --out docs/traces/%s", kind, name, err, kind, kind)
				}
			}
		})
	}
}

// The goals of docs/performance.md on the committed TV-spot trace: no
// unserved load inside announced spots (reactive leaves some), and at
// least 40% fewer replica-hours than static. The replica-hours against
// the oracle are reported, not asserted: the goal of 1.15x is missed and
// explained in docs/performance.md.
func TestCommittedTVSpotReport(t *testing.T) {
	rep, err := Run(context.Background(), committedSetup(t, TraceTVSpot), Strategies)
	if err != nil {
		t.Fatal(err)
	}
	res := map[Strategy]Result{}
	for _, r := range rep.Results {
		res[r.Strategy] = r
	}
	pt, re := res[StrategyPrimetime], res[StrategyReactive]
	if pt.UnservedInWindows != 0 {
		t.Errorf("primetime left %.0f unserved inside announced spots, want 0 (by window: %v)", pt.UnservedInWindows, pt.UnservedByWindow)
	}
	if re.UnservedInWindows <= 0 {
		t.Errorf("reactive left no unserved load inside the spots: the trace does not show what pre-scaling is for")
	}
	if ratio := pt.ReplicaHours / res[StrategyStatic].ReplicaHours; ratio > 0.6 {
		t.Errorf("primetime used %.2f of static's replica-hours, want at most 0.60", ratio)
	}
	t.Logf("replica-hours: primetime %.1f, reactive %.1f, static %.1f, oracle %.1f; primetime/oracle %.2f",
		pt.ReplicaHours, re.ReplicaHours, res[StrategyStatic].ReplicaHours, res[StrategyOracle].ReplicaHours,
		pt.ReplicaHours/res[StrategyOracle].ReplicaHours)
}

// committedSetup reads a committed trace with its targets and windows.
func committedSetup(tb testing.TB, kind TraceKind) Setup {
	tb.Helper()
	read := func(suffix string) []byte {
		b, err := os.ReadFile(filepath.Join(tracesDir, string(kind)+suffix))
		if err != nil && !(suffix == ".windows.yaml" && os.IsNotExist(err)) {
			tb.Fatal(err)
		}
		return b
	}
	series, err := ReadSeriesCSV(bytes.NewReader(read(".csv")), string(kind)+".csv")
	if err != nil {
		tb.Fatal(err)
	}
	cfg := config.ParseFile("targets.yaml", read(".targets.yaml"))
	if w := read(".windows.yaml"); w != nil {
		cfg.Merge(config.ParseFile("windows.yaml", w))
	}
	if errs := cfg.Problems.Errors(); len(errs) > 0 {
		tb.Fatal(errs)
	}
	return Setup{Trace: Trace(series), Target: cfg.Targets[0], Windows: cfg.Windows, Startup: DefaultStartup, MetricDelay: DefaultMetricDelay}
}

// TestCommittedSpotVariants: spots that air 90 s late, that never air,
// come in two waves, or in two waves from the 5th spot on leave no load
// unserved inside their windows. On the late-spots week the Sunday 12:55
// spot peaks at 4.6x the load read when its floor started, above its
// "expect: 4.5x": the baseline rises with the lunch load read until the
// start, so that its floor covers it.
func TestCommittedSpotVariants(t *testing.T) {
	for _, kind := range []TraceKind{TraceLateSpots, TraceMissedSpots, TraceTwoWaveSpots, TraceShapeChangeSpots} {
		t.Run(string(kind), func(t *testing.T) {
			rep, err := Run(context.Background(), committedSetup(t, kind), []Strategy{StrategyPrimetime, StrategyOracle})
			if err != nil {
				t.Fatal(err)
			}
			pt := rep.Results[0]
			for k, w := range rep.Windows {
				if v := pt.UnservedByWindow[k]; v > 0 {
					t.Errorf("%s: %.0f unserved, want 0", w.Name, v)
				}
			}
			t.Logf("unserved in windows %.0f; replica-hours %.1f, %.2fx the oracle", pt.UnservedInWindows, pt.ReplicaHours, pt.ReplicaHours/rep.Results[1].ReplicaHours)
		})
	}
}

// TestLearnedNewsletter: the newsletter week with its window saying
// "expect: learned" (initially 3x) instead of 3x. From the fourth day the
// floor uses the highest peak ratio of the last 5 reports plus 10%, that
// ratio within 10% of the highest multiplier the generator put in the
// trace on those days, and no load is left unserved inside the windows.
func TestLearnedNewsletter(t *testing.T) {
	s := committedSetup(t, TraceNewsletter)
	cfg := config.ParseFile("windows.yaml", []byte(`timezone: Europe/Paris
windows:
  - name: newsletter
    cron: "0 10 * * *"
    duration: 1h
    expect: learned
    initially: 3x
    targets: [storefront/web]
`))
	if errs := cfg.Problems.Errors(); len(errs) > 0 {
		t.Fatal(errs)
	}
	s.Windows = cfg.Windows
	g, err := Generate(GenerateOptions{Kind: TraceNewsletter, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), s, []Strategy{StrategyPrimetime, StrategyOracle})
	if err != nil {
		t.Fatal(err)
	}
	pt := rep.Results[0]
	if len(pt.Reports) != len(g.Events) {
		t.Fatalf("%d reports, want one a day (%d)", len(pt.Reports), len(g.Events))
	}
	if pt.UnservedInWindows != 0 {
		t.Errorf("%.0f unserved inside the windows, want 0 (by window %v)", pt.UnservedInWindows, pt.UnservedByWindow)
	}
	var seen, truth []float64
	for i, r := range pt.Reports {
		ratio := r.Ratio()
		trueRatio := g.Events[i].Multiplier
		// The report reads the highest load over the baseline until the
		// end of the cooldown: the newsletter's own multiplier, or more
		// when the organic rise towards lunch tops it (days 1 and 7).
		if !ratio.OK || ratio.V < 0.9*trueRatio {
			t.Errorf("day %d: report read %v, the trace's newsletter brought %.2fx", i+1, ratio, trueRatio)
		}
		if i >= 3 {
			// Learned from the last 5 reports before it.
			want := slices.Max(seen[max(0, len(seen)-5):]) * 1.1
			if !r.Learned || math.Abs(r.Demand.Value-want) > 1e-9 {
				t.Errorf("day %d: expected %v (learned %v), want %.3f", i+1, r.Demand, r.Learned, want)
			}
			truest := slices.Max(truth[max(0, len(truth)-5):])
			if math.Abs(r.Demand.Value/1.1/truest-1) > 0.10 {
				t.Errorf("day %d: learned %.2fx before headroom, the trace's highest of those days %.2fx", i+1, r.Demand.Value/1.1, truest)
			}
			t.Logf("day %d: learned %.2fx (%.2fx + 10%%) from the trace's %.2fx; this day %.2fx, read %.2fx", i+1, r.Demand.Value, r.Demand.Value/1.1, truest, trueRatio, ratio.V)
		}
		seen, truth = append(seen, ratio.V), append(truth, trueRatio)
	}
	t.Logf("replica-hours %.1f, %.2fx the oracle", pt.ReplicaHours, pt.ReplicaHours/rep.Results[1].ReplicaHours)
}
