package simulate

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"go.uber.org/zap"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/policies"
	"github.com/primetime-dev/primetime/policies/config"
	"github.com/primetime-dev/primetime/scaler"
	"github.com/primetime-dev/primetime/sources"
)

// Strategy names a way of choosing replicas.
type Strategy string

// The strategies a simulation compares.
const (
	// StrategyPrimetime: primetime's engine (windows, forecast, tracking)
	// publishing to an HPA, or acting itself in scale mode.
	StrategyPrimetime Strategy = "primetime"
	// StrategyReactive: an HPA on the observed load, with the default
	// behaviour.
	StrategyReactive Strategy = "reactive"
	// StrategyStatic: the trace's peak need, all the time.
	StrategyStatic Strategy = "static"
	// StrategyOracle: perfect foresight, exactly the replicas needed,
	// started early enough to be ready.
	StrategyOracle Strategy = "oracle"
)

// Strategies lists every strategy, in report order.
var Strategies = []Strategy{StrategyPrimetime, StrategyReactive, StrategyStatic, StrategyOracle}

// ParseStrategy checks a strategy name.
func ParseStrategy(s string) (Strategy, error) {
	for _, v := range Strategies {
		if string(v) == s {
			return v, nil
		}
	}
	return "", fmt.Errorf("unknown strategy %q (want primetime, reactive, static or oracle)", s)
}

// Defaults of the models.
const (
	DefaultStartup     = 90 * time.Second
	DefaultMetricDelay = 60 * time.Second
	DefaultInterval    = 15 * time.Second
	DefaultHPASync     = 15 * time.Second
	// Step is the simulated clock's resolution.
	Step = time.Second
	// RecordEvery is the resolution of Result.Points.
	RecordEvery = 15 * time.Second
	// MaxSpan is the longest trace a simulation takes: a year and a bit
	// at 1 s steps is about 1 GB.
	MaxSpan = 400 * 24 * time.Hour
)

// Setup is one simulation: a trace, the target it is the load of, the
// windows, and the models' parameters. A zero Interval or HPASync takes
// the default; a zero Startup or MetricDelay is none.
type Setup struct {
	Trace   Trace
	Target  ground.Target
	Windows []ground.Window
	// Startup is how long a new pod takes to serve load.
	Startup time.Duration
	// MetricDelay is how late the load reaches primetime and the HPA
	// (Datadog: a minute or more).
	MetricDelay time.Duration
	// Interval is primetime's --interval.
	Interval time.Duration
	// HPASync is the HPA controller's sync period.
	HPASync time.Duration
	// PrimetimeHPA is the behaviour of the HPA that consumes primetime's
	// metric; default: the HPA's defaults with scaleUp.tolerance 0, as
	// primetime's documentation recommends.
	PrimetimeHPA *Behavior
	// ReactiveHPA is the behaviour of the reactive HPA; default: the
	// HPA's defaults.
	ReactiveHPA *Behavior
	// RecordEvery is the resolution of Result.Points (RecordEvery when 0).
	RecordEvery time.Duration
}

func (s *Setup) withDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&s.Interval, DefaultInterval)
	def(&s.HPASync, DefaultHPASync)
	def(&s.RecordEvery, RecordEvery)
	s.RecordEvery = max(s.RecordEvery.Truncate(Step), Step)
	if s.PrimetimeHPA == nil {
		b := DefaultBehavior()
		b.Up.Tolerance = 0
		s.PrimetimeHPA = &b
	}
	if s.ReactiveHPA == nil {
		b := DefaultBehavior()
		s.ReactiveHPA = &b
	}
}

// Point is the state of one strategy at one instant.
type Point struct {
	T        time.Time
	Load     float64
	Ready    int32
	Replicas int32
	// Desired and Floor are primetime's decision (0: none): what it
	// publishes, and its windows' floor.
	Desired, Floor int32
}

// Result is what one strategy did over the trace.
type Result struct {
	Strategy Strategy
	// Unserved is the load above ready capacity, integrated over time
	// (load unit × s: requests, for a load in requests per second).
	Unserved float64
	// UnservedInWindows is the part of Unserved inside announced windows
	// (start to end of the floor windows of the target).
	UnservedInWindows float64
	// UnservedByWindow is the unserved load inside each of
	// Report.Windows, in the same order.
	UnservedByWindow []float64
	// UnservedShare is Unserved over all the load of the trace.
	UnservedShare float64
	// UnderCapacity is how long the load was above ready capacity.
	UnderCapacity time.Duration
	// ReplicaHours counts every pod, ready or starting.
	ReplicaHours float64
	// PeakReplicas is the most pods at once.
	PeakReplicas int32
	// Points is the state every RecordEvery, for plots.
	Points []Point
	// Reports are the window reports primetime's engine wrote (the
	// primetime strategy only), in the order they were released.
	Reports []policies.WindowReport
}

