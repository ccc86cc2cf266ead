package actuate

import (
	"strings"
	"sync/atomic"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"

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
