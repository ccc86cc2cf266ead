package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"

	"github.com/primetime-dev/primetime/e2e/testbed"
)

// warnings collects the API server's warnings (PodSecurity's among them).
type warnings struct {
	mu   sync.Mutex
	list []string
}

func (w *warnings) HandleWarningHeaderWithContext(_ context.Context, _ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = append(w.list, text)
}

func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.list
	w.list = nil
	return out
}

// TestChartOnTheAPIServer applies what helm renders for the chart (with
// hpa-floor mode, a target with nodes:, placeholders in its namespace —
// the PriorityClass, a Role and RoleBinding there — and the example
// windows) to a real kube-apiserver with server-side dry-run, in a
// namespace that enforces the "restricted" Pod Security Standard: every
// object must be accepted with no warning, and a pod made from the
// Deployment's template must be admitted.
func TestChartOnTheAPIServer(t *testing.T) {
	scenario(t) // on a control plane of its own: the chart holds cluster-wide objects
	helm := testbed.Helm(t)
	_, file, _, _ := runtime.Caller(0)
	chart := filepath.Join(filepath.Dir(file), "..", "charts", "primetime")
	c := testbed.StartCluster(t, testbed.ClusterOptions{})
	ctx := context.Background()
	pss := map[string]string{}
	for _, mode := range []string{"enforce", "warn", "audit"} {
		pss["pod-security.kubernetes.io/"+mode] = "restricted"
		pss["pod-security.kubernetes.io/"+mode+"-version"] = "latest"
	}
	c.Namespace(t, "primetime", pss)
	c.Namespace(t, "storefront", nil) // the target's: placeholders' Role and RoleBinding

	out, err := exec.Command(helm, "template", "pt", chart, "--namespace", "primetime",
		"--set", "modes.hpaFloor=true", "--set", "prometheus.url=http://prometheus.monitoring.svc:9090",
		"--set", "targets[0].name=web", "--set", "targets[0].namespace=storefront",
		"--set", "targets[0].scaleTargetRef.kind=Deployment", "--set", "targets[0].scaleTargetRef.name=web",
		"--set", "targets[0].load.prometheus=sum(rate(http_requests_total[1m]))", "--set", "targets[0].capacityPerReplica=50",
		"--set", "targets[0].maxReplicas=100", "--set", "targets[0].nodes.leadTime=6m",
		"--set", "placeholders.enabled=true", "--set", "placeholders.namespaces={storefront}").CombinedOutput()
	if err != nil {
		t.Fatalf("helm template: %v\n%s", err, out)
	}

	w := &warnings{}
	cfg := rest.CopyConfig(c.Config)
	cfg.WarningHandlerWithContext = w
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	dryRun := metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}, FieldValidation: "Strict"}

	var podTemplate map[string]any
	applied := 0
	for _, doc := range strings.Split(string(out), "\n---") {
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			t.Fatalf("rendered YAML: %v", err)
		}
		if obj == nil {
			continue
		}
		u := &unstructured.Unstructured{Object: obj}
		gvk := u.GroupVersionKind()
		name := fmt.Sprintf("%s %s", gvk.Kind, u.GetName())
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			t.Errorf("%s: the API server does not know the kind: %v", name, err)
			continue
		}
		var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
		if m.Scope.Name() == meta.RESTScopeNameNamespace {
			ns := u.GetNamespace()
			if ns == "" {
				ns = "primetime"
			}
			ri = dyn.Resource(m.Resource).Namespace(ns)
		}
		if _, err := ri.Create(ctx, u, dryRun); err != nil {
			t.Errorf("%s rejected: %v", name, err)
		}
		if ws := w.take(); len(ws) > 0 {
			t.Errorf("%s: warnings %q", name, ws)
		}
		applied++
		if gvk.Kind == "Deployment" {
			podTemplate, _, _ = unstructured.NestedMap(obj, "spec", "template")
		}
	}
	if podTemplate == nil {
		t.Fatal("no Deployment rendered")
	}
	// The Deployment is only warned about; PodSecurity enforces on pods.
	podTemplate["apiVersion"], podTemplate["kind"] = "v1", "Pod"
	pod := &corev1.Pod{}
	if err := runtimeConvert(podTemplate, pod); err != nil {
		t.Fatal(err)
	}
	pod.Name = "pt-primetime-admission-check"
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Admission looks the pod's ServiceAccount up: create it for real.
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: pod.Spec.ServiceAccountName}}
	if _, err := cs.CoreV1().ServiceAccounts("primetime").Create(ctx, sa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Pods("primetime").Create(ctx, pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		t.Errorf("the chart's pod is not admitted under the restricted standard: %v", err)
	}
	if ws := w.take(); len(ws) > 0 {
		t.Errorf("the chart's pod: warnings %q", ws)
	}
	if t.Failed() {
		return
	}
	t.Logf("%d rendered objects and the chart's pod accepted by kube-apiserver in a namespace enforcing restricted, no warning", applied)
}

// runtimeConvert fills a typed object from an unstructured map.
func runtimeConvert(in map[string]any, out any) error {
	b, err := yaml.Marshal(in)
	if err != nil {
		return err
	}
	return yaml.Unmarshal(b, out)
}
