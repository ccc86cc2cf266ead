package ha

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/utils/clock"
	testingclock "k8s.io/utils/clock/testing"
)

// leaseServer holds one Lease as the API server does: a write must carry
// the resource version its client last read.
type leaseServer struct {
	mu      sync.Mutex
	clk     clock.Clock
	rec     *resourcelock.LeaderElectionRecord
	version int
	writes  []write
}

// write is a write that reached the server.
type write struct {
	at     time.Time
	holder string
}

var leases = schema.GroupResource{Group: "coordination.k8s.io", Resource: "leases"}

// fakeLock is one replica's client of a leaseServer.
type fakeLock struct {
	srv     *leaseServer
	id      string
	version int
	// down cuts the replica off: every call fails.
	down bool
	// latency: a call reaches the server after half of it and is answered
	// after all of it (the test's clock is stepped meanwhile).
	latency time.Duration
	// failRead tells whether the n-th read (from 1) fails.
	failRead func(n int) bool
	reads    int
}

var _ resourcelock.Interface = (*fakeLock)(nil)

func (l *fakeLock) call(step func(time.Duration), f func() error) error {
	if l.down {
		return errors.New("dial tcp 127.0.0.1:6443: connect: connection refused")
	}
	step(l.latency / 2)
	l.srv.mu.Lock()
	err := f()
	l.srv.mu.Unlock()
	step(l.latency - l.latency/2)
	return err
}

func (l *fakeLock) step(d time.Duration) {
	if fc, ok := l.srv.clk.(*testingclock.FakeClock); ok && d > 0 {
		fc.Step(d)
	}
}

