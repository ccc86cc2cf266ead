package actuate

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery/cached/memory"
	fakedisco "k8s.io/client-go/discovery/fake"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/restmapper"
	k8stesting "k8s.io/client-go/testing"

	"github.com/primetime-dev/primetime/ground"
)

// countingMapper counts the look-ups that reach the discovery mapper.
type countingMapper struct {
	meta.RESTMapper
	calls atomic.Int32
}

func (m *countingMapper) RESTMapping(gk schema.GroupKind, versions ...string) (*meta.RESTMapping, error) {
	m.calls.Add(1)
	return m.RESTMapper.RESTMapping(gk, versions...)
}

// TestWorkloadKindsResolvedOnce: a kind's resource is asked of the
// discovery mapper once, not at every cycle of every target; a kind not
// served yet is asked again, and found once its API is installed.
func TestWorkloadKindsResolvedOnce(t *testing.T) {
	rollouts := schema.GroupVersion{Group: "argoproj.io", Version: "v1alpha1"}
	defaults := meta.NewDefaultRESTMapper([]schema.GroupVersion{{Group: "apps", Version: "v1"}, rollouts})
	defaults.Add(schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, meta.RESTScopeNamespace)
	mapper := &countingMapper{RESTMapper: defaults}
	w := &Workloads{Mapper: mapper}
	target := func(apiVersion, kind string) *ground.Target {
		return &ground.Target{Namespace: "shop", ScaleTargetRef: ground.ScaleTargetRef{APIVersion: apiVersion, Kind: kind, Name: "web"}}
	}

	for range 3 {
		gvr, err := w.resource(target("apps/v1", "Deployment"))
		if err != nil {
			t.Fatal(err)
		}
		if want := (schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}); gvr != want {
			t.Fatalf("Deployment resolved to %v, want %v", gvr, want)
		}
	}
	if n := mapper.calls.Load(); n != 1 {
		t.Errorf("3 look-ups of apps/v1 Deployment asked the mapper %d times, want 1", n)
	}

	for range 2 {
		_, err := w.resource(target("argoproj.io/v1alpha1", "Rollout"))
		if err == nil || !strings.HasPrefix(err.Error(), "argoproj.io/v1alpha1 Rollout: ") {
			t.Fatalf("a kind not served: error %v, want one naming argoproj.io/v1alpha1 Rollout", err)
		}
	}
	if n := mapper.calls.Load(); n != 3 {
		t.Errorf("after 2 look-ups of a kind not served the mapper was asked %d times in all, want 3", n)
	}
	defaults.Add(rollouts.WithKind("Rollout"), meta.RESTScopeNamespace)
	gvr, err := w.resource(target("argoproj.io/v1alpha1", "Rollout"))
	if err != nil {
		t.Fatalf("a kind installed since: %v", err)
	}
	if gvr.Resource != "rollouts" {
		t.Errorf("Rollout resolved to %v, want the rollouts resource", gvr)
	}
}

// discoveryMapper is the daemon's mapper (discovery through a memory
// cache) over a fake discovery serving apps/v1 Deployments, and a
// function installing the Argo Rollout CRD into it.
func discoveryMapper(t *testing.T) (meta.RESTMapper, func()) {
	t.Helper()
	fd := &fakedisco.FakeDiscovery{Fake: &k8stesting.Fake{}}
	fd.Resources = []*metav1.APIResourceList{{GroupVersion: "apps/v1", APIResources: []metav1.APIResource{{Name: "deployments", Kind: "Deployment", Namespaced: true}}}}
	install := func() {
		fd.Resources = append(fd.Resources, &metav1.APIResourceList{GroupVersion: "argoproj.io/v1alpha1",
			APIResources: []metav1.APIResource{{Name: "rollouts", Kind: "Rollout", Namespaced: true}}})
	}
	return restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(fd)), install
}

