package actuate

import (
	"context"
	"testing"
	"testing/synctest"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/scaler"
)

var (
	_ scaler.ReadyReader     = (*Actuator)(nil)
	_ scaler.WorkloadWatcher = (*Actuator)(nil)
)

// TestReadyReplicasFromTheCache: the engine learns how long pods take
// from the workload's status.readyReplicas, read from the cache without
// a call: 0 while the Deployment reports none, the count once it does.
func TestReadyReplicasFromTheCache(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newScaleRig(t, 4, nil)
		tg := target(ground.ModeHPAFloor)
		if got := r.a.ReadyReplicas(tg); got != ground.Some[int32](0) {
			t.Fatalf("ready %v, want 0 (no status yet)", got)
		}
		u, err := r.dyn.Resource(deployments).Namespace("shop").Get(context.Background(), "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		_ = unstructured.SetNestedField(u.Object, int64(3), "status", "readyReplicas")
		if _, err := r.dyn.Resource(deployments).Namespace("shop").Update(context.Background(), u, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if got := r.a.ReadyReplicas(tg); got != ground.Some[int32](3) {
			t.Errorf("ready %v, want 3", got)
		}
		if got := (&Actuator{}).ReadyReplicas(tg); got.OK {
			t.Errorf("without a workload cache: %v, want unknown", got)
		}
	})
}
