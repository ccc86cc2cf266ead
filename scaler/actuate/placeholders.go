package actuate

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/policies"
)

// Placeholder pods: what they carry.
const (
	// LabelPlaceholderFor names the target a placeholder pod reserves
	// nodes for; every placeholder has it, and only placeholders.
	LabelPlaceholderFor = "primetime.dev/placeholder-for"
	// LabelManagedBy marks what primetime created.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// AnnotationPlaceholderWindow names the window it reserves for.
	AnnotationPlaceholderWindow = "primetime.dev/placeholder-window"
	// DefaultPlaceholderImage and DefaultPlaceholderPriorityClass are the
	// serve flags' defaults (the chart creates the PriorityClass).
	DefaultPlaceholderImage         = "registry.k8s.io/pause:3.10"
	DefaultPlaceholderPriorityClass = "primetime-placeholder"
	// Reasons of the Events about placeholders, on the workload.
	ReasonPlaceholdersCreated = "PlaceholdersCreated"
	ReasonPlaceholdersRemoved = "PlaceholdersRemoved"
	ReasonPlaceholdersFailed  = "PlaceholdersFailed"
	// PlaceholderResync is how often placeholders are reconciled even
	// when no decision changed them (a pod deleted by someone, preempted).
	PlaceholderResync = 10 * time.Second
)

// Placeholders runs the placeholder pods of the targets with "nodes:":
// pause containers with the workload's pod requests and scheduling
// constraints, in a PriorityClass below every workload, so that the node
// autoscaler adds nodes before a window's floor and the real pods preempt
// them. Desire takes the engine's reservations (from memory, no API call);
// Run, while this replica leads, makes the pods match: it creates the
// missing ones, deletes the extra ones, and deletes every placeholder no
// target reserves any more (target deleted, "nodes:" removed, the window
// over), found by their label, so none is ever left behind.
type Placeholders struct {
	Client        kubernetes.Interface
	Image         string
	PriorityClass string
	Recorder      record.EventRecorder
	Log           *zap.Logger

	mu    sync.Mutex
	wants map[ground.TargetKey]placeholderWant
	kick  chan struct{}
	said  map[ground.TargetKey]string // the last Event recorded per target, not repeated
	// clean: the last list found no placeholder and none was wanted since;
	// Reconcile then lists no pods (a cluster-wide list every 10 s costs
	// the API server on a large cluster).
	clean bool
}

type placeholderWant struct {
	target ground.Target
	res    policies.Reservation
}

func (p *Placeholders) init() {
	if p.wants == nil {
		p.wants = map[ground.TargetKey]placeholderWant{}
		p.kick = make(chan struct{}, 1)
		p.said = map[ground.TargetKey]string{}
	}
}

// Desire takes one cycle's reservations: one decision per target, in the
// order of targets.
func (p *Placeholders) Desire(targets []ground.Target, decisions []policies.Decision) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.init()
	changed := false
	wants := make(map[ground.TargetKey]placeholderWant, len(p.wants))
	for i := range decisions {
		t := &targets[i]
		if t.Nodes == nil || t.DryRun {
			continue
		}
		w := placeholderWant{target: *t, res: decisions[i].Reservation}
		if w.res.Pods > 0 {
			wants[t.Key()] = w
		}
		if old, ok := p.wants[t.Key()]; !ok && w.res.Pods > 0 || ok && old.res != w.res {
			changed = true
		}
	}
	if len(wants) != len(p.wants) {
		changed = true
	}
	p.wants = wants
	if changed {
		select {
		case p.kick <- struct{}{}:
		default:
		}
	}
}

