package ha

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// Timing paces the election, as kube-controller-manager's flags name it.
type Timing struct {
	// LeaseDuration is how long a follower waits, from the last renewal it
	// saw, before it takes the Lease over.
	LeaseDuration time.Duration
	// RenewDeadline is how long a leader that cannot renew keeps leading.
	RenewDeadline time.Duration
	// RetryPeriod is how often replicas try to acquire or renew the Lease.
	RetryPeriod time.Duration
}

// DefaultTiming is kube-controller-manager's.
var DefaultTiming = Timing{LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second}

// Validate applies client-go's rules: a lease longer than the renew
// deadline, itself longer than a jittered retry.
func (t Timing) Validate() error {
	switch {
	case t.RetryPeriod <= 0:
		return fmt.Errorf("--leader-elect-retry-period %s: must be positive", t.RetryPeriod)
	case float64(t.RenewDeadline) <= leaderelection.JitterFactor*float64(t.RetryPeriod):
		return fmt.Errorf("--leader-elect-renew-deadline %s: must be longer than %.1f retry periods (%s)", t.RenewDeadline,
			leaderelection.JitterFactor, time.Duration(leaderelection.JitterFactor*float64(t.RetryPeriod)))
	case t.LeaseDuration <= t.RenewDeadline:
		return fmt.Errorf("--leader-elect-lease-duration %s: must be longer than the renew deadline (%s)", t.LeaseDuration, t.RenewDeadline)
	}
	return nil
}

// WorstTakeover is how long after a dead leader's last renewal a follower
// leads at the latest with client-go's elector: a follower dates a renewal
// by the try that sees it, and its tries are a retry period apart plus a
// jitter of up to JitterFactor (1.2) of one; it takes the Lease at its
// first try a lease duration after that date.
func (t Timing) WorstTakeover() time.Duration {
	try := time.Duration((1 + leaderelection.JitterFactor) * float64(t.RetryPeriod))
	return t.LeaseDuration + 2*try
}

// Identity returns a leader election identity unique to this process: the
// pod's name (POD_NAME, else the host name) and a random suffix, so that
// two pods with hostNetwork, or a pod restarted in place, never share one.
func Identity() string {
	name := os.Getenv("POD_NAME")
	if name == "" {
		name, _ = os.Hostname()
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return name + "_" + hex.EncodeToString(b)
}

// Election campaigns for primetime's Lease with client-go's LeaderElector,
// on a clientset of its own (its renewals never wait behind the daemon's
// other requests). While this replica leads, the lead function runs with
// the Lease's transition count as its epoch; when it stops leading (lost
// Lease or shutdown) the lead function's context ends. The lead function
// is awaited before the Lease is released, so that the next leader never
// overlaps with this one's last writes; a follower that sees the Lease
// released tries at once instead of at its next jittered retry.
type Election struct {
	// Client is the election's own clientset.
	Client    kubernetes.Interface
	Namespace string
	Identity  string
	Timing    Timing
	// Healthz, when set, fails /healthz while this replica holds the
	// Lease without having renewed it for a while (client-go's adaptor).
	Healthz *leaderelection.HealthzAdaptor
	Log     *zap.Logger

	mu      sync.Mutex
	leading bool
}

// Leading reports whether this replica holds the Lease.
func (e *Election) Leading() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.leading
}