// Announced is one occurrence of a floor window of the target.
type Announced struct {
	Name       string
	Start, End time.Time
	// steps [from, to) of the timeline inside the occurrence.
	from, to int
}

// Report is the outcome of a simulation.
type Report struct {
	Target    ground.TargetKey
	From, To  time.Time
	Setup     Setup
	TotalLoad float64 // the trace's load integrated over time
	// Windows lists the announced occurrences within the trace.
	Windows    []Announced
	WindowTime time.Duration
	Results    []Result
}

// controller chooses the workload's replicas as the simulated time goes.
type controller interface {
	advance(ctx context.Context, i int, now time.Time, w *Workload)
}

// timeline is what every strategy shares: the load at every step, the
// replicas it needs, and which steps are inside announced windows.
type timeline struct {
	start    time.Time
	load     []float64
	need     []int32
	inWindow []bool
	windows  []Announced
}

func (tl *timeline) at(i int) time.Time { return tl.start.Add(time.Duration(i) * Step) }

// Run simulates each strategy over the whole trace.
func Run(ctx context.Context, setup Setup, strategies []Strategy) (*Report, error) {
	setup.withDefaults()
	tr := setup.Trace
	if len(tr) < 2 {
		return nil, errors.New("the trace needs at least two rows")
	}
	if span := tr.End().Sub(tr.Start()); span > MaxSpan {
		return nil, fmt.Errorf("the trace spans %s, more than the %s a simulation (1 s steps) can hold; cut it", config.FormatDuration(span.Truncate(time.Hour)), config.FormatDuration(MaxSpan))
	}
	t := &setup.Target
	tl := newTimeline(&setup)
	rep := &Report{Target: t.Key(), From: tr.Start(), To: tr.End(), Setup: setup, Windows: tl.windows}
	for i, l := range tl.load {
		rep.TotalLoad += l * Step.Seconds()
		if tl.inWindow[i] {
			rep.WindowTime += Step
		}
	}
	for _, s := range strategies {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		initial := tl.need[0]
		var c controller
		switch s {
		case StrategyPrimetime:
			c = newPrimetime(&setup)
		case StrategyReactive:
			c = newReactive(&setup)
		case StrategyStatic:
			initial = clampReplicas(maxOf(tl.need), t)
			c = holdController{}
		case StrategyOracle:
			o := newOracle(tl, setup.Startup)
			initial, c = o.want[0], o // what the first instants need is ready
		default:
			return nil, fmt.Errorf("unknown strategy %q", s)
		}
		rep.Results = append(rep.Results, play(ctx, s, c, tl, NewWorkload(initial, setup.Startup, tl.start), t.CapacityPerReplica, rep.TotalLoad, setup.RecordEvery))
	}
	return rep, nil
}

func newTimeline(s *Setup) *timeline {
	tr := s.Trace
	t := &s.Target
	n := int(tr.End().Sub(tr.Start())/Step) + 1
	tl := &timeline{start: tr.Start(), load: make([]float64, n), need: make([]int32, n), inWindow: make([]bool, n)}
	for i := range n {
		l, _ := tr.LoadAt(tl.at(i))
		tl.load[i] = l
		tl.need[i] = clampReplicas(policies.ReplicasFor(l, t.CapacityPerReplica), t)
	}
	cal := policies.NewCalendar(s.Windows)
	for _, w := range cal.Matching(t.Key()) {
		if w.Quiet {
			continue
		}
		for _, o := range policies.Occurrences(w, tr.Start().Add(-w.Duration), tr.End()) {
			from := max(0, int(math.Ceil(float64(o.Start.Sub(tl.start))/float64(Step))))
			to := min(n, int(math.Ceil(float64(o.End.Sub(tl.start))/float64(Step))))
			if from >= to {
				continue
			}
			for i := from; i < to; i++ {
				tl.inWindow[i] = true
			}
			tl.windows = append(tl.windows, Announced{Name: w.Name, Start: o.Start, End: o.End, from: from, to: to})
		}
	}
	slices.SortStableFunc(tl.windows, func(a, b Announced) int { return a.Start.Compare(b.Start) })
	return tl
}

