package ha

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/zap"
	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"

	"github.com/primetime-dev/primetime/scaler"
)

// timeline records, on the test's clock, what the replicas did.
type timeline struct {
	mu     sync.Mutex
	start  time.Time
	events []string
	at     map[string]time.Duration
}

func newTimeline() *timeline { return &timeline{start: time.Now(), at: map[string]time.Duration{}} }

func (tl *timeline) mark(what string) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	tl.events = append(tl.events, what)
	if _, seen := tl.at[what]; !seen {
		tl.at[what] = time.Since(tl.start)
	}
}

func (tl *timeline) when(what string) (time.Duration, bool) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	d, ok := tl.at[what]
	return d, ok
}

// replica is one replica's election, leading until its context ends.
type replica struct {
	e      *Election
	cancel context.CancelFunc
	done   chan struct{}
	lost   bool
	epochs []int64
}

func startReplica(t *testing.T, client *fake.Clientset, id string, tl *timeline) *replica {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	r := &replica{e: &Election{Client: client, Namespace: "primetime", Identity: id, Timing: DefaultTiming, Log: zap.NewNop()},
		cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.lost, _ = r.e.Run(ctx, func(ctx context.Context, epoch int64) {
			r.epochs = append(r.epochs, epoch)
			tl.mark(id + " leads")
			<-ctx.Done()
			time.Sleep(300 * time.Millisecond) // its last writes
			tl.mark(id + " stopped")
		})
	}()
	return r
}

// watchLease records each write of the Lease: who holds it.
func watchLease(client *fake.Clientset, tl *timeline) {
	client.PrependReactor("update", "leases", func(a clienttesting.Action) (bool, runtime.Object, error) {
		l := a.(clienttesting.UpdateAction).GetObject().(*coordinationv1.Lease)
		if l.Spec.HolderIdentity != nil && *l.Spec.HolderIdentity == "" {
			tl.mark("released")
		}
		return false, nil, nil
	})
}

// A leader shutting down stops its work first, then releases the Lease;
// the follower, watching the Lease, leads at once, in a later epoch.
func TestElectionHandsOverOnShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		client := fake.NewClientset()
		tl := newTimeline()
		watchLease(client, tl)
		a := startReplica(t, client, "a", tl)
		time.Sleep(time.Second)
		b := startReplica(t, client, "b", tl)
		time.Sleep(30 * time.Second)
		synctest.Wait()
		if !a.e.Leading() || b.e.Leading() {
			t.Fatalf("leading: a %v, b %v; want a only", a.e.Leading(), b.e.Leading())
		}
		shutdown := time.Since(tl.start)
		a.cancel() // SIGTERM
		<-a.done
		time.Sleep(10 * time.Second)
		synctest.Wait()
		stopped, _ := tl.when("a stopped")
		released, okR := tl.when("released")
		led, okB := tl.when("b leads")
		if !okR || !okB {
			t.Fatalf("timeline %v: the Lease was not handed over", tl.events)
		}
		if released < stopped {
			t.Errorf("released at %s, before a's work stopped at %s", released, stopped)
		}
		if took := led - shutdown; took > time.Second {
			t.Errorf("b led %s after the shutdown began, want within a second (it watches the Lease)", took)
		}
		if a.lost || len(a.epochs) != 1 || len(b.epochs) != 1 || b.epochs[0] <= a.epochs[0] {
			t.Errorf("a lost %v, epochs a %v b %v: want a later epoch for b", a.lost, a.epochs, b.epochs)
		}
		b.cancel()
		<-b.done
	})
}

// A leader cut off from the API server (every write of it fails, its
// release too, as after a SIGKILL) stops acting at its renew deadline;
// the follower takes the Lease once it expired, never before, within
// client-go's worst case.
func TestElectionTakeoverFromADeadLeader(t *testing.T) {
	var takeovers []time.Duration
	for range 30 { // client-go's jitter differs from run to run
		takeovers = append(takeovers, deadLeaderTakeover(t))
	}
	slices.Sort(takeovers)
	t.Logf("30 kills: takeover %s / %s / %s (min / median / max) after the dead leader's last renewal; bound %s",
		takeovers[0], takeovers[15], takeovers[29], DefaultTiming.WorstTakeover())
}

