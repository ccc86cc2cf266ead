package scaler

import (
	"bufio"
	"cmp"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/policies"
	"github.com/primetime-dev/primetime/sources"
)

// Metrics are the engine's Prometheus metrics (SPEC §3). The per-target
// series come from the last completed cycle as a whole (a scrape that
// lands mid-cycle never sees half of them), and a target that goes away
// takes its series with it.
type Metrics struct {
	targets       *targetCollector
	configEntries *prometheus.GaugeVec
	leader        prometheus.Gauge
	cycle         prometheus.Histogram
	changes       *prometheus.CounterVec
}

// NewMetrics creates the engine metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		targets: newTargetCollector(time.Now),
		configEntries: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "primetime_config_entries",
			Help: "Configuration entries by kind (targets, windows) and state (valid, invalid).",
		}, []string{"kind", "state"}),
		leader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "primetime_leader",
			Help: "1 on the replica that holds the leader Lease.",
		}),
		cycle: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "primetime_evaluation_duration_seconds",
			Help:    "Duration of one evaluation cycle over all targets.",
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}),
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "primetime_desired_replicas_changes_total",
			Help: "Changes of desired replicas, by the policy that made them.",
		}, []string{"policy"}),
	}
	reg.MustRegister(m.configEntries, m.leader, m.cycle, m.changes)
	return m
}

// WriteTargetSeries writes the per-target series of the last completed
// cycle (primetime_target_load, primetime_target_replicas,
// primetime_window_active, primetime_source_data_age_seconds,
// primetime_window_targets) in Prometheus's text format, for the status
// server to serve after the registry's metrics (StatusServer.AddSeries).
func (m *Metrics) WriteTargetSeries(w io.Writer) error {
	bw, ok := w.(*bufio.Writer)
	if !ok {
		bw = bufio.NewWriter(w)
		defer bw.Flush()
	}
	return m.targets.writeText(bw)
}

// SetLeader records whether this replica leads.
func (m *Metrics) SetLeader(leading bool) {
	if m == nil {
		return
	}
	v := 0.0
	if leading {
		v = 1
	}
	m.leader.Set(v)
}

// targetSample is what one cycle says of one target, as its series show
// it: copied out of the decision, so that the decision (with its windows'
// effects) is not kept alive from one cycle to the next.
type targetSample struct {
	namespace, name string
	load            [4]ground.Opt[float64] // observed, forecast, scheduled, effective
	replicas        [4]ground.Opt[int32]   // current, desired, floor, cap
	// acting are the windows whose floor or cap is in force.
	acting  [2]windowPhase
	nActing int
	source  ground.SourceKind
	// dataAt is when the newest load value was measured; zero when none.
	dataAt time.Time
	// dataLimit is the age past which that value is stale.
	dataLimit time.Duration
}

// windowPhase names a window (by ConfigMap) in one phase.
type windowPhase struct{ cm, window, phase string }

// sampleOf copies what the series show of d.
func sampleOf(t *ground.Target, d *policies.Decision, reading sources.Reading) targetSample {
	s := targetSample{namespace: t.Namespace, name: t.Name, source: t.Load.Kind(), dataAt: reading.Value.At, dataLimit: reading.Limit,
		load:     [4]ground.Opt[float64]{d.Load.Observed, d.Load.Forecast, d.Load.Scheduled, d.Load.Effective},
		replicas: [4]ground.Opt[int32]{d.Current, d.Desired, d.Schedule.Floor, d.Schedule.Cap}}
	for i, eff := range d.Schedule.Effects {
		if (d.Schedule.Floor.OK && d.Schedule.FloorBy == i) || (d.Schedule.Cap.OK && d.Schedule.CapBy == i) {
			if s.nActing < len(s.acting) {
				s.acting[s.nActing] = phaseOf(eff)
				s.nActing++
			}
		}
	}
	return s
}

func phaseOf(eff policies.Effect) windowPhase {
	w := eff.Occurrence.Window
	cm, _, _ := strings.Cut(w.Origin.File, "[")
	return windowPhase{cm, w.Name, string(eff.Phase)}
}

// inForceKey counts the targets of one window in one phase, cheaply
// (hashing a pointer, not names): windows are the cycle's snapshot's.
type inForceKey struct {
	window *ground.Window
	phase  policies.Phase
}

// countInForce adds d's windows, by phase, to n.
func countInForce(n map[inForceKey]int, d *policies.Decision) {
	for _, eff := range d.Schedule.Effects {
		n[inForceKey{eff.Occurrence.Window, eff.Phase}]++
	}
}

// namedInForce sums the workers' counts by window name and phase.
func namedInForce(counts []map[inForceKey]int) map[windowPhase]int {
	out := map[windowPhase]int{}
	for _, n := range counts {
		for k, v := range n {
			out[phaseOf(policies.Effect{Occurrence: policies.Occurrence{Window: k.window}, Phase: k.phase})] += v
		}
	}
	return out
}

// cycleSamples are one cycle's series.
type cycleSamples struct {
	targets []targetSample
	// inForce counts, by window and phase, the targets a window is in
	// force on.
	inForce map[windowPhase]int
}

// targetCollector writes the last completed cycle's per-target series.
type targetCollector struct {
	now                     func() time.Time
	samples                 atomic.Pointer[cycleSamples]
	loadKinds, replicaKinds [4]string
}

