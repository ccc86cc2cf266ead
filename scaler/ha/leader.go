package ha

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/scaler"
	"github.com/primetime-dev/primetime/scaler/configwatch"
	"github.com/primetime-dev/primetime/sources"
)

// Actuator is what the leader runs of the actuator: Resume takes over
// which targets had a window floor in force when the last leader stopped
// (so that no Event is repeated), Run writes what the engine's decisions
// need until the lead ends.
type Actuator interface {
	Resume(ctx context.Context, handedOver map[ground.TargetKey]bool)
	Run(ctx context.Context)
}

// ConfigMemory is the part of the configuration store a leader drives
// (configwatch.Store).
type ConfigMemory interface {
	Memory() configwatch.Memory
	Restore(configwatch.Memory)
	StartReporting()
	StopReporting()
}

// Leader is what a replica does while it holds the Lease, in order:
// import the state the previous leader handed over (decisions and latched
// baselines), resume the floors it raised, start the sources and the
// forecast history refresh, evaluate once the sources had one round, then
// evaluate, act and hand the decisions over every cycle. Run returns only
// once every goroutine it started has stopped: a replica that lost the
// Lease makes no write after Run returns, and none in a cycle that begins
// after the loss.
type Leader struct {
	Identity string
	// Namespace holds the state ConfigMap.
	Namespace string
	Client    kubernetes.Interface
	Config    scaler.ConfigSource
	Engine    *scaler.Engine
	Poller    *sources.Poller
	History   *scaler.HistoryCache // optional
	Actuator  Actuator             // optional
	Board     *scaler.Board
	Metrics   *scaler.Metrics // optional
	// Store, when set, is told to record InvalidEntry Events while this
	// replica leads, and its Memory goes with the handed-over state.
	Store ConfigMemory
	// Reports, when set, are the window reports kept: handed over and
	// taken over with the state.
	Reports *scaler.ReportBook
	// Interval is the evaluation interval (--interval).
	Interval time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Recorder, when set, records a StateUnreadable Event on a state
	// ConfigMap the leader cannot read.
	Recorder record.EventRecorder
	Log      *zap.Logger

	leading atomic.Bool
}

// Leading reports whether Run is running.
func (l *Leader) Leading() bool { return l.leading.Load() }

// Ready reports whether this replica leads and has evaluated at least once.
func (l *Leader) Ready() bool { return l.Leading() && l.Engine.Cycles() > 0 }

func (l *Leader) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

// Run leads until ctx ends. Its term is epoch (the Lease's transition
// count, 0 without an election) or, when the state handed over is of a
// later epoch, the one after it: a new term (the Lease deleted or reset,
// leader election switched off or on, one replica instead of two) never
// fences itself at its start. Run returns ErrFenced, having stopped
// everything, when a leader of a later term wrote the state while this
// one led: this replica must not act any more.
func (l *Leader) Run(ctx context.Context, epoch int64) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	l.leading.Store(true)
	l.Metrics.SetLeader(true)
	defer func() { l.leading.Store(false); l.Metrics.SetLeader(false) }()
	epoch = l.takeOver(ctx, epoch)
	l.Log.Info("leading", zap.String("identity", l.Identity), zap.Int64("epoch", epoch))
	if l.Store != nil {
		l.Store.StartReporting()
		defer l.Store.StopReporting()
	}
	l.Engine.SyncConfig()

	var wg sync.WaitGroup
	defer wg.Wait()
	kinds := l.Poller.Kinds()
	var firstRound sync.WaitGroup
	firstRound.Add(len(kinds))
	for _, kind := range kinds {
		wg.Go(func() { l.Poller.Run(ctx, kind, l.now, firstRound.Done) })
	}
	if l.History != nil {
		wg.Go(func() { l.refreshHistory(ctx) })
	}
	if l.Actuator != nil {
		wg.Go(func() { l.Actuator.Run(ctx) })
	}
	// The first evaluation waits for one round of every source, so that it
	// decides on data, but never longer than an interval.
	sourcesDone := make(chan struct{})
	go func() { firstRound.Wait(); close(sourcesDone) }()
	wait := time.NewTimer(l.Interval)
	select {
	case <-ctx.Done():
		wait.Stop()
		return context.Cause(ctx)
	case <-sourcesDone:
	case <-wait.C:
		l.Log.Info("a source had no answer within an interval: evaluating without it")
	}
	wait.Stop()
	p := publisher{l: l, changes: -1, epoch: epoch, fence: cancel}
	l.Engine.Run(ctx, l.now, func(now time.Time) { p.publish(ctx, now) })
	wg.Wait()
	if err := context.Cause(ctx); errors.Is(err, ErrFenced) {
		return err
	}
	return nil
}