// Run campaigns until ctx ends or the Lease is lost, and reports whether it
// was lost (a replica that lost it must stop at once: its caller exits).
func (e *Election) Run(ctx context.Context, lead func(ctx context.Context, epoch int64)) (lost bool, err error) {
	if err := e.Timing.Validate(); err != nil {
		return false, err
	}
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Name: LeaseName, Namespace: e.Namespace},
		Client:     e.Client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: e.Identity},
	}
	released := e.watchReleases(ctx)
	for {
		campaign, stop := context.WithCancel(context.Background())
		var led atomic.Bool
		leadDone := make(chan struct{})
		elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock: lock, Name: "primetime",
			LeaseDuration: e.Timing.LeaseDuration, RenewDeadline: e.Timing.RenewDeadline, RetryPeriod: e.Timing.RetryPeriod,
			// Released by Run once the lead function has returned, not by
			// client-go, which releases before it ends the leader's context.
			ReleaseOnCancel: false,
			WatchDog:        e.Healthz,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(leaseCtx context.Context) {
					defer close(leadDone)
					led.Store(true)
					e.setLeading(true)
					epoch, holder := e.epoch(leaseCtx)
					if holder != e.Identity && holder != "" {
						// Paused between taking the Lease and now: another
						// replica leads. Acting would fence it; the elector
						// finds the loss at its next renewal.
						e.Log.Warn("took the Lease, but it is now held by another replica: not leading", zap.String("identity", e.Identity), zap.String("holder", holder))
						select {
						case <-leaseCtx.Done():
						case <-ctx.Done():
						}
						return
					}
					e.Log.Info("took the Lease", zap.String("identity", e.Identity), zap.Int64("epoch", epoch))
					work, cancel := context.WithCancel(leaseCtx)
					defer cancel()
					stopWork := context.AfterFunc(ctx, cancel) // shutdown: stop the work first
					defer stopWork()
					lead(work, epoch)
				},
				OnStoppedLeading: func() { e.setLeading(false) },
			},
		})
		if err != nil {
			stop()
			return false, err
		}
		if e.Healthz != nil {
			e.Healthz.SetLeaderElection(elector)
		}
		done := make(chan struct{})
		go func() { defer close(done); elector.Run(campaign) }()
		shutdown := false
	wait:
		for {
			select {
			case <-ctx.Done():
				// Stop leading, wait for the lead function to return, then
				// let the elector release the Lease (ReleaseOnCancel).
				shutdown = true
				if led.Load() {
					<-leadDone
				}
				break wait
			case <-released:
				if !led.Load() {
					break wait // the Lease is free: campaign again at once
				}
			case <-done:
				break wait
			}
		}
		stop()
		<-done
		if led.Load() {
			<-leadDone // it returns once its Lease context ends
			e.release(lock)
		}
		switch {
		case shutdown || ctx.Err() != nil:
			return false, nil
		case led.Load():
			e.Log.Error("lost the Lease", zap.String("identity", e.Identity))
			return true, nil
		}
		// A follower that saw the Lease released campaigns again at once.
	}
}

func (e *Election) setLeading(v bool) {
	e.mu.Lock()
	e.leading = v
	e.mu.Unlock()
}

// release hands the Lease over at once (holder emptied), if this replica
// still holds it: the next leader need not wait for it to expire.
func (e *Election) release(lock resourcelock.Interface) {
	ctx, cancel := context.WithTimeout(context.Background(), e.Timing.RenewDeadline)
	defer cancel()
	rec, _, err := lock.Get(ctx)
	if err != nil || rec.HolderIdentity != e.Identity {
		return
	}
	now := metav1.NewTime(time.Now())
	err = lock.Update(ctx, resourcelock.LeaderElectionRecord{
		LeaderTransitions: rec.LeaderTransitions, LeaseDurationSeconds: 1, AcquireTime: now, RenewTime: now,
	})
	if err != nil {
		e.Log.Warn("cannot release the Lease: it expires on its own", zap.Error(err))
		return
	}
	e.Log.Info("released the Lease", zap.String("identity", e.Identity))
}

// epoch reads the Lease's transition count and holder once this replica
// holds it ("" when unknown). It reads the Lease itself, not through the
// elector's lock, which caches the last record unguarded while the
// elector renews it.
func (e *Election) epoch(ctx context.Context) (epoch int64, holder string) {
	l, err := e.Client.CoordinationV1().Leases(e.Namespace).Get(ctx, LeaseName, metav1.GetOptions{})
	if err != nil {
		e.Log.Warn("cannot read the Lease's transitions; the term follows the state's epoch", zap.Error(err))
		return 0, ""
	}
	if l.Spec.HolderIdentity != nil {
		holder = *l.Spec.HolderIdentity
	}
	if l.Spec.LeaseTransitions == nil {
		return 0, holder
	}
	return int64(*l.Spec.LeaseTransitions), holder
}

// watchReleases signals, while this replica follows, each time the Lease
// is released (holder emptied by a leader that shut down).
func (e *Election) watchReleases(ctx context.Context) <-chan struct{} {
	out := make(chan struct{}, 1)
	factory := informers.NewSharedInformerFactoryWithOptions(e.Client, time.Minute, informers.WithNamespace(e.Namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", LeaseName).String()
		}))
	inf := factory.Coordination().V1().Leases().Informer()
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(_, obj any) {
			l, ok := obj.(*coordinationv1.Lease)
			if !ok || (l.Spec.HolderIdentity != nil && *l.Spec.HolderIdentity != "") {
				return
			}
			select {
			case out <- struct{}{}:
			default:
			}
		},
	})
	factory.Start(ctx.Done())
	return out
}
