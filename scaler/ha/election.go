package ha

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"time"

	"go.uber.org/zap"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/utils/clock"
)

// Timing paces the election.
type Timing struct {
	// LeaseDuration is how long a follower waits, from the Lease's last
	// renewal, before it takes the Lease over.
	LeaseDuration time.Duration
	// RenewDeadline is how long a leader that cannot renew keeps leading.
	RenewDeadline time.Duration
	// RetryPeriod is how often every replica reads (a follower) or renews
	// (the leader) the Lease.
	RetryPeriod time.Duration
}

// DefaultTiming is kube-controller-manager's: a dead leader is replaced
// within LeaseDuration + RetryPeriod (17 s) of its death.
var DefaultTiming = Timing{LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second}

// slack bounds how long before a read's reply the Lease it returns may
// have been written, when the read before it returned another Lease: two
// reads a retry period apart, the second answered within a quarter of one.
func (t Timing) slack() time.Duration { return t.RetryPeriod + t.RetryPeriod/4 }

// Validate checks that a leader cut off from the API server stops leading
// before any follower can take its Lease over.
func (t Timing) Validate() error {
	switch {
	case t.RetryPeriod <= 0:
		return fmt.Errorf("retry period %s: must be positive", t.RetryPeriod)
	case t.RenewDeadline < 2*t.RetryPeriod:
		return fmt.Errorf("renew deadline %s: must be at least two retry periods (%s), so that a leader gets a second try", t.RenewDeadline, 2*t.RetryPeriod)
	case t.LeaseDuration < t.RenewDeadline+2*t.RetryPeriod:
		return fmt.Errorf("lease duration %s: must be at least the renew deadline plus two retry periods (%s), or a follower could take over while the leader still acts",
			t.LeaseDuration, t.RenewDeadline+2*t.RetryPeriod)
	}
	return nil
}

// Elector campaigns for a Lease, read and written through client-go's
// resource lock (the record every Kubernetes controller writes).
//
// client-go's own elector dates a renewal by the moment it first reads it;
// its tries are jittered to 1–2.2 retry periods, so a follower may read the
// dead leader's last renewal 2.2 retry periods late and take the Lease up to
// 2.2 more after it expired: LeaseDuration + 4.4 × RetryPeriod in all. This
// elector reads on a fixed period and dates a renewal by the read before the
// one that showed it (the renewal came after that read), so it takes the
// Lease at most LeaseDuration + RetryPeriod after the leader's last write.
// That earlier date is safe because the two reads are at most slack apart,
// and Validate keeps LeaseDuration > RenewDeadline + slack: the leader has
// stopped before its Lease is taken, as with client-go.
type Elector struct {
	lock   resourcelock.Interface
	timing Timing
	clock  clock.WithTicker
	log    *zap.Logger

	// A follower's view: the Lease as last read, when that read was sent,
	// and from when the Lease may be taken over if it stays as it is.
	observed   []byte
	observedAt time.Time
	expires    time.Time

	// A leader's: when it sent its last write that succeeded.
	leading   bool
	renewedAt time.Time
}

// NewElector returns an elector for lock, or an error if timing is unsafe.
func NewElector(lock resourcelock.Interface, timing Timing, clk clock.WithTicker, log *zap.Logger) (*Elector, error) {
	if err := timing.Validate(); err != nil {
		return nil, err
	}
	return &Elector{lock: lock, timing: timing, clock: clk, log: log}, nil
}

// Leading tells whether this replica held the Lease at its last try.
func (e *Elector) Leading() bool { return e.leading }

// Run campaigns until ctx ends or the Lease is lost. From the moment this
// replica holds the Lease, lead runs in its own goroutine with a context
// that ends when it stops holding it. Run reports whether the Lease was
// lost; a replica that lost it must stop acting at once. When ctx ends
// while leading, Run waits up to a retry period for lead to return, then
// releases the Lease so that a follower takes over at its next read.
func (e *Elector) Run(ctx context.Context, lead func(context.Context)) (lost bool) {
	ticker := e.clock.NewTicker(e.timing.RetryPeriod)
	defer ticker.Stop()
	leadCtx, stopLead := context.WithCancel(ctx)
	defer stopLead()
	leadDone := make(chan struct{})
	for {
		was := e.leading
		now := e.try(ctx)
		switch {
		case now && !was:
			e.log.Info("took the Lease", zap.String("identity", e.lock.Identity()))
			go func() {
				defer close(leadDone)
				lead(leadCtx)
			}()
		case was && !now:
			stopLead()
			if ctx.Err() != nil {
				return false
			}
			e.log.Error("lost the Lease", zap.String("identity", e.lock.Identity()))
			return true
		}
		var deadline <-chan time.Time
		if e.leading {
			deadline = e.clock.After(e.renewedAt.Add(e.timing.RenewDeadline).Sub(e.clock.Now()))
		}
		select {
		case <-ctx.Done():
			if !e.leading {
				return false
			}
			stopLead()
			select {
			case <-leadDone:
				e.release()
			case <-e.clock.After(e.timing.RetryPeriod):
				e.log.Warn("still leading a retry period after shutdown began: the Lease is left to expire")
			}
			return false
		case <-ticker.C():
		case <-deadline:
		}
	}
}