// play runs one controller over the timeline and measures it.
func play(ctx context.Context, s Strategy, c controller, tl *timeline, w *Workload, capacity, totalLoad float64, every time.Duration) Result {
	r := Result{Strategy: s, UnservedByWindow: make([]float64, len(tl.windows))}
	dt := Step.Seconds()
	short := make([]float64, len(tl.load))
	recordEvery := int(every / Step)
	decider, _ := c.(interface{ decided() (desired, floor int32) })

	var replicaSeconds float64
	for i := range tl.load {
		now := tl.at(i)
		c.advance(ctx, i, now, w)
		ready, replicas := w.Ready(now), w.Replicas()
		if s := tl.load[i] - float64(ready)*capacity; s > 1e-9 {
			short[i] = s * dt
			r.Unserved += short[i]
			r.UnderCapacity += Step
			if tl.inWindow[i] {
				r.UnservedInWindows += short[i]
			}
		}
		replicaSeconds += float64(replicas) * dt
		r.PeakReplicas = max(r.PeakReplicas, replicas)
		if i%recordEvery == 0 {
			pt := Point{T: now, Load: tl.load[i], Ready: ready, Replicas: replicas}
			if decider != nil {
				pt.Desired, pt.Floor = decider.decided()
			}
			r.Points = append(r.Points, pt)
		}
	}
	for k, w := range tl.windows {
		for _, v := range short[w.from:w.to] {
			r.UnservedByWindow[k] += v
		}
	}
	if rc, ok := c.(interface {
		windowReports() []policies.WindowReport
	}); ok {
		r.Reports = rc.windowReports()
	}
	r.ReplicaHours = replicaSeconds / 3600
	if totalLoad > 0 {
		r.UnservedShare = r.Unserved / totalLoad
	}
	return r
}

// holdController never changes the replicas (static).
type holdController struct{}

func (holdController) advance(context.Context, int, time.Time, *Workload) {}

// oracle runs, at every instant, the most replicas needed over the next
// start-up delay: a pod needed at t must exist from t-startup, and no
// fewer pods can serve the trace.
type oracle struct{ want []int32 }

func newOracle(tl *timeline, startup time.Duration) *oracle {
	return &oracle{want: slidingMaxAhead(tl.need, int(startup/Step))}
}

func (o *oracle) advance(_ context.Context, i int, now time.Time, w *Workload) {
	if w.Replicas() != o.want[i] {
		w.Scale(o.want[i], now)
	}
}

// slidingMaxAhead returns, for each i, the maximum of v[i..i+span].
func slidingMaxAhead(v []int32, span int) []int32 {
	out := make([]int32, len(v))
	var dq []int // indices of v, values decreasing
	for i := len(v) - 1; i >= 0; i-- {
		for len(dq) > 0 && v[dq[len(dq)-1]] <= v[i] {
			dq = dq[:len(dq)-1]
		}
		dq = append(dq, i)
		for dq[0] > i+span {
			dq = dq[1:]
		}
		out[i] = v[dq[0]]
	}
	return out
}

// reactive is an HPA on the observed load: External metric of type
// AverageValue at capacityPerReplica, read late by the metric delay.
type reactive struct {
	hpa   HPA
	trace Trace
	delay time.Duration
	sync  time.Duration
	next  time.Time
}

func newReactive(s *Setup) *reactive {
	return &reactive{
		hpa:   HPA{Min: max(s.Target.MinReplicas, 1), Max: s.Target.MaxReplicas, Target: s.Target.CapacityPerReplica, Behavior: *s.ReactiveHPA},
		trace: s.Trace, delay: s.MetricDelay, sync: s.HPASync,
	}
}

func (r *reactive) observed(now time.Time) ground.Opt[float64] {
	if v, ok := r.trace.LoadAt(now.Add(-r.delay)); ok {
		return ground.Some(v)
	}
	return ground.None[float64]()
}

func (r *reactive) advance(_ context.Context, _ int, now time.Time, w *Workload) {
	if now.Before(r.next) {
		return
	}
	r.next = now.Add(r.sync)
	w.Scale(r.hpa.Sync(now, r.observed(now), w.Replicas()), now)
}

// primetime is the daemon's composition on the simulated clock: a poller
// fetching the trace source on its kind's timing, the forecast history
// refreshed as in serve, the engine evaluating every interval and on new
// readings, and the board the HPA reads. In scale mode primetime sets the
// replicas itself; in hpa-floor mode a reactive HPA runs with its
// minReplicas raised to the floor.
type primetime struct {
	target  *ground.Target
	src     *traceSource
	poller  *sources.Poller
	history *scaler.HistoryCache
	engine  *scaler.Engine
	board   *scaler.Board
	current *workloadReplicas
	hpa     *HPA      // metric mode: on primetime_replicas
	floor   *reactive // hpa-floor mode

	pollEvery, interval, sync    time.Duration
	nextPoll, nextCycle, nextHPA time.Time
	nextHistory                  time.Time
	lastFloor                    ground.Opt[int32]
	lastDesired                  ground.Opt[int32]
	reports                      reportList
}

// decided returns the last decision's desired replicas and floor (0: none).
func (p *primetime) decided() (desired, floor int32) {
	return p.lastDesired.Or(0), p.lastFloor.Or(0)
}

// staticConfig is a configuration that never changes.
type staticConfig struct{ snap *ground.Snapshot }

func (c staticConfig) Snapshot() *ground.Snapshot { return c.snap }

