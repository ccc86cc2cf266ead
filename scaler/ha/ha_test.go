package ha

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.uber.org/zap"
	"k8s.io/client-go/kubernetes/fake"

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
	Follow(ctx, client, "primetime", board, func() bool { return leading }, zap.NewNop())
	deadline := time.Now().Add(5 * time.Second)
	for !board.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("the follower's board is empty")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if all := board.All(); len(all) != 10001 || !board.UpdatedAt().Equal(st.At) {
		t.Errorf("board: %d entries at %s", len(all), board.UpdatedAt())
	}
}