func deadLeaderTakeover(t *testing.T) (takeover time.Duration) {
	t.Helper()
	synctest.Test(t, func(t *testing.T) {
		client := fake.NewClientset()
		tl := newTimeline()
		var mu sync.Mutex
		aDown := false
		client.PrependReactor("*", "leases", func(act clienttesting.Action) (bool, runtime.Object, error) {
			mu.Lock()
			defer mu.Unlock()
			if u, ok := act.(clienttesting.UpdateAction); ok && aDown {
				if l := u.GetObject().(*coordinationv1.Lease); l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity != "b" {
					return true, nil, errors.New("dial tcp 127.0.0.1:6443: connect: connection refused")
				}
			}
			return false, nil, nil
		})
		a := startReplica(t, client, "a", tl)
		time.Sleep(time.Second)
		b := startReplica(t, client, "b", tl)
		time.Sleep(20 * time.Second)
		synctest.Wait()
		l, err := client.CoordinationV1().Leases("primetime").Get(t.Context(), LeaseName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		lastRenewal := l.Spec.RenewTime.Sub(tl.start)
		mu.Lock()
		aDown = true
		mu.Unlock()
		<-a.done
		time.Sleep(30 * time.Second)
		synctest.Wait()
		stopped, _ := tl.when("a stopped")
		led, ok := tl.when("b leads")
		if !ok || !a.lost {
			t.Fatalf("timeline %v; a lost %v", tl.events, a.lost)
		}
		takeover = led - lastRenewal
		if takeover < DefaultTiming.LeaseDuration || takeover > DefaultTiming.WorstTakeover() {
			t.Errorf("b led %s after a's last renewal, want from the lease duration %s to the worst case %s", takeover, DefaultTiming.LeaseDuration, DefaultTiming.WorstTakeover())
		}
		if stopped > led {
			t.Errorf("a still acted at %s, after b led at %s", stopped, led)
		}
		b.cancel()
		<-b.done
	})
	return takeover
}

func TestTimingValidate(t *testing.T) {
	cases := []struct {
		name   string
		timing Timing
		want   string
	}{
		{"kube-controller-manager's", DefaultTiming, ""},
		{"renew deadline within a jittered retry", Timing{LeaseDuration: 15 * time.Second, RenewDeadline: 2 * time.Second, RetryPeriod: 2 * time.Second},
			"--leader-elect-renew-deadline 2s: must be longer than 1.2 retry periods (2.4s)"},
		{"lease not longer than the deadline", Timing{LeaseDuration: 10 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second},
			"--leader-elect-lease-duration 10s: must be longer than the renew deadline (10s)"},
		{"no retry period", Timing{LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second},
			"--leader-elect-retry-period 0s: must be positive"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.timing.Validate()
			if got := ""; err != nil {
				got = err.Error()
				if got != tc.want {
					t.Errorf("%q, want %q", got, tc.want)
				}
			} else if tc.want != "" {
				t.Errorf("accepted, want %q", tc.want)
			}
		})
	}
	if got := DefaultTiming.WorstTakeover(); got != 23800*time.Millisecond {
		t.Errorf("worst takeover %s, want 23.8s (15s + 2 × 2.2 × 2s)", got)
	}
}

func TestIdentityIsUnique(t *testing.T) {
	t.Setenv("POD_NAME", "primetime-7d9f-abcde")
	a, b := Identity(), Identity()
	if a == b || !strings.HasPrefix(a, "primetime-7d9f-abcde_") || len(a) != len("primetime-7d9f-abcde_")+8 {
		t.Errorf("identities %q and %q: want the pod's name and distinct random suffixes", a, b)
	}
}

// A state written by a later leader is never overwritten by a former
// one (a paused leader that comes back), and followers ignore it.
func TestFencing(t *testing.T) {
	client := fake.NewClientset()
	ctx := t.Context()
	now := time.Date(2026, 11, 25, 20, 40, 0, 0, time.UTC)
	r := int32(100)
	later := &State{At: now, Leader: "b", Epoch: 5, Decisions: []scaler.Published{{Namespace: "shop", Name: "web", Replicas: &r, At: now}}}
	if err := Publish(ctx, client, "primetime", later); err != nil {
		t.Fatal(err)
	}
	stale := int32(3)
	former := &State{At: now.Add(time.Second), Leader: "a", Epoch: 4, Decisions: []scaler.Published{{Namespace: "shop", Name: "web", Replicas: &stale, At: now}}}
	err := Publish(ctx, client, "primetime", former)
	if !errors.Is(err, ErrFenced) || err.Error() != "fenced: the state was written by a leader of epoch 5, after this one's (4)" {
		t.Fatalf("a former leader's write: %v", err)
	}
	if st, _ := Load(ctx, client, "primetime"); st.Leader != "b" || *st.Decisions[0].Replicas != 100 {
		t.Errorf("the state was overwritten: %+v", st)
	}
	// A follower that saw epoch 5 ignores a state of epoch 4.
	board := &scaler.Board{}
	f := &Follower{board: board, now: time.Now}
	f.take(later, zap.NewNop())
	f.take(former, zap.NewNop())
	if got := board.All(); len(got) != 1 || *got[0].Replicas != 100 {
		t.Errorf("the follower serves %+v, want the later leader's 100", got)
	}
}
