package testbed

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
)

// Kubelet plays the kubelet through the API for the pods of one
// namespace (there is no scheduler nor kubelet here): it gives each new
// pod its own loopback address 127.0.K.N (K for this kubelet) and marks it Running, then Ready
// after StartupDelay, so that ready capacity is real and measurable.
type Kubelet struct {
	c            *Cluster
	namespace    string
	startupDelay time.Duration
	// onReady is called with a pod's address when it becomes ready (its
	// Service would send it traffic from then on), onStop when the pod
	// goes away: the load generator serves those addresses.
	onReady, onStop func(ip string)

	// prefix is this kubelet's own /24 of loopback addresses, so that
	// scenarios sharing a control plane never share a pod address.
	prefix string

	mu   sync.Mutex
	ips  map[types.UID]string
	free []int
	next int
}

// kubelets counts the kubelets started by this process: the n-th gives
// its pods the addresses 127.0.n.1 to 127.0.n.254.
var kubelets atomic.Int32

// StartKubelet starts playing the kubelet for namespace until ctx ends.
func (c *Cluster) StartKubelet(ctx context.Context, namespace string, startupDelay time.Duration, onReady, onStop func(ip string)) *Kubelet {
	n := kubelets.Add(1)
	k := &Kubelet{c: c, namespace: namespace, startupDelay: startupDelay, onReady: onReady, onStop: onStop, ips: map[types.UID]string{}, next: 1,
		prefix: fmt.Sprintf("127.%d.%d.", n/255, n%255)}
	factory := informers.NewSharedInformerFactoryWithOptions(c.Client, time.Minute, informers.WithNamespace(namespace))
	inf := factory.Core().V1().Pods().Informer()
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if p, ok := obj.(*corev1.Pod); ok {
				go k.run(ctx, p)
			}
		},
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if p, ok := obj.(*corev1.Pod); ok {
				k.release(p.UID)
			}
		},
	})
	factory.Start(ctx.Done())
	return k
}

func (k *Kubelet) allocate(uid types.UID) string {
	k.mu.Lock()
	defer k.mu.Unlock()
	if ip, ok := k.ips[uid]; ok {
		return ip
	}
	var n int
	if len(k.free) > 0 {
		n, k.free = k.free[0], k.free[1:]
	} else {
		n = k.next
		k.next++
	}
	ip := k.prefix + strconv.Itoa(n)
	k.ips[uid] = ip
	return ip
}

func (k *Kubelet) release(uid types.UID) {
	k.mu.Lock()
	ip, ok := k.ips[uid]
	if ok {
		delete(k.ips, uid)
		n, _ := strconv.Atoi(strings.TrimPrefix(ip, k.prefix))
		k.free = append(k.free, n)
	}
	k.mu.Unlock()
	if ok && k.onStop != nil {
		k.onStop(ip)
	}
}

// run takes one pod through start-up.
func (k *Kubelet) run(ctx context.Context, p *corev1.Pod) {
	if p.Status.PodIP != "" || p.DeletionTimestamp != nil {
		return
	}
	if _, ok := p.Labels["primetime.dev/placeholder-for"]; ok {
		return // a placeholder waits for a node that this test bed never adds: it stays Pending, as it would for minutes in a cluster
	}
	ip := k.allocate(p.UID)
	now := metav1.Now()
	cond := func(t corev1.PodConditionType, s corev1.ConditionStatus) corev1.PodCondition {
		return corev1.PodCondition{Type: t, Status: s, LastTransitionTime: now}
	}
	status := corev1.PodStatus{
		Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}, StartTime: &now,
		Conditions: []corev1.PodCondition{cond(corev1.PodScheduled, corev1.ConditionTrue), cond(corev1.PodInitialized, corev1.ConditionTrue),
			cond(corev1.ContainersReady, corev1.ConditionFalse), cond(corev1.PodReady, corev1.ConditionFalse)},
	}
	if !k.patchStatus(ctx, p.Name, status) {
		return
	}
	select {
	case <-ctx.Done():
		return
	case <-time.After(k.startupDelay):
	}
	ready := metav1.Now()
	status.Conditions[2] = corev1.PodCondition{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: ready}
	status.Conditions[3] = corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: ready}
	if k.patchStatus(ctx, p.Name, status) && k.onReady != nil && k.holds(p.UID, ip) {
		k.onReady(ip)
	}
}

// holds reports whether the pod still has the address (it was not deleted).
func (k *Kubelet) holds(uid types.UID, ip string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.ips[uid] == ip
}

func (k *Kubelet) patchStatus(ctx context.Context, name string, status corev1.PodStatus) bool {
	body, _ := json.Marshal(map[string]any{"status": status})
	_, err := k.c.Client.CoreV1().Pods(k.namespace).Patch(ctx, name, types.MergePatchType, body, metav1.PatchOptions{}, "status")
	return err == nil
}
