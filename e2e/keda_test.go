package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/primetime-dev/primetime/e2e/stage"
	"github.com/primetime-dev/primetime/e2e/testbed"
	"github.com/primetime-dev/primetime/policies/config"
)

// TestKEDA is the TV spot of TestTVSpot in a cluster where KEDA owns the
// external metrics API: a real KEDA operator and metrics server (built
// from github.com/kedacore/keda/v2 by e2e/keda/build.sh) own
// external.metrics.k8s.io for the scenario's namespace, and a ScaledObject
// with an `external` trigger reads primetime_replicas from primetime
// serve --keda-addr (gRPC, mutual TLS) on two replicas behind a Service.
// KEDA's HPA must pre-scale the Deployment to the floor before the spot
// starts. Then the leader crashes: the follower serves on, KEDA never
// falls back. Then the target is deleted: primetime answers NotFound and
// KEDA's fallback (currentReplicasIfHigher) holds the pre-scaled
// replicas. Then the last replica dies: KEDA answers the HPA an error
// (its fallback needs the metric spec), and the HPA holds them.
func TestKEDA(t *testing.T) {
	scenario(t)
	kedaDir := testbed.KEDA(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := stage.New(t, ctx, stage.Options{Rate: 50, Startup: 20 * time.Second, Cluster: sharedCluster(t), Namespace: "kedaspot"}) // 5 replicas at 10 requests/s each
	s.Deploy(t, ctx, 5, 2, 0)                                                                                                    // no HPA of ours: KEDA makes its own
	s.Configure(t, ctx, stage.WebTarget("2m", "metric"), "")

	// Two replicas electing a leader, each with its KEDA endpoint (asking
	// KEDA for a client certificate), behind one Service: followers serve
	// KEDA too. Each replica has a serving certificate of its own CA here,
	// so KEDA's caCert holds both, as during a CA rotation.
	clientCA := testbed.NewCA(t, "keda-clients")
	kedaClientCert, kedaClientKey := clientCA.Issue(t, "keda-operator")
	clientCAFile := testbed.WriteFile(t, t.TempDir(), "keda-client-ca.crt", clientCA.CertPEM)
	var replicas []*stage.Primetime
	var backends []string
	var caCerts []byte
	for i := range 2 {
		addr := fmt.Sprintf("127.0.0.1:%d", testbed.FreePort(t))
		p := s.StartPrimetime(t, "--prometheus-url="+s.Prom.URL, "--interval=5s", "--leader-elect", fmt.Sprintf("--identity=primetime-%d", i),
			"--keda-addr="+addr, "--keda-client-ca-file="+clientCAFile)
		replicas, backends, caCerts = append(replicas, p), append(backends, addr), append(caCerts, p.CA.CertPEM...)
	}
	service := testbed.StartServiceProxy(t, backends...)
	startKEDA(t, s, kedaDir) // from now on KEDA's metrics server answers the namespace's external metrics

	// The ScaledObject of docs/install.md, with the test bed's addresses.
	kubectlApply(t, s.C, fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata: {name: primetime-keda, namespace: %[1]s}
stringData:
  ca.crt: |
%[2]s
  tls.crt: |
%[3]s
  tls.key: |
%[4]s
---
apiVersion: keda.sh/v1alpha1
kind: TriggerAuthentication
metadata: {name: primetime, namespace: %[1]s}
spec:
  secretTargetRef:
    - {parameter: caCert, name: primetime-keda, key: ca.crt}
    - {parameter: tlsClientCert, name: primetime-keda, key: tls.crt}
    - {parameter: tlsClientKey, name: primetime-keda, key: tls.key}
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: web, namespace: %[1]s}
spec:
  scaleTargetRef: {name: web}
  pollingInterval: 5
  minReplicaCount: 2
  maxReplicaCount: 50
  fallback: {failureThreshold: 3, replicas: 5, behavior: currentReplicasIfHigher}
  advanced:
    horizontalPodAutoscalerConfig:
      behavior:
        scaleUp:
          stabilizationWindowSeconds: 0
          tolerance: "0"
          policies: [{type: Pods, value: 100, periodSeconds: 5}]
        scaleDown:
          stabilizationWindowSeconds: 0
          policies: [{type: Percent, value: 100, periodSeconds: 5}]
  triggers:
    - type: external
      metadata:
        scalerAddress: 127.0.0.1:%[5]d
        target: %[1]s/web
      authenticationRef: {name: primetime}
`, s.NS, indent(caCerts), indent(kedaClientCert), indent(kedaClientKey), service.Port))

	// Before any window: KEDA's metrics server serves primetime's value
	// (5 replicas for 50 requests/s, 6 when the load reads a hair above)
	// to the HPA KEDA generated, and that HPA follows it.
	hpas := s.C.Client.AutoscalingV2().HorizontalPodAutoscalers(s.NS)
	testbed.Eventually(t, 90*time.Second, time.Second, func() (bool, string) {
		v, err := kedaValue(ctx, s)
		h, herr := hpas.Get(ctx, "keda-hpa-web", metav1.GetOptions{})
		if herr != nil {
			return false, fmt.Sprintf("through KEDA %q (%v); no HPA from KEDA: %v", v, err, herr)
		}
		spec, _ := s.Replicas(ctx)
		return err == nil && (v == "5" || v == "6") && fmt.Sprint(spec) == v,
			fmt.Sprintf("through KEDA %q (%v), %d replicas; HPA keda-hpa-web: %s", v, err, spec, hpaConditions(h.Status.Conditions))
	})
	if list, _ := hpas.List(ctx, metav1.ListOptions{}); len(list.Items) != 1 {
		t.Fatalf("%d HPAs in %s, want only KEDA's", len(list.Items), s.NS)
	}

	// The usual load, as primetime reads it, is steady at 50 requests/s
	// before the window is written: the pods KEDA's HPA just started or
	// stopped make Prometheus's rate() read low for a while (a new
	// counter's first minute, a vanished one's last), and the floor's
	// baseline is the load just before it starts (a run latched 35).
	steady := 0
	testbed.Eventually(t, 2*time.Minute, time.Second, func() (bool, string) {
		leader, _ := leaderOf(replicas)
		if leader == nil {
			steady = 0
			return false, "no replica leads"
		}
		v, ok := leader.Metric("primetime_target_load", `kind="observed"`, `target="web"`)
		if ok && v > 47.5 && v <= 52.5 {
			steady++
		} else {
			steady = 0
		}
		return steady >= 5, fmt.Sprintf("the leader reads a load of %v (known %v), want 5 s steady at 50 requests/s", v, ok)
	})

	// The spot: 4x in 2m15s, lead time 2m: the floor starts in 15 s.
	start := time.Now().Add(135 * time.Second).Truncate(time.Second)
	if _, err := s.C.Client.CoreV1().ConfigMaps(s.NS).Create(ctx, stage.ConfigMap(s.NS, "tv-spots", config.LabelWindows, "spots.yaml", fmt.Sprintf(`windows:
  - name: tf1-spot
    start: %q
    duration: 1m
    expect: 4x
    targets: [%s/web]
`, start.UTC().Format(time.RFC3339), s.NS)), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// The floor: 4 × 50 = 200 requests/s at 10 per replica = 20 replicas,
	// 21 when the baseline latched read a hair above 50 (as the value
	// before the window may): primetime's own floor, from the leader's
	// series, is what KEDA must deliver exactly.
	floor := int32(0)
	var raised, reached time.Time
	for time.Now().Before(start) {
		if floor == 0 {
			for _, r := range replicas {
				if v, ok := r.Metric("primetime_target_replicas", `kind="floor"`, `target="web"`); ok {
					floor = int32(v)
				}
			}
		}
		spec, ready := s.Replicas(ctx)
		if spec > 6 && raised.IsZero() {
			raised = time.Now()
		}
		if floor > 0 && ready >= floor {
			reached = time.Now()
			break
		}
		time.Sleep(time.Second)
	}
	if reached.IsZero() {
		spec, ready := s.Replicas(ctx)
		t.Fatalf("at the spot's start: %d ready of %d replicas, want %d ready", ready, spec, floor)
	}
	if floor != 20 && floor != 21 {
		t.Errorf("primetime's floor %d, want 20 (21 with a baseline a hair above 50 requests/s)", floor)
	}
	lead := start.Sub(reached).Round(time.Second)
	t.Logf("KEDA: KEDA's HPA raised the Deployment %s after the floor started; %d ready replicas %s before the window starts",
		raised.Sub(start.Add(-2*time.Minute)).Round(time.Second), floor, lead)
	if spec, _ := s.Replicas(ctx); spec != floor {
		t.Errorf("pre-scaled to %d replicas, want the floor of %d", spec, floor)
	}
	if h, err := hpas.Get(ctx, "keda-hpa-web", metav1.GetOptions{}); err != nil || h.Status.DesiredReplicas != floor {
		t.Errorf("KEDA's HPA: %v, want %d desired", err, floor)
	}
	if v, err := kedaValue(ctx, s); err != nil || v != fmt.Sprint(floor) {
		t.Errorf("through KEDA's metrics server: %q %v, want primetime's floor of %d", v, err, floor)
	}
	if lead < 30*time.Second {
		t.Errorf("the floor was ready %s before the window; with a 2 m lead, 20 s start-up and a 5 s HPA it must be at least 30 s", lead)
	}

	// The leader crashes: the follower goes on serving KEDA (the leader's
	// last decisions, then its own once it leads); KEDA never falls back.
	scaledObjects := s.C.Dynamic.Resource(schema.GroupVersionResource{Group: "keda.sh", Version: "v1alpha1", Resource: "scaledobjects"}).Namespace(s.NS)
	fallback := func() string {
		so, err := scaledObjects.Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return err.Error()
		}
		health, _, _ := unstructured.NestedMap(so.Object, "status", "health", "s0-primetime_replicas")
		return fmt.Sprintf("Fallback condition %q, health %v", conditionOf(so, "Fallback"), health)
	}
	leader, survivor := waitLeader(t, replicas)
	leader.Kill()
	killed := time.Now()
	testbed.Consistently(t, 30*time.Second, 2*time.Second, func() (bool, string) {
		spec, _ := s.Replicas(ctx)
		fb := fallback()
		return spec == floor && strings.HasPrefix(fb, `Fallback condition "False"`), fmt.Sprintf("%d replicas after the leader's crash, want %d; %s", spec, floor, fb)
	})
	if v, ok := survivor.Metric("primetime_leader"); !ok || v != 1 {
		t.Errorf("the survivor does not lead %s after the leader's crash", time.Since(killed).Round(time.Second))
	}
	if v, err := kedaValue(ctx, s); err != nil || v != fmt.Sprint(floor) {
		t.Errorf("through KEDA's metrics server after the leader change: %q %v, want %d", v, err, floor)
	}
	t.Logf("KEDA: the leader crashed; the follower served on, %d replicas held, no fallback", floor)

	// The target is deleted (an SRE's edit): primetime answers NotFound,
	// never a made-up value; after failureThreshold failures KEDA's
	// fallback (currentReplicasIfHigher) holds the pre-scaled replicas.
	if err := s.C.Client.CoreV1().ConfigMaps(s.NS).Delete(ctx, "primetime-targets", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testbed.Eventually(t, 90*time.Second, time.Second, func() (bool, string) {
		fb := fallback()
		return strings.HasPrefix(fb, `Fallback condition "True"`), fb
	})
	testbed.Consistently(t, 15*time.Second, time.Second, func() (bool, string) {
		spec, _ := s.Replicas(ctx)
		return spec == floor, fmt.Sprintf("%d replicas on KEDA's fallback, want %d held", spec, floor)
	})
	t.Logf("KEDA: target deleted, primetime answers NotFound, KEDA's fallback holds %d replicas", floor)

	// No primetime left: KEDA cannot even ask for the metric spec, so its
	// fallback does not apply; its metrics server answers the HPA an
	// error and the HPA holds the replicas.
	survivor.Kill()
	testbed.Eventually(t, 30*time.Second, time.Second, func() (bool, string) {
		v, err := kedaValue(ctx, s)
		return err != nil, fmt.Sprintf("KEDA's metrics server still serves %q with primetime gone", v)
	})
	testbed.Consistently(t, 15*time.Second, time.Second, func() (bool, string) {
		spec, _ := s.Replicas(ctx)
		return spec == floor, fmt.Sprintf("%d replicas with primetime gone, want %d held", spec, floor)
	})
	t.Logf("KEDA: primetime gone, KEDA answers the HPA an error, %d replicas held", floor)
}

// startKEDA starts KEDA's operator and metrics server for the stage's
// namespace alone (WATCH_NAMESPACE), with KEDA's CRDs applied, and routes
// the namespace's external metrics to KEDA's metrics server, as a cluster
// with KEDA installed does.
func startKEDA(t *testing.T, s *stage.Stage, dir string) {
	t.Helper()
	kubectl(t, s.C, nil, "apply", "--server-side", "--force-conflicts", "-f", filepath.Join(dir, "crd"))
	// kubectl wait fails while a new CRD has no conditions yet: poll it.
	testbed.Eventually(t, 60*time.Second, 500*time.Millisecond, func() (bool, string) {
		out, err := exec.Command(filepath.Join(s.C.Bin, "kubectl"), "--kubeconfig="+s.C.Kubeconfig, "wait", "--for=condition=Established", "--timeout=5s",
			"crd/scaledobjects.keda.sh", "crd/triggerauthentications.keda.sh", "crd/scaledjobs.keda.sh").CombinedOutput()
		return err == nil, "KEDA's CRDs not established: " + string(out)
	})

	// The operator and the metrics server talk over mutual TLS with the
	// certificates of one directory (tls.crt, tls.key, ca.crt).
	ca := testbed.NewCA(t, "keda-ca")
	cert, key := ca.IssuePeer(t, "keda", "localhost", "127.0.0.1")
	certs := t.TempDir()
	testbed.WriteFile(t, certs, "tls.crt", cert)
	testbed.WriteFile(t, certs, "tls.key", key)
	testbed.WriteFile(t, certs, "ca.crt", ca.CertPEM)
	env := []string{"WATCH_NAMESPACE=" + s.NS, "POD_NAMESPACE=" + s.NS, "KEDA_CLUSTER_OBJECT_NAMESPACE=" + s.NS, "KUBECONFIG=" + s.C.Kubeconfig}
	grpcAddr := fmt.Sprintf("127.0.0.1:%d", testbed.FreePort(t))
	probe := fmt.Sprintf("127.0.0.1:%d", testbed.FreePort(t))
	op := testbed.StartEnv(t, env, filepath.Join(dir, "keda"), "--kubeconfig="+s.C.Kubeconfig,
		"--metrics-bind-address=0", "--health-probe-bind-address="+probe, "--metrics-service-bind-address="+grpcAddr,
		"--cert-dir="+certs, "--ca-dir="+certs, "--leader-elect=false", "--zap-log-level=info")
	testbed.WaitHTTP(t, "http://"+probe+"/readyz", 60*time.Second, op)

	port := testbed.FreePort(t)
	adapter := testbed.StartEnv(t, env, filepath.Join(dir, "keda-adapter"), "--kubeconfig="+s.C.Kubeconfig,
		"--lister-kubeconfig="+s.C.Kubeconfig, "--authentication-kubeconfig="+s.C.Kubeconfig, "--authorization-kubeconfig="+s.C.Kubeconfig,
		fmt.Sprintf("--secure-port=%d", port), "--bind-address=127.0.0.1", "--cert-dir="+certs,
		"--tls-cert-file="+filepath.Join(certs, "tls.crt"), "--tls-private-key-file="+filepath.Join(certs, "tls.key"),
		fmt.Sprintf("--port=%d", testbed.FreePort(t)), "--metrics-service-address="+grpcAddr, "--zap-log-level=info")
	testbed.Eventually(t, 60*time.Second, time.Second, func() (bool, string) {
		if adapter.Exited() {
			t.Fatalf("keda-adapter exited:\n%s", adapter.Output())
		}
		conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err != nil {
			return false, "keda-adapter not listening: " + err.Error()
		}
		conn.Close()
		return true, ""
	})
	s.C.Router.Route(t, s.NS, fmt.Sprintf("127.0.0.1:%d", port), ca.CertPEM)
}

// kedaValue reads s0-primetime_replicas, the metric KEDA's HPA reads,
// from KEDA's metrics server through the aggregator.
func kedaValue(ctx context.Context, s *stage.Stage) (string, error) {
	return stage.ExternalValueSelected(ctx, s.C, s.NS, "s0-primetime_replicas", "scaledobject.keda.sh/name=web")
}

// kubectl runs the test bed's kubectl against c with stdin.
func kubectl(t *testing.T, c *testbed.Cluster, stdin []byte, args ...string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(c.Bin, "kubectl"), append([]string{"--kubeconfig=" + c.Kubeconfig}, args...)...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// kubectlApply applies manifests as a user would.
func kubectlApply(t *testing.T, c *testbed.Cluster, manifests string) {
	t.Helper()
	kubectl(t, c, []byte(manifests), "apply", "-f", "-")
}

// indent indents a PEM block for a YAML literal block under a key.
func indent(pem []byte) string {
	lines := strings.Split(strings.TrimRight(string(pem), "\n"), "\n")
	return "    " + strings.Join(lines, "\n    ")
}

// conditionOf returns the status of a condition of a KEDA object.
func conditionOf(o *unstructured.Unstructured, kind string) string {
	conds, _, _ := unstructured.NestedSlice(o.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == kind {
			s, _ := m["status"].(string)
			return s
		}
	}
	return ""
}

// hpaConditions formats an HPA's conditions for a failure message.
func hpaConditions(conds []autoscalingv2.HorizontalPodAutoscalerCondition) string {
	var out []string
	for _, c := range conds {
		out = append(out, fmt.Sprintf("%s=%s %s: %s", c.Type, c.Status, c.Reason, c.Message))
	}
	return strings.Join(out, "; ")
}