// Run reconciles the placeholders whenever the reservations change, and
// every PlaceholderResync, until ctx ends.
func (p *Placeholders) Run(ctx context.Context) {
	p.mu.Lock()
	p.init()
	kick := p.kick
	p.clean = false // a term starts by looking: the previous leader may have left some
	p.mu.Unlock()
	t := time.NewTicker(PlaceholderResync)
	defer t.Stop()
	for {
		if err := p.Reconcile(ctx); err != nil && ctx.Err() == nil && p.Log != nil {
			p.Log.Warn("cannot reconcile placeholder pods", zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return
		case <-kick:
		case <-t.C:
		}
	}
}

// Reconcile makes the placeholder pods match the reservations once.
func (p *Placeholders) Reconcile(ctx context.Context) error {
	p.mu.Lock()
	p.init()
	wants := make(map[ground.TargetKey]placeholderWant, len(p.wants))
	for k, v := range p.wants {
		wants[k] = v
	}
	skip := p.clean && len(wants) == 0
	p.mu.Unlock()
	if skip {
		return nil
	}
	list, err := p.Client.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{LabelSelector: LabelPlaceholderFor})
	if err != nil {
		return fmt.Errorf("listing placeholder pods: %w", err)
	}
	have := map[ground.TargetKey][]corev1.Pod{}
	for _, pod := range list.Items {
		if pod.DeletionTimestamp != nil {
			continue
		}
		k := ground.TargetKey{Namespace: pod.Namespace, Name: pod.Labels[LabelPlaceholderFor]}
		have[k] = append(have[k], pod)
	}
	p.mu.Lock()
	p.clean = len(have) == 0 && len(wants) == 0
	p.mu.Unlock()
	var errs []error
	for k, w := range wants {
		pods := have[k]
		delete(have, k)
		switch n := int(w.res.Pods); {
		case len(pods) < n:
			if err := p.create(ctx, &w, n-len(pods)); err != nil {
				errs = append(errs, err)
			}
		case len(pods) > n:
			// The newest go first: the oldest are the likeliest placed.
			sort.Slice(pods, func(i, j int) bool { return pods[j].CreationTimestamp.Before(&pods[i].CreationTimestamp) })
			if err := p.remove(ctx, &w.target, k, pods[:len(pods)-n], fmt.Sprintf("%d placeholder pods now (the workload has grown towards the floor)", n)); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for k, pods := range have { // reserved by no target any more
		var t *ground.Target
		if w, ok := p.lastTarget(k); ok {
			t = &w
		}
		if err := p.remove(ctx, t, k, pods, "no window needs them any more"); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return errs[0]
	}
	return nil
}

// lastTarget returns the target a key was last known as, for its Events.
func (p *Placeholders) lastTarget(k ground.TargetKey) (ground.Target, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	w, ok := p.wants[k]
	return w.target, ok
}

// create makes n placeholder pods for w.
func (p *Placeholders) create(ctx context.Context, w *placeholderWant, n int) error {
	t := &w.target
	spec, err := p.podSpec(ctx, t)
	if err != nil {
		p.event(t, corev1.EventTypeWarning, ReasonPlaceholdersFailed, "cannot reserve nodes for window %q: %v", w.res.Window, err)
		return err
	}
	name := t.Name
	if len(name) > 40 {
		name = name[:40]
	}
	for range n {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{
				GenerateName: name + "-placeholder-",
				Namespace:    t.Namespace,
				Labels:       map[string]string{LabelPlaceholderFor: t.Name, LabelManagedBy: "primetime"},
				Annotations:  map[string]string{AnnotationPlaceholderWindow: w.res.Window},
			},
			Spec: *spec.DeepCopy(),
		}
		if _, err := p.Client.CoreV1().Pods(t.Namespace).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			p.event(t, corev1.EventTypeWarning, ReasonPlaceholdersFailed, "cannot create placeholder pods for window %q: %v", w.res.Window, err)
			return fmt.Errorf("creating a placeholder pod for %s: %w", t.Key(), err)
		}
	}
	p.event(t, corev1.EventTypeNormal, ReasonPlaceholdersCreated, "%d placeholder pods reserve nodes for window %q: a floor of %d replicas from %s, %d beyond the workload's",
		w.res.Pods, w.res.Window, w.res.Floor, w.res.FloorStart.UTC().Format("15:04:05 MST"), w.res.Pods)
	return nil
}

// remove deletes pods, placeholders of key.
func (p *Placeholders) remove(ctx context.Context, t *ground.Target, k ground.TargetKey, pods []corev1.Pod, why string) error {
	zero := int64(0)
	for _, pod := range pods {
		err := p.Client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero,
			Preconditions: &metav1.Preconditions{UID: &pod.UID}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return fmt.Errorf("deleting placeholder pod %s/%s: %w", pod.Namespace, pod.Name, err)
		}
	}
	if t != nil {
		p.event(t, corev1.EventTypeNormal, ReasonPlaceholdersRemoved, "%d placeholder pods removed: %s", len(pods), why)
	} else if p.Log != nil {
		p.Log.Info("placeholder pods removed", zap.String("target", k.String()), zap.Int("pods", len(pods)), zap.String("why", why))
	}
	return nil
}