// TestCRDInstalledAfterStartIsFound: with the daemon's discovery mapper,
// which keeps what it first discovered, a target on a kind whose CRD is
// installed after primetime started is found, within MapperResetEvery of
// the last discovery, without a restart.
func TestCRDInstalledAfterStartIsFound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mapper, install := discoveryMapper(t)
		w := &Workloads{Mapper: mapper}
		rollout := &ground.Target{Namespace: "shop", ScaleTargetRef: ground.ScaleTargetRef{APIVersion: "argoproj.io/v1alpha1", Kind: "Rollout", Name: "web"}}
		deployment := target(ground.ModeScale)
		if _, err := w.resource(deployment); err != nil {
			t.Fatal(err)
		}
		_, err := w.resource(rollout)
		if want := `argoproj.io/v1alpha1 Rollout: no matches for kind "Rollout" in version "argoproj.io/v1alpha1"`; err == nil || err.Error() != want {
			t.Fatalf("before the CRD: %v, want %q", err, want)
		}
		install()
		if _, err := w.resource(rollout); err == nil {
			t.Fatal("found right after the last discovery: want the kinds discovered again only after MapperResetEvery")
		}
		time.Sleep(MapperResetEvery)
		gvr, err := w.resource(rollout)
		if want := (schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "rollouts"}); err != nil || gvr != want {
			t.Fatalf("after the CRD and %s: %v %v, want %v", MapperResetEvery, gvr, err, want)
		}
		if _, err := w.resource(deployment); err != nil {
			t.Fatalf("Deployments after the new discovery: %v", err)
		}
	})
}

// TestWatchedKindReadyAtTheFirstRead: a target on a kind the cache does
// not watch from the start (an Argo Rollout) is watched when the
// configuration names it, so that its ready replicas are known at a
// floor's first cycle instead of one cycle later (a floor met at once
// would otherwise teach a lead of one cycle).
func TestWatchedKindReadyAtTheFirstRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ro := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
			"metadata": map[string]any{"name": "web", "namespace": "shop"},
			"spec":     map[string]any{"replicas": int64(50)},
			"status":   map[string]any{"readyReplicas": int64(50)},
		}}
		w, _, tg := rolloutWorkloads(ground.ModeHPAFloor, ro)
		w.Start(t.Context())
		a := &Actuator{Workloads: w}
		a.Watch(tg)
		synctest.Wait()
		if got := a.ReadyReplicas(tg); got != ground.Some[int32](50) {
			t.Fatalf("ready at the first read after Watch: %v, want 50", got)
		}
	})
}

// TestUnlistableKindKeepsTheDaemonReady: a target on a kind primetime may
// not list (an Argo Rollout without the RBAC rule) leaves the daemon ready,
// so the external metrics API keeps serving every other target; its own
// workload reads unknown.
func TestUnlistableKindKeepsTheDaemonReady(t *testing.T) {
	w, dyn, tg := rolloutWorkloads(ground.ModeMetric)
	var refused atomic.Int32
	dyn.PrependReactor("list", "rollouts", func(k8stesting.Action) (bool, runtime.Object, error) {
		refused.Add(1)
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "argoproj.io", Resource: "rollouts"}, "", errors.New("no RBAC rule"))
	})
	w.Start(t.Context())
	a := &Actuator{Workloads: w}
	a.Watch(tg)
	deadline := time.Now().Add(10 * time.Second)
	for refused.Load() == 0 || !w.HasSynced() {
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s: Rollout lists refused %d times, ready %v: want refused and ready", refused.Load(), w.HasSynced())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := a.ReadyReplicas(tg); got.OK {
		t.Errorf("ready replicas of the unlistable Rollout %v, want unknown", got)
	}
}

// rolloutWorkloads is a workload cache over a fake API serving Argo
// Rollouts (with objs), its dynamic client for reactors, and the
// storefront Rollout target in mode.
func rolloutWorkloads(mode ground.Mode, objs ...runtime.Object) (*Workloads, *dynamicfake.FakeDynamicClient, *ground.Target) {
	rollouts := schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "rollouts"}
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		deployments: "DeploymentList", {Group: "apps", Version: "v1", Resource: "statefulsets"}: "StatefulSetList", rollouts: "RolloutList"}, objs...)
	mapper := meta.NewDefaultRESTMapper(nil)
	mapper.Add(schema.GroupVersionKind{Group: "argoproj.io", Version: "v1alpha1", Kind: "Rollout"}, meta.RESTScopeNamespace)
	tg := &ground.Target{Namespace: "shop", Mode: mode, ScaleTargetRef: ground.ScaleTargetRef{APIVersion: "argoproj.io/v1alpha1", Kind: "Rollout", Name: "web"}}
	return &Workloads{Dynamic: dyn, Mapper: mapper}, dyn, tg
}
