package configwatch

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/primetime-dev/primetime/policies/config"
)

// Watch starts ConfigMap informers for both labels, in every namespace
// (namespaces empty) or in the given ones, feeding the store. It returns
// the informers' HasSynced functions.
func Watch(ctx context.Context, client kubernetes.Interface, namespaces []string, store *Store) []cache.InformerSynced {
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	var synced []cache.InformerSynced
	for _, ns := range namespaces {
		for _, label := range []string{config.LabelTargets, config.LabelWindows} {
			label := label
			selector := label + "=true"
			factory := informers.NewSharedInformerFactoryWithOptions(client, 10*time.Minute,
				informers.WithNamespace(ns),
				informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = selector }))
			inf := factory.Core().V1().ConfigMaps().Informer()
			_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
				AddFunc:    func(obj any) { applyObject(store, obj, label) },
				UpdateFunc: func(_, obj any) { applyObject(store, obj, label) },
				DeleteFunc: func(obj any) {
					if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
						obj = d.Obj
					}
					if cm, ok := obj.(*corev1.ConfigMap); ok && (cm.Labels[label] == "true" || cm.Labels[otherLabel(label)] != "true") {
						// Deleted, or relabelled out of primetime.
						store.Delete(cm.Namespace, cm.Name)
					}
				},
			})
			factory.Start(ctx.Done())
			synced = append(synced, inf.HasSynced)
		}
	}
	return synced
}

func otherLabel(label string) string {
	if label == config.LabelTargets {
		return config.LabelWindows
	}
	return config.LabelTargets
}

// applyObject applies a ConfigMap the informer of label saw; one without
// the label (which the label selector should have kept away) is ignored.
func applyObject(store *Store, obj any, label string) {
	if cm, ok := obj.(*corev1.ConfigMap); ok && cm.Labels[label] == "true" {
		store.Apply(cm)
	}
}
