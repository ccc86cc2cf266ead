package ha

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"go.uber.org/zap"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/policies"
	"github.com/primetime-dev/primetime/scaler"
)

func TestStateHandover(t *testing.T) {
	client := fake.NewClientset()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if st, err := Load(ctx, client, "primetime"); st != nil || err != nil {
		t.Fatalf("no state yet: %v %v", st, err)
	}
	now := time.Date(2026, 11, 25, 20, 40, 0, 0, time.UTC)
	var decisions []scaler.Published
	for i := 0; i < 10000; i++ {
		r, l := int32(i%300), float64(i*10)
		decisions = append(decisions, scaler.Published{Namespace: fmt.Sprintf("ns-%d", i%100), Name: fmt.Sprintf("app-%d", i), Replicas: &r, Load: &l, At: now, Floor: i%7 == 0})
	}
	decisions = append(decisions, scaler.Published{Namespace: "shop", Name: "stale", At: now, Error: "load is stale"})
	st := &State{At: now, Leader: "a", Decisions: decisions,
		Baselines: map[string]scaler.Baseline{"shop/web|spot": {Load: 1000, Keep: now.Add(time.Hour)}}}
	if err := Publish(ctx, client, "primetime", st); err != nil {
		t.Fatalf("10,000 decisions must fit in the state ConfigMap: %v", err)
	}
	st.At = now.Add(15 * time.Second)
	if err := Publish(ctx, client, "primetime", st); err != nil {
		t.Fatalf("update: %v", err)
	}
	got, err := Load(ctx, client, "primetime")
	if err != nil || got == nil {
		t.Fatal(err)
	}
	if !got.At.Equal(st.At) || len(got.Decisions) != 10001 || got.Baselines["shop/web|spot"].Load != 1000 {
		t.Fatalf("loaded: at %s, %d decisions, baselines %v", got.At, len(got.Decisions), got.Baselines)
	}

	// A follower publishes the leader's decisions on its board.
	board := &scaler.Board{}
	leading := false
	asked := time.Now()
	Follow(ctx, client, "primetime", board, func() bool { return leading }, zap.NewNop())
	deadline := time.Now().Add(5 * time.Second)
	for !board.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("the follower's board is empty")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The board is dated by when it arrived, on this replica's clock.
	if all := board.All(); len(all) != 10001 || board.UpdatedAt().Before(asked) {
		t.Errorf("board: %d entries at %s, want 10001 received after %s", len(all), board.UpdatedAt(), asked)
	}
}

// TestStateEncodingStreamsBaselines: the baselines the engine yields while
// the state is encoded arrive in the decoded state as if they had been in
// Baselines, a key yielded again keeping its last value; 10,000 targets
// with ten latched baselines each fit in the state ConfigMap.
func TestStateEncodingStreamsBaselines(t *testing.T) {
	now := time.Date(2026, 11, 25, 20, 40, 0, 0, time.UTC)
	st := &State{At: now, Leader: "a", Epoch: 3,
		Decisions: []scaler.Published{{Namespace: "shop", Name: "web", At: now, Error: "load is stale"}},
		Baselines: map[string]scaler.Baseline{"shop/web|w.yaml|spot|2026-11-25T20:45:00Z": {Load: 10, Keep: now}},
		Latched: func(yield func(string, scaler.Baseline) bool) {
			for i := range 10000 {
				for w := range 10 {
					key := fmt.Sprintf("shop-%d/app-%d|w.yaml|w-%d|2026-11-25T20:45:00Z", i%10, i, w)
					if !yield(key, scaler.Baseline{Load: float64(100 + i%50), Keep: now.Add(2 * time.Hour)}) {
						return
					}
				}
			}
			yield("shop/web|w.yaml|spot|2026-11-25T20:45:00Z", scaler.Baseline{Load: 20, Keep: now, Peak: 61})
		},
		Lessons: map[string][]policies.Lesson{"shop/web|tf1-prime": {{Window: "spot", Start: now, Ratio: 3.1}}},
	}
	for i := range scaler.MaxBookReports {
		st.Reports = append(st.Reports, scaler.ReportRecord{Namespace: "shop", Target: fmt.Sprintf("app-%d", i), Window: "spot", Start: now, Ratio: 3, Expected: 5,
			Sentence: fmt.Sprintf("spot on Wed 25 Nov 20:45: shop/app-%d peaked at 3.0x its usual load (300 for 100) 1 min after the start (expected 5x), half gone 4 min later; 50 replicas at the start for a floor of 50; never above capacity; the window added 2.93 replica-hours over tracking", i)})
	}
	data, err := encode(st)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if got.Epoch != 3 || got.Leader != "a" || !got.At.Equal(now) || len(got.Decisions) != 1 || got.Decisions[0].Error != "load is stale" {
		t.Errorf("decoded %+v", got)
	}
	if len(got.Baselines) != 100001 {
		t.Errorf("%d baselines, want 100001", len(got.Baselines))
	}
	if b := got.Baselines["shop/web|w.yaml|spot|2026-11-25T20:45:00Z"]; b.Load != 20 || b.Peak != 61 {
		t.Errorf("a key yielded again: load %g peak %g, want the last value 20, peak 61", b.Load, b.Peak)
	}
	if ls := got.Lessons["shop/web|tf1-prime"]; len(ls) != 1 || ls[0].Ratio != 3.1 || !ls[0].Start.Equal(now) {
		t.Errorf("lessons %+v, want the one of 3.1x handed over", got.Lessons)
	}
	if len(got.Reports) != scaler.MaxBookReports || got.Reports[499].Target != "app-499" {
		t.Errorf("%d reports handed over, want %d", len(got.Reports), scaler.MaxBookReports)
	}
	if b := got.Baselines["shop-7/app-9997|w.yaml|w-9|2026-11-25T20:45:00Z"]; b.Load != 147 || !b.Keep.Equal(now.Add(2*time.Hour)) {
		t.Errorf("baseline %+v, want load 147 kept until %s", b, now.Add(2*time.Hour))
	}
	t.Logf("10,000 targets, 100,001 baselines, 500 reports: %d kB gzipped (limit %d kB)", len(data)>>10, maxStateBytes>>10)
	if len(data) > maxStateBytes {
		t.Errorf("%d kB gzipped, more than the %d kB a state ConfigMap holds", len(data)>>10, maxStateBytes>>10)
	}
}