// workloadReplicas tells the engine the simulated workload's replicas,
// and those ready at now.
type workloadReplicas struct {
	w   *Workload
	now time.Time
}

var _ scaler.ReadyReader = (*workloadReplicas)(nil)

func (r *workloadReplicas) Current(*ground.Target) ground.Opt[int32] {
	if r.w == nil {
		return ground.None[int32]()
	}
	return ground.Some(r.w.Replicas())
}

// ReadyReplicas implements scaler.ReadyReader.
func (r *workloadReplicas) ReadyReplicas(*ground.Target) ground.Opt[int32] {
	if r.w == nil {
		return ground.None[int32]()
	}
	return ground.Some(r.w.Ready(r.now))
}

func newPrimetime(s *Setup) *primetime {
	t := s.Target
	kind := t.Load.Kind()
	every, maxAge := sources.DefaultTiming(kind, s.Interval)
	p := &primetime{
		target:    &s.Target,
		src:       &traceSource{kind: kind, trace: s.Trace, delay: s.MetricDelay},
		poller:    sources.NewPoller(sources.NewCache()),
		board:     &scaler.Board{},
		current:   &workloadReplicas{},
		pollEvery: every, interval: s.Interval, sync: s.HPASync,
	}
	p.poller.Register(sources.Registration{Source: p.src, Interval: every, MaxAge: maxAge})
	p.history = &scaler.HistoryCache{Poller: p.poller, Horizon: scaler.HistoryHorizon, Log: zap.NewNop()}
	snap := &ground.Snapshot{Version: 1, Targets: []ground.Target{t}, Windows: s.Windows, ValidTargets: 1, ValidWindows: len(s.Windows)}
	p.engine = &scaler.Engine{
		Interval: s.Interval, Config: staticConfig{snap}, Poller: p.poller,
		Replicas: p.current, History: p.history, Board: p.board, Reports: &p.reports,
	}
	switch t.Mode {
	case ground.ModeHPAFloor:
		p.floor = newReactive(s)
	case ground.ModeScale:
	default:
		p.hpa = &HPA{Min: max(t.MinReplicas, 1), Max: t.MaxReplicas, Target: 1, Behavior: *s.PrimetimeHPA}
	}
	return p
}

func (p *primetime) advance(ctx context.Context, _ int, now time.Time, w *Workload) {
	p.current.w, p.current.now = w, now
	p.src.setNow(now)
	if !now.Before(p.nextHistory) {
		p.nextHistory = now.Add(scaler.HistoryRefresh)
		p.history.Refresh(ctx, []ground.Target{*p.target}, now)
	}
	polled := false
	if !now.Before(p.nextPoll) {
		p.nextPoll = now.Add(p.pollEvery)
		p.poller.Refresh(ctx, p.src.kind, now)
		polled = true
	}
	if polled || !now.Before(p.nextCycle) {
		p.nextCycle = now.Add(p.interval)
		decisions := p.engine.Cycle(ctx, now)
		p.lastFloor, p.lastDesired = decisions[0].Schedule.Floor, decisions[0].Desired
		if p.hpa == nil && p.floor == nil {
			if v, ok := p.published(); ok && v != w.Replicas() {
				w.Scale(v, now) // scale mode: /scale written at once
			}
		}
	}
	switch {
	case p.floor != nil:
		p.floor.hpa.Min = max(p.target.MinReplicas, 1)
		if p.lastFloor.OK {
			p.floor.hpa.Min = min(max(p.lastFloor.V, p.floor.hpa.Min), p.floor.hpa.Max)
		}
		p.floor.advance(ctx, 0, now, w)
	case p.hpa != nil && !now.Before(p.nextHPA):
		p.nextHPA = now.Add(p.sync)
		metric := ground.None[float64]()
		if v, ok := p.published(); ok {
			metric = ground.Some(float64(v))
		}
		w.Scale(p.hpa.Sync(now, metric, w.Replicas()), now)
	}
}

// reportList collects window reports.
type reportList []policies.WindowReport

// Report keeps r.
func (l *reportList) Report(r policies.WindowReport) { *l = append(*l, r) }

// windowReports returns the reports written.
func (p *primetime) windowReports() []policies.WindowReport { return p.reports }

// published is primetime_replicas as the external metrics API serves it.
func (p *primetime) published() (int32, bool) {
	sel := labels.SelectorFromSet(labels.Set{"target": p.target.Name})
	for _, e := range p.board.Lookup(p.target.Namespace, sel) {
		if e.Replicas != nil {
			return *e.Replicas, true
		}
	}
	return 0, false
}

func clampReplicas(v int32, t *ground.Target) int32 {
	return min(max(v, t.MinReplicas), t.MaxReplicas)
}

func maxOf(v []int32) int32 {
	var m int32
	for _, x := range v {
		m = max(m, x)
	}
	return m
}
