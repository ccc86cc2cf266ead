package scrape

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// PodLister lists the pods of a namespace that match a selector.
type PodLister interface {
	Pods(namespace string, selector labels.Selector) ([]*corev1.Pod, error)
}

// InformerPods lists pods from client-go informers: one pod informer per
// namespace that has scrape targets, started on first use, so primetime
// watches only the namespaces it scrapes, not every pod of the cluster.
type InformerPods struct {
	client  kubernetes.Interface
	ctx     context.Context
	resync  time.Duration
	mu      sync.Mutex
	listers map[string]podNamespaceLister
}

type podNamespaceLister struct {
	informer cache.SharedIndexInformer
	factory  informers.SharedInformerFactory
}

// NewInformerPods returns a lister whose informers stop when ctx ends.
func NewInformerPods(ctx context.Context, client kubernetes.Interface) *InformerPods {
	return &InformerPods{client: client, ctx: ctx, resync: 10 * time.Minute, listers: map[string]podNamespaceLister{}}
}

// syncTimeout bounds the wait for a new namespace's informer to fill.
const syncTimeout = 30 * time.Second

// Pods implements PodLister.
func (p *InformerPods) Pods(namespace string, selector labels.Selector) ([]*corev1.Pod, error) {
	p.mu.Lock()
	l, ok := p.listers[namespace]
	if !ok {
		factory := informers.NewSharedInformerFactoryWithOptions(p.client, p.resync, informers.WithNamespace(namespace))
		l = podNamespaceLister{informer: factory.Core().V1().Pods().Informer(), factory: factory}
		p.listers[namespace] = l
		factory.Start(p.ctx.Done())
	}
	p.mu.Unlock()
	if !l.informer.HasSynced() {
		ctx, cancel := context.WithTimeout(p.ctx, syncTimeout)
		defer cancel()
		if !cache.WaitForCacheSync(ctx.Done(), l.informer.HasSynced) {
			return nil, fmt.Errorf("the pod list of namespace %s is not available yet", namespace)
		}
	}
	return l.factory.Core().V1().Pods().Lister().Pods(namespace).List(selector)
}