func (l *fakeLock) Get(context.Context) (*resourcelock.LeaderElectionRecord, []byte, error) {
	l.reads++
	if l.failRead != nil && l.failRead(l.reads) {
		return nil, nil, errors.New("the server was unable to return a response in the time allotted")
	}
	var rec resourcelock.LeaderElectionRecord
	err := l.call(l.step, func() error {
		if l.srv.rec == nil {
			return apierrors.NewNotFound(leases, LeaseName)
		}
		rec, l.version = *l.srv.rec, l.srv.version
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	raw, err := json.Marshal(rec)
	return &rec, raw, err
}

func (l *fakeLock) Create(_ context.Context, rec resourcelock.LeaderElectionRecord) error {
	return l.call(l.step, func() error {
		if l.srv.rec != nil {
			return apierrors.NewAlreadyExists(leases, LeaseName)
		}
		return l.srv.put(rec, &l.version)
	})
}

func (l *fakeLock) Update(_ context.Context, rec resourcelock.LeaderElectionRecord) error {
	return l.call(l.step, func() error {
		if l.version != l.srv.version {
			return apierrors.NewConflict(leases, LeaseName, errors.New("the object has been modified"))
		}
		return l.srv.put(rec, &l.version)
	})
}

func (s *leaseServer) put(rec resourcelock.LeaderElectionRecord, version *int) error {
	s.rec = &rec
	s.version++
	*version = s.version
	s.writes = append(s.writes, write{at: s.clk.Now(), holder: rec.HolderIdentity})
	return nil
}

func (l *fakeLock) RecordEvent(string) {}
func (l *fakeLock) Identity() string   { return l.id }
func (l *fakeLock) Describe() string   { return "primetime/" + LeaseName }

// lastWriteBy is when holder last wrote the Lease.
func (s *leaseServer) lastWriteBy(holder string) time.Time {
	for i := len(s.writes) - 1; i >= 0; i-- {
		if s.writes[i].holder == holder {
			return s.writes[i].at
		}
	}
	return time.Time{}
}

// term is a replica's time as leader: from the write that took the Lease
// to the moment it stopped leading (stepped down, or was killed).
type term struct {
	who      string
	from, to time.Time // to is zero while it leads
}

// member is a replica in a simulated run: it tries on its own fixed period
// (offset by phase), and wakes at its renew deadline while it leads.
type member struct {
	name     string
	lock     *fakeLock
	e        *Elector
	next     time.Time
	killAt   time.Time // zero: never killed
	cutAt    time.Time // zero: never cut off
	dead     bool
	terms    []term
	leadTime time.Time
}

func newMember(t *testing.T, srv *leaseServer, clk clock.WithTicker, name string, first time.Time, timing Timing) *member {
	t.Helper()
	lock := &fakeLock{srv: srv, id: name}
	e, err := NewElector(lock, timing, clk, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	return &member{name: name, lock: lock, e: e, next: first}
}

// nextEvent is the member's next try, or its kill.
func (m *member) nextEvent(timing Timing) time.Time {
	at := m.next
	if m.e.Leading() {
		at = minTime(at, m.e.renewedAt.Add(timing.RenewDeadline))
	}
	if !m.killAt.IsZero() {
		at = minTime(at, m.killAt)
	}
	return at
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// simulate runs the members on clk until the given time, event by event, as
// Elector.Run would: a try at every tick and at the renew deadline; a
// replica that loses the Lease exits.
func simulate(clk *testingclock.FakeClock, timing Timing, until time.Time, members ...*member) {
	ctx := context.Background()
	for {
		var m *member
		for _, c := range members {
			if !c.dead && (m == nil || c.nextEvent(timing).Before(m.nextEvent(timing))) {
				m = c
			}
		}
		if m == nil {
			return
		}
		at := m.nextEvent(timing)
		if at.After(until) {
			return
		}
		if at.After(clk.Now()) {
			clk.SetTime(at)
		}
		if !m.killAt.IsZero() && !clk.Now().Before(m.killAt) {
			m.dead = true
			if m.e.Leading() {
				m.terms[len(m.terms)-1].to = m.killAt
			}
			continue
		}
		m.lock.down = !m.cutAt.IsZero() && !clk.Now().Before(m.cutAt)
		was := m.e.Leading()
		leads := m.e.try(ctx)
		switch {
		case leads && !was:
			m.terms = append(m.terms, term{who: m.name, from: m.e.renewedAt})
		case was && !leads:
			m.terms[len(m.terms)-1].to = clk.Now()
			m.dead = true // a replica that lost the Lease exits
		}
		for !m.next.After(clk.Now()) {
			m.next = m.next.Add(timing.RetryPeriod)
		}
	}
}

// checkOneLeader fails if two replicas ever led at the same time.
func checkOneLeader(t *testing.T, name string, members ...*member) {
	t.Helper()
	var all []term
	for _, m := range members {
		all = append(all, m.terms...)
	}
	slices.SortFunc(all, func(a, b term) int { return a.from.Compare(b.from) })
	for i := 1; i < len(all); i++ {
		prev := all[i-1]
		if prev.to.IsZero() || all[i].from.Before(prev.to) {
			t.Fatalf("%s: %s led from %s while %s led from %s until %v", name, all[i].who, all[i].from.Format("15:04:05.000"),
				prev.who, prev.from.Format("15:04:05.000"), prev.to.Format("15:04:05.000"))
		}
	}
}

var t0 = time.Date(2026, 12, 4, 20, 30, 0, 0, time.UTC)

func TestDeadLeaderIsReplacedWithinLeaseAndRetry(t *testing.T) {
	timing := DefaultTiming
	r := timing.RetryPeriod
	var worst, best time.Duration
	runs := 0
	for phase := time.Millisecond; phase < r; phase += r / 10 {
		for kill := time.Duration(0); kill < r; kill += r / 16 {
			for _, latency := range []time.Duration{0, 20 * time.Millisecond} {
				clk := testingclock.NewFakeClock(t0)
				srv := &leaseServer{clk: clk}
				a := newMember(t, srv, clk, "primetime-a", t0, timing)
				b := newMember(t, srv, clk, "primetime-b", t0.Add(phase), timing)
				a.lock.latency, b.lock.latency = latency, latency
				killed := t0.Add(30*time.Second + kill)
				a.killAt = killed
				simulate(clk, timing, t0.Add(2*time.Minute), a, b)

				name := fmt.Sprintf("b's tries %s after a's, a killed at %s, calls take %s", phase, killed.Sub(t0), latency)
				checkOneLeader(t, name, a, b)
				if len(a.terms) != 1 || len(b.terms) != 1 {
					t.Fatalf("%s: a led %d times, b %d times; want a, then b", name, len(a.terms), len(b.terms))
				}
				takeover := b.terms[0].from.Sub(killed)
				if takeover > timing.LeaseDuration+r {
					t.Errorf("%s: b took over %s after the kill, want at most the lease duration plus a retry period (%s)",
						name, takeover, timing.LeaseDuration+r)
				}
				// A live leader that could not renew would have stopped
				// leading by its last renewal plus the renew deadline.
				lastRenewal := srv.lastWriteBy("primetime-a")
				if b.terms[0].from.Sub(lastRenewal) <= timing.RenewDeadline {
					t.Errorf("%s: b took over %s after a's last renewal, within the renew deadline (%s)", name, b.terms[0].from.Sub(lastRenewal), timing.RenewDeadline)
				}
				if runs == 0 || takeover > worst {
					worst = takeover
				}
				if runs == 0 || takeover < best {
					best = takeover
				}
				runs++
			}
		}
	}
	t.Logf("%d kills: takeover %s to %s after the kill (bound: lease %s + retry %s; client-go's jittered elector: up to %s)",
		runs, best, worst, timing.LeaseDuration, r, timing.LeaseDuration+2*r*22/10)
}

func TestCutOffLeaderStopsBeforeItsLeaseIsTaken(t *testing.T) {
	timing := DefaultTiming
	r := timing.RetryPeriod
	followers := []struct {
		name     string
		latency  time.Duration
		failRead func(n int) bool
	}{
		{name: "fast reads"},
		{name: "reads answered in a quarter of a retry period", latency: r / 4},
		{name: "reads answered in half a retry period", latency: r / 2},
		{name: "reads slower than the retry period", latency: r + r/2},
		{name: "every other read fails", failRead: func(n int) bool { return n%2 == 0 }},
		{name: "three reads in four fail", failRead: func(n int) bool { return n%4 != 0 }, latency: r / 8},
		{name: "reads fail for a minute", failRead: func(n int) bool { return n > 10 && n < 40 }},
	}
	for _, f := range followers {
		t.Run(f.name, func(t *testing.T) {
			margin := time.Duration(-1)
			for phase := time.Millisecond; phase < r; phase += r / 8 {
				for cut := time.Duration(0); cut < r; cut += r / 8 {
					clk := testingclock.NewFakeClock(t0)
					srv := &leaseServer{clk: clk}
					a := newMember(t, srv, clk, "primetime-a", t0, timing)
					b := newMember(t, srv, clk, "primetime-b", t0.Add(phase), timing)
					b.lock.latency = f.latency
					b.lock.failRead = f.failRead
					a.cutAt = t0.Add(30*time.Second + cut)
					simulate(clk, timing, t0.Add(3*time.Minute), a, b)

					name := fmt.Sprintf("b's tries %s after a's, a cut off at %s", phase, a.cutAt.Sub(t0))
					checkOneLeader(t, name, a, b)
					if len(a.terms) != 1 || a.terms[0].to.IsZero() {
						t.Fatalf("%s: a, cut off from the API server, never stopped leading", name)
					}
					if len(b.terms) != 1 {
						t.Fatalf("%s: b led %d times, want once after a stopped", name, len(b.terms))
					}
					if gap := b.terms[0].from.Sub(a.terms[0].to); margin < 0 || gap < margin {
						margin = gap
					}
				}
			}
			t.Logf("a stopped leading at least %s before b took the Lease", margin)
		})
	}
}

func TestElectorStartsAndHandsOver(t *testing.T) {
	timing := DefaultTiming
	tests := []struct {
		name string
		// lease is the Lease before the replica's first read (nil: none).
		lease *resourcelock.LeaderElectionRecord
		// wantLeads: after its first read; wantAfter: the first read at
		// which it leads.
		wantLeads bool
		wantAfter time.Duration
	}{
		{name: "no Lease yet: it creates it", wantLeads: true},
		{name: "a Lease released by the last leader is taken at once",
			lease: &resourcelock.LeaderElectionRecord{LeaseDurationSeconds: 1}, wantLeads: true},
		{name: "its own Lease from before a restart is taken back at once",
			lease: &resourcelock.LeaderElectionRecord{HolderIdentity: "primetime-b", LeaseDurationSeconds: 15}, wantLeads: true},
		{name: "another's Lease, first read: waits a lease duration less the slack",
			lease:     &resourcelock.LeaderElectionRecord{HolderIdentity: "primetime-a", LeaseDurationSeconds: 15},
			wantAfter: timing.LeaseDuration - timing.slack()},
		{name: "a longer lease written by another replica is honoured",
			lease:     &resourcelock.LeaderElectionRecord{HolderIdentity: "primetime-a", LeaseDurationSeconds: 60},
			wantAfter: time.Minute - timing.slack()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := testingclock.NewFakeClock(t0)
			srv := &leaseServer{clk: clk}
			if tt.lease != nil {
				srv.rec, srv.version = tt.lease, 1
			}
			b := newMember(t, srv, clk, "primetime-b", t0, timing)
			if got := b.e.try(context.Background()); got != tt.wantLeads {
				t.Fatalf("leads after the first read: %v, want %v", got, tt.wantLeads)
			}
			if tt.wantLeads {
				if srv.rec.HolderIdentity != "primetime-b" || srv.rec.LeaseDurationSeconds != 15 {
					t.Errorf("Lease after taking it: %+v", srv.rec)
				}
				return
			}
			simulate(clk, timing, t0.Add(2*time.Minute), b)
			if len(b.terms) != 1 {
				t.Fatalf("never led")
			}
			// The first read at or after the expiry: within a retry period.
			if got := b.terms[0].from.Sub(t0); got < tt.wantAfter || got >= tt.wantAfter+timing.RetryPeriod {
				t.Errorf("took the Lease %s after the first read, want %s to %s", got, tt.wantAfter, tt.wantAfter+timing.RetryPeriod)
			}
			if srv.rec.LeaderTransitions != 1 {
				t.Errorf("leader transitions %d, want 1", srv.rec.LeaderTransitions)
			}
		})
	}
}

func TestLeaderKeepsLeadingThroughShortOutages(t *testing.T) {
	timing := DefaultTiming
	clk := testingclock.NewFakeClock(t0)
	srv := &leaseServer{clk: clk}
	a := newMember(t, srv, clk, "primetime-a", t0, timing)
	b := newMember(t, srv, clk, "primetime-b", t0.Add(time.Second), timing)
	// Every third read of the leader fails: it renews at the next try.
	a.lock.failRead = func(n int) bool { return n%3 == 0 }
	simulate(clk, timing, t0.Add(10*time.Minute), a, b)
	if len(a.terms) != 1 || !a.terms[0].to.IsZero() || len(b.terms) != 0 {
		t.Fatalf("a leader whose reads sometimes fail lost the Lease: a %v, b %v", a.terms, b.terms)
	}
}

func TestTimingValidate(t *testing.T) {
	tests := []struct {
		name    string
		timing  Timing
		wantErr string
	}{
		{name: "the default", timing: DefaultTiming},
		{name: "no retry period", timing: Timing{LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second},
			wantErr: "retry period 0s: must be positive"},
		{name: "a renew deadline of one try", timing: Timing{LeaseDuration: 15 * time.Second, RenewDeadline: 2 * time.Second, RetryPeriod: 2 * time.Second},
			wantErr: "renew deadline 2s: must be at least two retry periods (4s)"},
		{name: "a lease barely longer than the renew deadline", timing: Timing{LeaseDuration: 11 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second},
			wantErr: "lease duration 11s: must be at least the renew deadline plus two retry periods (14s)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.timing.Validate()
			if got := fmt.Sprint(err); (tt.wantErr == "" && err != nil) || (tt.wantErr != "" && (err == nil || got[:len(tt.wantErr)] != tt.wantErr)) {
				t.Errorf("Validate() = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// TestRunHandsOverOnShutdown runs two electors on the real clock: the one
// that leads runs lead until its context ends, then releases the Lease, and
// the other leads at its next read instead of a lease duration later.
func TestRunHandsOverOnShutdown(t *testing.T) {
	timing := Timing{LeaseDuration: 2 * time.Second, RenewDeadline: time.Second, RetryPeriod: 100 * time.Millisecond}
	srv := &leaseServer{clk: clock.RealClock{}}
	elector := func(name string) *Elector {
		e, err := NewElector(&fakeLock{srv: srv, id: name}, timing, clock.RealClock{}, zap.NewNop())
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	started := make(chan string, 2)
	leadStopped := make(chan string, 2)
	lead := func(name string) func(context.Context) {
		return func(ctx context.Context) {
			started <- name
			<-ctx.Done()
			leadStopped <- name
		}
	}
	ctxA, stopA := context.WithCancel(context.Background())
	ctxB, stopB := context.WithCancel(context.Background())
	defer stopB()
	lostA, lostB := make(chan bool, 1), make(chan bool, 1)
	go func() { lostA <- elector("a").Run(ctxA, lead("a")) }()
	if got := <-started; got != "a" {
		t.Fatalf("%s leads first, want a", got)
	}
	go func() { lostB <- elector("b").Run(ctxB, lead("b")) }()
	time.Sleep(3 * timing.RetryPeriod)
	select {
	case got := <-started:
		t.Fatalf("%s leads while a holds the Lease", got)
	default:
	}

	stopA()
	stopped := time.Now()
	if got := <-leadStopped; got != "a" {
		t.Fatalf("%s stopped leading, want a", got)
	}
	if lost := <-lostA; lost {
		t.Errorf("a shut down, yet Run reports the Lease lost")
	}
	select {
	case got := <-started:
		if took := time.Since(stopped); got != "b" || took > timing.LeaseDuration/2 {
			t.Errorf("%s leads %s after a shut down, want b within a few retry periods", got, took)
		}
	case <-time.After(2 * timing.LeaseDuration):
		t.Fatalf("b never took over")
	}

	// b loses the Lease to someone else: Run reports it and lead ends.
	srv.mu.Lock()
	srv.rec.HolderIdentity, srv.version = "primetime-c", srv.version+1
	srv.mu.Unlock()
	select {
	case lost := <-lostB:
		if !lost {
			t.Errorf("b's Run returned without reporting the Lease lost")
		}
	case <-time.After(2 * timing.LeaseDuration):
		t.Fatalf("b kept leading a Lease held by another")
	}
	if got := <-leadStopped; got != "b" {
		t.Errorf("%s's lead ended, want b's", got)
	}
}
