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
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/policies/config"
	"github.com/primetime-dev/primetime/scaler"
	"github.com/primetime-dev/primetime/scaler/actuate"
	"github.com/primetime-dev/primetime/sources"
)

// steadyLoad answers every query with one load, read now.
type steadyLoad struct {
	mu   sync.Mutex
	load float64
}

func (s *steadyLoad) Kind() ground.SourceKind { return ground.SourcePrometheus }
func (s *steadyLoad) Fetch(_ context.Context, qs []sources.Query, now time.Time) map[string]sources.Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]sources.Result{}
	for _, q := range qs {
		out[q.Key()] = sources.Result{Value: sources.Value{V: s.load, At: now}}
	}
	return out
}
func (s *steadyLoad) History(context.Context, sources.Query, time.Time, time.Time, time.Duration) (ground.Series, error) {
	return nil, sources.ErrNoHistory
}

// fixedConfig is a ConfigSource of parsed files.
type fixedConfig struct{ snap *ground.Snapshot }

func (c fixedConfig) Snapshot() *ground.Snapshot { return c.snap }

func parseConfig(t *testing.T, targets, windows string) fixedConfig {
	t.Helper()
	res := config.ParseFile("targets.yaml", []byte(targets))
	res.Merge(config.ParseFile("windows.yaml", []byte(windows)))
	if errs := res.Problems.Errors(); len(errs) > 0 {
		t.Fatal(errs)
	}
	return fixedConfig{&ground.Snapshot{Version: 1, Targets: res.Targets, Windows: res.Windows}}
}

const floorTarget = `targets:
  - name: web
    namespace: shop
    scaleTargetRef: {kind: Deployment, name: web}
    load: {prometheus: 'sum(rate(http_requests_total[1m]))'}
    capacityPerReplica: 50
    minReplicas: 2
    maxReplicas: 300
    leadTime: 5m
    mode: hpa-floor
`

// leaderRig is a leader on a fake cluster whose HPA shop/web scales the
// Deployment web, on a clock that starts at start.
type leaderRig struct {
	leader *Leader
	client *fake.Clientset
	events *record.FakeRecorder
	load   *steadyLoad
}

func newLeaderRig(t *testing.T, start time.Time, cfg fixedConfig, hpa *autoscalingv2.HorizontalPodAutoscaler, st *State) *leaderRig {
	t.Helper()
	client := fake.NewClientset(hpa)
	if st != nil {
		if err := Publish(t.Context(), client, "primetime", st); err != nil {
			t.Fatal(err)
		}
	}
	factory := informers.NewSharedInformerFactory(client, 0)
	index, err := actuate.NewHPAIndex(factory.Autoscaling().V2().HorizontalPodAutoscalers().Informer())
	if err != nil {
		t.Fatal(err)
	}
	factory.Start(t.Context().Done())
	factory.WaitForCacheSync(t.Context().Done())
	t.Cleanup(factory.Shutdown)

	events := record.NewFakeRecorder(100)
	act := &actuate.Actuator{Client: client, HPAs: index, Recorder: events, Log: zap.NewNop()}
	load := &steadyLoad{load: 1000}
	poller := sources.NewPoller(sources.NewCache())
	poller.Register(sources.Registration{Source: load, Interval: 5 * time.Second, MaxAge: time.Minute})
	epoch := time.Now()
	now := func() time.Time { return start.Add(time.Since(epoch)) }
	board := &scaler.Board{}
	engine := &scaler.Engine{Interval: 5 * time.Second, Config: cfg, Poller: poller, Replicas: act, Actuator: act, Board: board, Log: zap.NewNop()}
	leader := &Leader{Identity: "primetime-1", Namespace: "primetime", Client: client, Config: cfg, Engine: engine,
		Poller: poller, Actuator: act, Board: board, Interval: 5 * time.Second, Now: now, Log: zap.NewNop()}
	return &leaderRig{leader: leader, client: client, events: events, load: load}
}

func webHPA(minReplicas int32, annotations map[string]string) *autoscalingv2.HorizontalPodAutoscaler {
	return &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", Annotations: annotations},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
			MinReplicas:    &minReplicas, MaxReplicas: 300,
		},
	}
}

func (r *leaderRig) hpa(t *testing.T) (int32, string) {
	t.Helper()
	h, err := r.client.AutoscalingV2().HorizontalPodAutoscalers("shop").Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return *h.Spec.MinReplicas, h.Annotations[actuate.AnnotationOriginalMin]
}

func drain(ch chan string) []string {
	var out []string
	for {
		select {
		case e := <-ch:
			out = append(out, e)
		default:
			return out
		}
	}
}

