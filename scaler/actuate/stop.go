package actuate

import (
	"context"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
)

// StopDeployment scales the Deployment namespace/name to 0 through its
// /scale subresource (conflict-safe: at the version read) and waits until
// none of its pods is left, or ctx ends. A Deployment already gone is
// stopped. primetime restore --stop stops primetime itself with it, so
// that no replica writes again what restore puts back.
func StopDeployment(ctx context.Context, client kubernetes.Interface, namespace, name string) error {
	deps := client.AppsV1().Deployments(namespace)
	dep, err := deps.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := deps.UpdateScale(ctx, name, &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, ResourceVersion: dep.ResourceVersion},
		Spec: autoscalingv1.ScaleSpec{Replicas: 0}}, metav1.UpdateOptions{FieldManager: FieldManager}); err != nil {
		return err
	}
	sel, err := metav1.LabelSelectorAsSelector(dep.Spec.Selector)
	if err != nil {
		return err
	}
	return wait.PollUntilContextCancel(ctx, time.Second, true, func(ctx context.Context) (bool, error) {
		pods, err := client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
		if err != nil {
			return false, err
		}
		return len(pods.Items) == 0, nil
	})
}