// takeOver imports the state the previous leader handed over and returns
// this leader's term: epoch, or the state's epoch + 1 when that is later.
// A state it cannot read is reported (a log line, a StateUnreadable Event
// on its ConfigMap) and left for this leader's first write to replace:
// it starts from what it can read, the HPAs' annotations among them.
func (l *Leader) takeOver(ctx context.Context, epoch int64) int64 {
	st, written, err := loadWithEpoch(ctx, l.Client, l.Namespace)
	if err != nil {
		l.Log.Warn("cannot read the previous leader's state: starting without it", zap.Error(err))
		l.unreadableState(ctx, err)
		st = nil
	}
	// The state's epoch is its ConfigMap's annotation (what writes are
	// fenced by), known even when the state cannot be decoded.
	sameTermByAnother := written == epoch && (err != nil || (st != nil && st.Leader != l.Identity))
	if written > epoch || sameTermByAnother {
		l.Log.Info("the state handed over is of this epoch or a later one (a Lease deleted or reset, leader election switched, another format): this term follows it",
			zap.Int64("stateEpoch", written), zap.Int64("leaseEpoch", epoch))
		epoch = written + 1
	}
	floors := map[ground.TargetKey]bool{}
	if st != nil {
		l.Engine.ImportBaselines(st.Baselines)
		l.Engine.ImportLessons(st.Lessons)
		if l.Reports != nil {
			l.Reports.Merge(st.Reports)
			l.Reports.MergeAdvice(st.LeadAdvice)
		}
		if l.Store != nil {
			l.Store.Restore(st.Config)
		}
		for _, p := range st.Decisions {
			floors[ground.TargetKey{Namespace: p.Namespace, Name: p.Name}] = p.Floor
		}
		l.Log.Info("took over the previous leader's state", zap.String("previous", st.Leader), zap.Time("at", st.At), zap.Int("baselines", len(st.Baselines)), zap.Int("lessons", len(st.Lessons)))
	}
	if l.Actuator != nil {
		l.Actuator.Resume(ctx, floors)
	}
	return epoch
}

// unreadableState records a StateUnreadable Event on the state ConfigMap,
// when there is one to record it on.
func (l *Leader) unreadableState(ctx context.Context, err error) {
	if l.Recorder == nil {
		return
	}
	cm, gerr := l.Client.CoreV1().ConfigMaps(l.Namespace).Get(ctx, StateName, metav1.GetOptions{})
	if gerr != nil {
		return
	}
	l.Recorder.Eventf(cm, corev1.EventTypeWarning, "StateUnreadable",
		"leader %s cannot read the state handed over (%v): it starts without it (baselines are latched again, lessons and reports start empty) and writes a new one", l.Identity, err)
}

// refreshHistory refreshes the forecast history spread over time: every
// target when the lead starts, then one share of them every
// HistoryRefresh/HistoryShares, so that each target's history is refreshed
// once per HistoryRefresh and a rate-limited source (Datadog) gets its
// history calls spread over the period rather than at once.
func (l *Leader) refreshHistory(ctx context.Context) {
	t := time.NewTicker(scaler.HistoryRefresh / scaler.HistoryShares)
	defer t.Stop()
	for {
		l.History.Spread(ctx, l.Config.Snapshot().Targets, l.now())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// publisher hands the decisions to the followers: at once when one
// changed (a leader killed right after a change must not leave them
// serving the old value), else once an interval, however often the leader
// evaluates.
type publisher struct {
	l       *Leader
	at      time.Time
	changes int64
	epoch   int64
	fence   context.CancelCauseFunc
}

func (p *publisher) publish(ctx context.Context, now time.Time) {
	l := p.l
	changes := l.Engine.Changes()
	if ctx.Err() != nil || (changes == p.changes && now.Sub(p.at) < l.Interval*9/10) {
		return
	}
	p.at, p.changes = now, changes
	st := &State{At: now, Leader: l.Identity, Epoch: p.epoch, Decisions: l.Board.All(), Latched: l.Engine.RangeBaselines, Lessons: l.Engine.ExportLessons()}
	if l.Reports != nil {
		st.Reports, st.LeadAdvice = l.Reports.Records(), l.Reports.Advice()
	}
	if l.Store != nil {
		st.Config = l.Store.Memory()
	}
	err := Publish(ctx, l.Client, l.Namespace, st)
	switch {
	case errors.Is(err, ErrFenced):
		l.Log.Error("a leader of a later term wrote the state: this replica stops acting", zap.Error(err))
		p.fence(err)
	case errors.Is(err, ErrBaselinesLeftOut):
		l.Log.Warn("decisions handed to the followers without the latched baselines: a new leader would take them again from the load before each floor", zap.Error(err))
	case err != nil && ctx.Err() == nil:
		l.Log.Warn("cannot hand the decisions to the followers", zap.Error(err))
	}
}

// ReadyCheck returns the readiness check of a replica: why it cannot
// serve, or nil when it can. The configuration must be loaded; a leader
// must have evaluated once; a follower must have received the leader's
// decisions less than maxAge ago by its own clock (older, the external
// metrics API would only answer errors: another replica should serve);
// a replica shutting down is not ready, so that it leaves its Service
// before it stops.
func (l *Leader) ReadyCheck(configSynced func() bool, f *Follower, maxAge time.Duration, stopping func() bool) func() error {
	return func() error {
		switch {
		case stopping():
			return errors.New("shutting down")
		case !configSynced():
			return errors.New("configuration not loaded yet")
		case l.Leading() && !l.Ready():
			return errors.New("leading, no evaluation yet")
		case !l.Leading() && !(f.Synced() && l.Board.Ready()):
			return errors.New("no decision of the leader received yet")
		case !l.Leading() && !f.Fresh(maxAge):
			return fmt.Errorf("the leader's decisions are older than %s", maxAge)
		}
		return nil
	}
}