// TestLeaderTakesOverMidWindow: a leader that takes over during a spot,
// with the spike already in the load, keeps the floor its predecessor
// latched (imported baseline, not the spike), repeats no PrescaleStarted
// (the HPA's annotation says the floor is raised), and restores the HPA's
// own minReplicas after the window.
func TestLeaderTakesOverMidWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		paris, _ := time.LoadLocation("Europe/Paris")
		spotStart := time.Date(2026, 11, 25, 20, 45, 0, 0, paris)
		cfg := parseConfig(t, floorTarget, `windows:
  - name: tf1-spot
    start: "2026-11-25T19:45:00Z"
    duration: 15m
    expect: 5x
    targets: [shop/web]
`)
		// The previous leader latched a baseline of 1,000 before the spot
		// and raised minReplicas from 3 to 5 × 1,000 / 50 = 100.
		key := "shop/web|windows.yaml|tf1-spot|2026-11-25T19:45:00Z"
		st := &State{At: spotStart, Leader: "primetime-0",
			Baselines: map[string]scaler.Baseline{key: {Load: 1000, Keep: spotStart.Add(2 * time.Hour)}}}
		r := newLeaderRig(t, spotStart.Add(5*time.Minute), cfg,
			webHPA(100, map[string]string{actuate.AnnotationOriginalMin: "3"}), st)
		r.load.load = 4000 // the spike: 5 × 4,000 / 50 would be 400, the maximum
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { _ = r.leader.Run(ctx, 1); close(done) }()

		time.Sleep(10 * time.Second)
		synctest.Wait()
		if !r.leader.Ready() {
			t.Fatal("not ready 10 s after taking the Lease")
		}
		if m, ann := r.hpa(t); m != 100 || ann != "3" {
			t.Errorf("after the takeover: minReplicas %d, annotation %q; want 100 and \"3\" (the latched baseline, not the spike)", m, ann)
		}
		if ev := drain(r.events.Events); len(ev) != 0 {
			t.Errorf("Events on takeover: %q; want none (the floor was already raised)", ev)
		}
		// The window ends at 21:00, the cooldown at 21:10; the step-down
		// from 100 to the baseline's 20 takes a step a minute (83, 70, 59,
		// 50, 42, 35, 29, 24, 20); then the HPA's own 3 comes back.
		r.load.mu.Lock()
		r.load.load = 1000
		r.load.mu.Unlock()
		time.Sleep(35 * time.Minute)
		synctest.Wait()
		if m, ann := r.hpa(t); m != 3 || ann != "" {
			t.Errorf("after the window: minReplicas %d, annotation %q; want 3 and none", m, ann)
		}
		ev := drain(r.events.Events)
		if len(ev) != 1 || !strings.HasPrefix(ev[0], "Normal PrescaleEnded window floor released") {
			t.Errorf("Events after the window: %q; want one PrescaleEnded", ev)
		}
		cancel()
		<-done
	})
}

// TestLeaderLosingTheLeaseStopsWriting: once the lead's context ends, Run
// returns before the next cycle and nothing is written any more, though
// a window's floor starts later.
func TestLeaderLosingTheLeaseStopsWriting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
		cfg := parseConfig(t, floorTarget, `windows:
  - name: later
    start: "2026-11-25T20:30:00Z"
    duration: 15m
    replicas: 40
    targets: [shop/web]
`)
		r := newLeaderRig(t, start, cfg, webHPA(3, nil), nil)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { _ = r.leader.Run(ctx, 1); close(done) }()
		time.Sleep(time.Minute)
		synctest.Wait()
		if _, err := Load(t.Context(), r.client, "primetime"); err != nil {
			t.Fatalf("no state handed over while leading: %v", err)
		}
		cancel() // the Lease is lost
		synctest.Wait()
		select {
		case <-done:
		default:
			t.Fatal("Run goes on after its context ended")
		}
		if r.leader.Leading() {
			t.Error("Leading() after Run returned")
		}
		writes := func() int {
			n := 0
			for _, a := range r.client.Actions() {
				if a.GetVerb() != "get" && a.GetVerb() != "list" && a.GetVerb() != "watch" {
					n++
				}
			}
			return n
		}
		before := writes()
		time.Sleep(time.Hour) // the floor would start at 20:25
		synctest.Wait()
		if after := writes(); after != before {
			var verbs []string
			for _, a := range r.client.Actions()[len(r.client.Actions())-(after-before):] {
				verbs = append(verbs, a.GetVerb()+" "+a.GetResource().Resource)
			}
			t.Errorf("%d writes after the lead ended: %v", after-before, verbs)
		}
		if m, _ := r.hpa(t); m != 3 {
			t.Errorf("minReplicas %d, want 3: a former leader raised it", m)
		}
	})
}