// TestFollowerKeepsTheLeadersReportsAndLessons: a follower's calendar
// shows the leader's reports and what it learned.
func TestFollowerKeepsTheLeadersReportsAndLessons(t *testing.T) {
	now := time.Date(2026, 11, 25, 21, 30, 0, 0, time.UTC)
	f := &Follower{board: &scaler.Board{}, now: func() time.Time { return now }}
	book := &scaler.ReportBook{}
	var got map[string][]policies.Lesson
	f.KeepReportsIn(book)
	f.KeepLessonsWith(func(l map[string][]policies.Lesson) { got = l })
	f.take(&State{At: now, Epoch: 2,
		Lessons: map[string][]policies.Lesson{"shop/web|tf1-prime": {{Window: "spot", Start: now, Ratio: 3.1}}},
		Reports: []scaler.ReportRecord{{Namespace: "shop", Target: "web", Window: "spot", File: "w.yaml", Start: now, Sentence: "spot on Wed"}}}, zap.NewNop())
	if r, ok := book.Lookup(ground.TargetKey{Namespace: "shop", Name: "web"}, "w.yaml", "spot", now); !ok || r.Sentence != "spot on Wed" {
		t.Errorf("report kept: %+v, %v", r, ok)
	}
	if ls := got["shop/web|tf1-prime"]; len(ls) != 1 || ls[0].Ratio != 3.1 {
		t.Errorf("lessons handed on: %v", got)
	}
}

// TestStateTooLargeLeavesTheBaselinesOut: 10,000 targets with ten latched
// baselines each, at measured loads (not round: gzip cannot shrink them),
// take more than a ConfigMap holds. The state is still handed over, with
// the decisions, lessons and reports, and without the baselines; Publish
// says so. A small state keeps its baselines.
func TestStateTooLargeLeavesTheBaselinesOut(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 25, 20, 40, 0, 0, time.UTC)
	rnd := rand.New(rand.NewPCG(1, 2))
	var decisions []scaler.Published
	for i := range 10000 {
		r := int32(10 + i%50)
		decisions = append(decisions, scaler.Published{Namespace: fmt.Sprintf("shop-%d", i%10), Name: fmt.Sprintf("app-%d", i), Replicas: &r, At: now, Floor: true})
	}
	big := &State{At: now, Leader: "a", Epoch: 2, Decisions: decisions,
		Latched: func(yield func(string, scaler.Baseline) bool) {
			for i := range 10000 {
				for w := range 10 {
					key := fmt.Sprintf("shop-%d/app-%d|w.yaml|w-%d|2026-11-25T20:45:00Z", i%10, i, w)
					if !yield(key, scaler.Baseline{Load: 100 + 50*rnd.Float64(), Peak: 300 + 200*rnd.Float64(), Keep: now.Add(2 * time.Hour)}) {
						return
					}
				}
			}
		},
		Lessons: map[string][]policies.Lesson{"shop-1/app-1|tf1-prime": {{Window: "spot", Start: now, Ratio: 3.1}}},
	}
	client := fake.NewClientset()
	err := Publish(ctx, client, "primetime", big)
	if !errors.Is(err, ErrBaselinesLeftOut) {
		t.Fatalf("Publish of 100,000 measured baselines: %v, want ErrBaselinesLeftOut", err)
	}
	t.Log(err)
	got, err := Load(ctx, client, "primetime")
	if err != nil || got == nil {
		t.Fatalf("Load: %v %v", got, err)
	}
	if len(got.Decisions) != 10000 || got.Epoch != 2 || len(got.Baselines) != 0 || got.Lessons["shop-1/app-1|tf1-prime"][0].Ratio != 3.1 {
		t.Errorf("handed over %d decisions, epoch %d, %d baselines, lessons %v; want 10,000 decisions, epoch 2, no baselines, the 3.1x lesson",
			len(got.Decisions), got.Epoch, len(got.Baselines), got.Lessons)
	}
	small := &State{At: now, Leader: "a", Epoch: 2, Decisions: decisions[:1],
		Baselines: map[string]scaler.Baseline{"shop-0/app-0|w.yaml|w-0|2026-11-25T20:45:00Z": {Load: 123.456, Keep: now}}}
	if err := Publish(ctx, client, "primetime", small); err != nil {
		t.Fatalf("Publish of one baseline: %v", err)
	}
	if got, err := Load(ctx, client, "primetime"); err != nil || got.Baselines["shop-0/app-0|w.yaml|w-0|2026-11-25T20:45:00Z"].Load != 123.456 {
		t.Errorf("one baseline handed over: %+v %v, want load 123.456", got, err)
	}
}
