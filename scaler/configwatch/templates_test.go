package configwatch

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"

	"github.com/primetime-dev/primetime/policies/config"
)

// The store expands targets' template variables with the daemon's
// Loader; one it cannot expand rejects that target alone, with an
// InvalidEntry Event naming the variable.
func TestStoreExpandsTemplateVariables(t *testing.T) {
	const targets = `targets:
  - name: web
    scaleTargetRef: {kind: Deployment, name: web}
    load: {datadog: 'sum:trace.http.request.hits{kube_cluster_name:%%cluster%%,region:%%env_REGION%%}.as_rate()'}
    capacityPerReplica: 10
    maxReplicas: 50
  - name: api
    scaleTargetRef: {kind: Deployment, name: api}
    load: {datadog: 'sum:trace.http.request.hits{service:api}.as_rate()'}
    capacityPerReplica: 10
    maxReplicas: 50
`
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "primetime-targets", Namespace: "storefront", ResourceVersion: "1", Labels: map[string]string{config.LabelTargets: "true"}},
		Data:       map[string]string{"targets.yaml": targets},
	}
	queries := func(s *Store) map[string]string {
		out := map[string]string{}
		for _, tg := range s.Snapshot().Targets {
			out[tg.Name] = tg.Load.Datadog
		}
		return out
	}
	env := func(name string) (string, bool) {
		if name == "REGION" {
			return "eu-west-1", true
		}
		return "", false
	}

	rec := record.NewFakeRecorder(10)
	s := NewStore(rec, nil)
	s.Loader = config.Loader{Cluster: "eu", LookupEnv: env}
	s.Apply(cm)
	if got := queries(s); len(got) != 2 || got["web"] != "sum:trace.http.request.hits{kube_cluster_name:eu,region:eu-west-1}.as_rate()" {
		t.Errorf("queries in force: %v", got)
	}
	if ev := drain(rec); len(ev) != 0 {
		t.Errorf("events: %v", ev)
	}

	rec = record.NewFakeRecorder(10)
	s = NewStore(rec, nil)
	s.Loader = config.Loader{Cluster: "eu"}
	s.Apply(cm)
	if got := queries(s); len(got) != 1 || got["api"] != "sum:trace.http.request.hits{service:api}.as_rate()" {
		t.Errorf("queries in force: %v", got)
	}
	want := `Warning InvalidEntry target "web": load.datadog: %%env_REGION%% is not set in primetime's environment ([targets.yaml] line 4)`
	if ev := drain(rec); len(ev) != 1 || ev[0] != want {
		t.Errorf("events:\n%q\nwant:\n%q", ev, want)
	}
	if snap := s.Snapshot(); snap.ValidTargets != 1 || snap.InvalidTargets != 1 {
		t.Errorf("counts: %d valid, %d invalid", snap.ValidTargets, snap.InvalidTargets)
	}
}