// TestANewTermFollowsTheState: a replica that starts leading never fences
// itself on the state it finds (a Lease deleted by hand restarts its
// transitions at 0, leader election switched off leads at 0, one replica
// after two): its term follows the state's epoch, it acts at once, and the
// state it writes carries that term, so that a leader of the old term
// still running would be the one fenced. A state it cannot read is an
// Event, and the leader starts without it.
func TestANewTermFollowsTheState(t *testing.T) {
	tests := []struct {
		name       string
		lease      int64
		state      *State
		garbage    bool
		wantEpoch  int64
		wantEvents []string
	}{
		{name: "the Lease deleted by hand after three handovers", lease: 0, state: &State{Leader: "primetime-2", Epoch: 3}, wantEpoch: 4},
		{name: "a replica paused while another led: behind the state", lease: 7, state: &State{Leader: "primetime-2", Epoch: 9}, wantEpoch: 10},
		{name: "leader election off, the same identity restarted", lease: 0, state: &State{Leader: "primetime-1", Epoch: 0}, wantEpoch: 0},
		{name: "leader election off after another single replica", lease: 0, state: &State{Leader: "primetime-0", Epoch: 0}, wantEpoch: 1},
		{name: "a normal handover: the Lease's term is later", lease: 5, state: &State{Leader: "primetime-0", Epoch: 4}, wantEpoch: 5},
		{name: "no state yet", lease: 2, wantEpoch: 2},
		{name: "a state it cannot read, written at epoch 6", lease: 2, garbage: true, wantEpoch: 7,
			wantEvents: []string{"Warning StateUnreadable leader primetime-1 cannot read the state handed over (gzip: invalid header): it starts without it (baselines are latched again, lessons and reports start empty) and writes a new one"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
				cfg := parseConfig(t, floorTarget, `windows:
  - {name: now, start: "2026-11-25T20:01:00Z", duration: 15m, replicas: 40, targets: [shop/web]}
`)
				if tt.state != nil {
					tt.state.At = start.Add(-time.Minute)
				}
				r := newLeaderRig(t, start, cfg, webHPA(3, nil), tt.state)
				if tt.garbage {
					if err := write(t.Context(), r.client, "primetime", 6, []byte("this is not a gzipped state")); err != nil {
						t.Fatal(err)
					}
				}
				stateEvents := record.NewFakeRecorder(10)
				r.leader.Recorder = stateEvents
				ctx, cancel := context.WithCancel(t.Context())
				done := make(chan error, 1)
				go func() { done <- r.leader.Run(ctx, tt.lease) }()
				time.Sleep(30 * time.Second)
				synctest.Wait()
				if m, ann := r.hpa(t); m != 40 || ann != "3" {
					t.Errorf("minReplicas %d, annotation %q; want 40 and \"3\": the new leader acts", m, ann)
				}
				st, err := Load(t.Context(), r.client, "primetime")
				if err != nil || st == nil || st.Epoch != tt.wantEpoch || st.Leader != "primetime-1" {
					t.Errorf("state written: %+v, %v; want primetime-1's at epoch %d", st, err, tt.wantEpoch)
				}
				if got := drain(stateEvents.Events); !slices.Equal(got, tt.wantEvents) {
					t.Errorf("Events %q, want %q", got, tt.wantEvents)
				}
				cancel()
				if err := <-done; err != nil {
					t.Errorf("Run: %v, want nil (a shutdown)", err)
				}
			})
		})
	}
}

// TestALeaderOvertakenWhileLeadingStops: a later term that writes the state
// while this leader leads fences it: Run returns ErrFenced and the HPA
// keeps what the later leader wrote.
func TestALeaderOvertakenWhileLeadingStops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
		cfg := parseConfig(t, floorTarget, `windows:
  - {name: now, start: "2026-11-25T20:01:00Z", duration: 15m, replicas: 40, targets: [shop/web]}
`)
		r := newLeaderRig(t, start, cfg, webHPA(3, nil), nil)
		done := make(chan error, 1)
		go func() { done <- r.leader.Run(t.Context(), 4) }()
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if err := Publish(t.Context(), r.client, "primetime", &State{At: start, Leader: "primetime-2", Epoch: 5}); err != nil {
			t.Fatal(err)
		}
		r.load.mu.Lock()
		r.load.load = 1100 // a change: the leader writes at once
		r.load.mu.Unlock()
		time.Sleep(30 * time.Second)
		synctest.Wait()
		err := <-done
		if !errors.Is(err, ErrFenced) || err.Error() != "fenced: the state was written by a leader of epoch 5, after this one's (4)" {
			t.Fatalf("Run: %v, want fenced", err)
		}
	})
}

// TestTheStateDeletedByHand: an SRE deletes the state ConfigMap while the
// leader runs: the leader's next write creates it again, at its own term.
func TestTheStateDeletedByHand(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
		cfg := parseConfig(t, floorTarget, `windows:
  - {name: now, start: "2026-11-25T20:01:00Z", duration: 15m, replicas: 40, targets: [shop/web]}
`)
		r := newLeaderRig(t, start, cfg, webHPA(3, nil), &State{At: start, Leader: "primetime-0", Epoch: 2})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- r.leader.Run(ctx, 3) }()
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if err := r.client.CoreV1().ConfigMaps("primetime").Delete(t.Context(), StateName, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(30 * time.Second)
		synctest.Wait()
		st, err := Load(t.Context(), r.client, "primetime")
		if err != nil || st == nil || st.Epoch != 3 || st.Leader != "primetime-1" {
			t.Errorf("after the deletion: %+v, %v; want primetime-1's state again at epoch 3", st, err)
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v, want nil", err)
		}
	})
}