func newTargetCollector(now func() time.Time) *targetCollector {
	return &targetCollector{
		now:          now,
		loadKinds:    [4]string{"observed", "forecast", "scheduled", "effective"},
		replicaKinds: [4]string{"current", "desired", "floor", "cap"},
	}
}

// publish makes a cycle's samples the ones scrapes see.
func (c *targetCollector) publish(samples *cycleSamples) { c.samples.Store(samples) }

// The families of the per-target series, in the order they are written.
var targetFamilies = [...]struct{ name, help string }{
	{"primetime_target_load", "Load of each target: observed, forecast, scheduled (behind a window's floor) and effective (the highest)."},
	{"primetime_target_replicas", "Replicas of each target: current, desired, floor (windows) and cap (quiet windows)."},
	{"primetime_window_active", "1 while a window acts on a target: it sets the target's floor (from the start of pre-scaling to the end of its step-down) or its quiet cap, by phase: lead, active, cooldown, step-down, quiet. Of overlapping windows, the one whose floor or cap is in force."},
	{"primetime_source_data_age_seconds", "Age of the newest load value of each target, from the end of the time it describes (a Datadog bucket's end)."},
	{"primetime_window_targets", "Targets a window is in force on (whether or not its floor or cap is the one that counts), by phase."},
	{"primetime_source_data_max_age_seconds", "Age past which each target's load value is stale: its source's staleness limit plus the width of the value's bucket (a Datadog rollup)."},
}

// writeText writes the last completed cycle's per-target series in
// Prometheus's text format. 10,000 targets are some 70,000 series: built
// as client_golang metrics, each scrape allocated about 65 MB; written
// straight from the cycle's decisions, a few kilobytes.
func (c *targetCollector) writeText(w *bufio.Writer) error {
	p := c.samples.Load()
	if p == nil {
		return nil
	}
	now := c.now()
	t := textWriter{w: w}
	t.family(0)
	for _, s := range p.targets {
		for i, v := range s.load {
			if v.OK {
				t.sample(v.V, "namespace", s.namespace, "target", s.name, "kind", c.loadKinds[i])
			}
		}
	}
	t.family(1)
	for _, s := range p.targets {
		for i, v := range s.replicas {
			if v.OK {
				t.sample(float64(v.V), "namespace", s.namespace, "target", s.name, "kind", c.replicaKinds[i])
			}
		}
	}
	t.family(2)
	for _, s := range p.targets {
		for _, a := range s.acting[:s.nActing] {
			t.sample(1, "namespace", s.namespace, "configmap", a.cm, "window", a.window, "target", s.name, "phase", a.phase)
		}
	}
	t.family(3)
	for _, s := range p.targets {
		if !s.dataAt.IsZero() {
			t.sample(max(0, now.Sub(s.dataAt).Seconds()), "source", string(s.source), "namespace", s.namespace, "target", s.name)
		}
	}
	t.family(4)
	keys := make([]windowPhase, 0, len(p.inForce))
	for k := range p.inForce {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b windowPhase) int {
		return cmp.Or(cmp.Compare(a.cm, b.cm), cmp.Compare(a.window, b.window), cmp.Compare(a.phase, b.phase))
	})
	for _, k := range keys {
		t.sample(float64(p.inForce[k]), "configmap", k.cm, "window", k.window, "phase", k.phase)
	}
	t.family(5)
	for _, s := range p.targets {
		if !s.dataAt.IsZero() && s.dataLimit > 0 {
			t.sample(s.dataLimit.Seconds(), "source", string(s.source), "namespace", s.namespace, "target", s.name)
		}
	}
	return t.err
}

// textWriter writes gauge samples in the text exposition format, a
// family's HELP and TYPE lines before its first sample (a family without
// samples is left out, as client_golang does).
type textWriter struct {
	w       *bufio.Writer
	current int
	started bool
	buf     []byte
	err     error
}

func (t *textWriter) family(i int) { t.current, t.started = i, false }

// sample writes one sample of the current family; labels are name, value
// pairs.
func (t *textWriter) sample(v float64, labels ...string) {
	if t.err != nil {
		return
	}
	f := targetFamilies[t.current]
	b := t.buf[:0]
	if !t.started {
		t.started = true
		b = append(b, "# HELP "...)
		b = append(b, f.name...)
		b = append(b, ' ')
		b = appendEscaped(b, f.help, false)
		b = append(b, "\n# TYPE "...)
		b = append(b, f.name...)
		b = append(b, " gauge\n"...)
	}
	b = append(b, f.name...)
	b = append(b, '{')
	for i := 0; i+1 < len(labels); i += 2 {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, labels[i]...)
		b = append(b, `="`...)
		b = appendEscaped(b, labels[i+1], true)
		b = append(b, '"')
	}
	b = append(b, "} "...)
	b = strconv.AppendFloat(b, v, 'g', -1, 64)
	b = append(b, '\n')
	t.buf = b
	_, t.err = t.w.Write(b)
}

// appendEscaped escapes a HELP text (backslash, newline) or a label value
// (also the double quote) as the text format requires.
func appendEscaped(b []byte, s string, quote bool) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			b = append(b, `\\`...)
		case c == '\n':
			b = append(b, `\n`...)
		case c == '"' && quote:
			b = append(b, `\"`...)
		default:
			b = append(b, c)
		}
	}
	return b
}
