package calendar

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/primetime-dev/primetime/ground"
)

// readyTimeout bounds one look-up of a workload's ready replicas.
const readyTimeout = 2 * time.Second

// WorkloadReady returns a Page.Ready that reads status.readyReplicas of a
// target's Deployment or StatefulSet from the API server (the page asks
// only for the targets in a window). Other kinds, and failures, are
// unknown.
func WorkloadReady(client kubernetes.Interface) func(context.Context, *ground.Target) ground.Opt[int32] {
	return func(ctx context.Context, t *ground.Target) ground.Opt[int32] {
		ctx, cancel := context.WithTimeout(ctx, readyTimeout)
		defer cancel()
		ref := t.ScaleTargetRef
		switch ref.Kind {
		case "Deployment":
			d, err := client.AppsV1().Deployments(t.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
			if err == nil {
				return ground.Some(d.Status.ReadyReplicas)
			}
		case "StatefulSet":
			s, err := client.AppsV1().StatefulSets(t.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
			if err == nil {
				return ground.Some(s.Status.ReadyReplicas)
			}
		}
		return ground.None[int32]()
	}
}