// try makes one attempt: a leader renews the Lease, a follower reads it and
// takes it if it is free or expired. It reports whether this replica leads.
func (e *Elector) try(ctx context.Context) bool {
	if e.leading {
		e.leading = e.renew(ctx)
	} else {
		e.leading = e.acquire(ctx)
	}
	return e.leading
}

func (e *Elector) acquire(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, e.timing.RetryPeriod)
	defer cancel()
	sent := e.clock.Now()
	rec, raw, err := e.lock.Get(ctx)
	if apierrors.IsNotFound(err) {
		return e.write(ctx, nil, sent)
	}
	if err != nil {
		e.log.Debug("cannot read the Lease", zap.Error(err))
		return false
	}
	if !bytes.Equal(raw, e.observed) {
		// Written after the read before this one (if that read returned
		// the Lease as it was before), and before this reply.
		from := e.clock.Now().Add(-e.timing.slack())
		if e.observed != nil && e.observedAt.After(from) {
			from = e.observedAt
		}
		lease := max(e.timing.LeaseDuration, time.Duration(rec.LeaseDurationSeconds)*time.Second)
		e.observed, e.expires = raw, from.Add(lease)
	}
	e.observedAt = sent
	free := rec.HolderIdentity == "" || rec.HolderIdentity == e.lock.Identity()
	if !free && sent.Before(e.expires) {
		return false
	}
	if !free {
		e.log.Info("the Lease expired", zap.String("holder", rec.HolderIdentity), zap.Time("renewed", rec.RenewTime.Time))
	}
	return e.write(ctx, rec, e.clock.Now())
}

// write makes this replica the holder of the Lease, over old (nil: create
// it). A write that races with another fails on the resource version.
func (e *Elector) write(ctx context.Context, old *resourcelock.LeaderElectionRecord, sent time.Time) bool {
	now := metav1.NewTime(sent)
	rec := resourcelock.LeaderElectionRecord{
		HolderIdentity:       e.lock.Identity(),
		LeaseDurationSeconds: int(math.Ceil(e.timing.LeaseDuration.Seconds())),
		AcquireTime:          now,
		RenewTime:            now,
	}
	var err error
	if old == nil {
		err = e.lock.Create(ctx, rec)
	} else {
		rec.LeaderTransitions = old.LeaderTransitions
		if old.HolderIdentity == rec.HolderIdentity {
			rec.AcquireTime = old.AcquireTime
		} else {
			rec.LeaderTransitions++
		}
		err = e.lock.Update(ctx, rec)
	}
	if err != nil {
		e.log.Debug("cannot write the Lease", zap.Error(err))
		return false
	}
	e.renewedAt = sent
	return true
}

func (e *Elector) renew(ctx context.Context) bool {
	deadline := e.renewedAt.Add(e.timing.RenewDeadline)
	left := deadline.Sub(e.clock.Now())
	if left <= 0 {
		e.log.Error("could not renew the Lease within the renew deadline", zap.Duration("deadline", e.timing.RenewDeadline))
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, left)
	defer cancel()
	rec, _, err := e.lock.Get(ctx)
	switch {
	case err != nil:
		e.log.Warn("cannot read the Lease to renew it", zap.Error(err))
	case rec.HolderIdentity != e.lock.Identity():
		e.log.Error("the Lease was taken over", zap.String("holder", rec.HolderIdentity))
		return false
	case e.write(ctx, rec, e.clock.Now()):
		return true
	}
	// Not renewed this time: still leading until the deadline.
	return e.clock.Now().Before(deadline)
}

// release hands the Lease over at once: an empty holder is free to take.
func (e *Elector) release() {
	ctx, cancel := context.WithTimeout(context.Background(), e.timing.RetryPeriod)
	defer cancel()
	rec, _, err := e.lock.Get(ctx)
	if err != nil || rec.HolderIdentity != e.lock.Identity() {
		return
	}
	now := metav1.NewTime(e.clock.Now())
	err = e.lock.Update(ctx, resourcelock.LeaderElectionRecord{
		LeaseDurationSeconds: 1, AcquireTime: now, RenewTime: now, LeaderTransitions: rec.LeaderTransitions,
	})
	if err != nil {
		e.log.Warn("cannot release the Lease: it will expire", zap.Error(err))
		return
	}
	e.leading = false
	e.log.Info("released the Lease")
}