// podSpec is a placeholder's spec: one pause container requesting what a
// pod of the workload requests (limits equal, so it is Guaranteed and
// never throttled), its node selector, affinity, tolerations and topology
// spread constraints, and the placeholders' PriorityClass.
func (p *Placeholders) podSpec(ctx context.Context, t *ground.Target) (*corev1.PodSpec, error) {
	var tpl corev1.PodTemplateSpec
	ref := t.ScaleTargetRef
	switch ref.Kind {
	case "Deployment":
		d, err := p.Client.AppsV1().Deployments(t.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("reading Deployment %s/%s: %w", t.Namespace, ref.Name, err)
		}
		tpl = d.Spec.Template
	case "StatefulSet":
		s, err := p.Client.AppsV1().StatefulSets(t.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("reading StatefulSet %s/%s: %w", t.Namespace, ref.Name, err)
		}
		tpl = s.Spec.Template
	default:
		return nil, fmt.Errorf("placeholders copy a Deployment's or a StatefulSet's pods, not a %s's", ref.Kind)
	}
	requests := corev1.ResourceList{}
	for _, c := range tpl.Spec.Containers {
		for name, q := range c.Resources.Requests {
			sum := requests[name]
			sum.Add(q)
			requests[name] = sum
		}
	}
	if len(requests) == 0 {
		return nil, fmt.Errorf("the %s's pods request no resources: a placeholder would reserve nothing", ref.Kind)
	}
	image := p.Image
	if image == "" {
		image = DefaultPlaceholderImage
	}
	class := p.PriorityClass
	if class == "" {
		class = DefaultPlaceholderPriorityClass
	}
	no := false
	zero := int64(0)
	return &corev1.PodSpec{
		Containers: []corev1.Container{{Name: "reserve", Image: image,
			Resources: corev1.ResourceRequirements{Requests: requests, Limits: limitsOf(requests)}}},
		NodeSelector:                  tpl.Spec.NodeSelector,
		Affinity:                      tpl.Spec.Affinity,
		Tolerations:                   tpl.Spec.Tolerations,
		TopologySpreadConstraints:     tpl.Spec.TopologySpreadConstraints,
		PriorityClassName:             class,
		TerminationGracePeriodSeconds: &zero,
		AutomountServiceAccountToken:  &no,
		EnableServiceLinks:            &no,
	}, nil
}

// limitsOf returns the limits of a Guaranteed pod of these requests
// (only CPU and memory: extended resources cannot be overcommitted anyway).
func limitsOf(requests corev1.ResourceList) corev1.ResourceList {
	out := corev1.ResourceList{}
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if q, ok := requests[name]; ok {
			out[name] = q.DeepCopy()
		}
	}
	return out
}

// event records an Event on the target's workload, unless the same
// message was the last one recorded for it.
func (p *Placeholders) event(t *ground.Target, typ, reason, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.mu.Lock()
	p.init()
	same := p.said[t.Key()] == reason+msg
	p.said[t.Key()] = reason + msg
	p.mu.Unlock()
	if same {
		return
	}
	if p.Log != nil {
		p.Log.Info("placeholders", zap.String("target", t.Key().String()), zap.String("reason", reason), zap.String("message", msg))
	}
	if p.Recorder != nil {
		p.Recorder.Event(workloadRef(t), typ, reason, msg)
	}
}

// RemoveAllPlaceholders deletes every placeholder pod (primetime
// restore, run when primetime is uninstalled)
// (in namespace, or all when empty): a refusal (RBAC) is returned at
// once, other errors are tried again.
func RemoveAllPlaceholders(ctx context.Context, client kubernetes.Interface, namespace string) (int, error) {
	removed := 0
	var last error
	err := wait.ExponentialBackoffWithContext(ctx, wait.Backoff{Duration: time.Second, Factor: 2, Steps: 5}, func(ctx context.Context) (bool, error) {
		list, err := client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: LabelPlaceholderFor})
		if apierrors.IsForbidden(err) {
			return false, err
		}
		if err != nil {
			last = err
			return false, nil
		}
		zero := int64(0)
		for _, pod := range list.Items {
			err := client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
			switch {
			case apierrors.IsForbidden(err):
				return false, err
			case err != nil && !apierrors.IsNotFound(err):
				last = err
				return false, nil
			}
			removed++
		}
		return true, nil
	})
	if wait.Interrupted(err) && last != nil {
		err = last
	}
	return removed, err
}
