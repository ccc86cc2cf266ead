// Package charts tests the Helm chart charts/primetime with a real helm
// (charts/install-helm.sh builds the pinned version once) and the alert
// rules with promtool.
package charts

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/primetime-dev/primetime/e2e/testbed"
	"github.com/primetime-dev/primetime/policies/config"
)

const chart = "primetime"

// run runs helm and returns its output; stderr is part of it.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(testbed.Helm(t), args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// object is one rendered manifest.
type object map[string]any

func (o object) kind() string { s, _ := o["kind"].(string); return s }

func (o object) name() string { return str(o, "metadata", "name") }

// get walks maps by keys.
func get(o any, keys ...string) any {
	if ob, ok := o.(object); ok {
		o = map[string]any(ob)
	}
	for _, k := range keys {
		m, ok := o.(map[string]any)
		if !ok {
			return nil
		}
		o = m[k]
	}
	return o
}

func str(o any, keys ...string) string { s, _ := get(o, keys...).(string); return s }

// render runs helm template with extra arguments and splits the manifests.
func render(t *testing.T, args ...string) []object {
	t.Helper()
	out, err := run(t, append([]string{"template", "pt", chart, "--namespace", "primetime"}, args...)...)
	if err != nil {
		t.Fatalf("helm template %v: %v\n%s", args, err, out)
	}
	var objs []object
	for _, doc := range strings.Split(out, "\n---") {
		var o object
		if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
			t.Fatalf("rendered YAML does not parse: %v\n%s", err, doc)
		}
		if o != nil {
			objs = append(objs, o)
		}
	}
	return objs
}

func byKind(objs []object, kind string) []object {
	var out []object
	for _, o := range objs {
		if o.kind() == kind {
			out = append(out, o)
		}
	}
	return out
}

func one(t *testing.T, objs []object, kind string) object {
	t.Helper()
	got := byKind(objs, kind)
	if len(got) != 1 {
		t.Fatalf("%d %s objects rendered, want 1", len(got), kind)
	}
	return got[0]
}

func TestLint(t *testing.T) {
	for _, tc := range []struct{ name, values string }{
		{"default values", ""},
		{"every feature on", "primetime/ci/all-features-values.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"lint", chart, "--strict"}
			if tc.values != "" {
				args = append(args, "-f", tc.values)
			}
			if out, err := run(t, args...); err != nil {
				t.Fatalf("helm lint: %v\n%s", err, out)
			}
		})
	}
}

// TestDefaults checks what an SRE gets from helm install with no values.
func TestDefaults(t *testing.T) {
	objs := render(t)
	for _, kind := range []string{"ServiceAccount", "ClusterRole", "Role", "Service", "Deployment", "APIService", "Secret", "PodDisruptionBudget"} {
		if len(byKind(objs, kind)) == 0 {
			t.Errorf("no %s rendered", kind)
		}
	}
	for _, o := range objs {
		if strings.Contains(strings.ToLower(o.kind()), "monitor") || o.kind() == "PrometheusRule" || o.kind() == "NetworkPolicy" || o.kind() == "Certificate" {
			t.Errorf("%s %s rendered with its feature off", o.kind(), o.name())
		}
	}

	dep := one(t, objs, "Deployment")
	if r, _ := get(dep, "spec", "replicas").(float64); r != 2 {
		t.Errorf("replicas %v, want 2", r)
	}
	pod := get(dep, "spec", "template", "spec")
	c := get(pod, "containers").([]any)[0]
	args := strings.Join(toStrings(get(c, "args")), " ")
	if !strings.Contains(args, "--leader-elect") {
		t.Errorf("leader election off by default: %s", args)
	}
	if strings.Contains(args, "--carbon-intensity") {
		t.Errorf("a carbon intensity by default: %s", args)
	}
	t.Run("restricted pod security", func(t *testing.T) {
		for path, want := range map[string]any{
			"pod runAsNonRoot":         get(pod, "securityContext", "runAsNonRoot") == true,
			"pod seccomp":              str(pod, "securityContext", "seccompProfile", "type") == "RuntimeDefault",
			"allowPrivilegeEscalation": get(c, "securityContext", "allowPrivilegeEscalation") == false,
			"readOnlyRootFilesystem":   get(c, "securityContext", "readOnlyRootFilesystem") == true,
			"capabilities drop ALL":    strings.Join(toStrings(get(c, "securityContext", "capabilities", "drop")), ",") == "ALL",
			"resources requests":       get(c, "resources", "requests") != nil,
			"liveness on /healthz":     str(c, "livenessProbe", "httpGet", "path") == "/healthz",
			"readiness on /readyz":     str(c, "readinessProbe", "httpGet", "path") == "/readyz",
			"image from make image":    strings.HasPrefix(str(c, "image"), "ghcr.io/primetime-dev/primetime:"),
		} {
			if want != true {
				t.Errorf("%s: not set as the restricted standard wants", path)
			}
		}
	})

	t.Run("APIService trusts the serving certificate", func(t *testing.T) {
		api := one(t, objs, "APIService")
		if get(api, "spec", "insecureSkipTLSVerify") != nil {
			t.Fatal("insecureSkipTLSVerify is set")
		}
		secret := one(t, objs, "Secret")
		caBundle := str(api, "spec", "caBundle")
		if caBundle == "" || caBundle != str(secret, "data", "ca.crt") {
			t.Fatalf("caBundle %.20q is not the Secret's ca.crt", caBundle)
		}
		roots := x509.NewCertPool()
		roots.AppendCertsFromPEM(decode(t, caBundle))
		block, _ := pem.Decode(decode(t, str(secret, "data", "tls.crt")))
		if block == nil {
			t.Fatal("tls.crt is not PEM")
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		// The aggregator calls the Service by its DNS name.
		if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: "pt-primetime.primetime.svc"}); err != nil {
			t.Errorf("the serving certificate does not verify for the Service: %v", err)
		}
	})

	t.Run("RBAC only reads without modes", func(t *testing.T) {
		for _, rule := range rules(t, objs, "ClusterRole", "pt-primetime") {
			if hasAny(rule.resources, "horizontalpodautoscalers", "deployments/scale") && hasAny(rule.verbs, "update", "patch") {
				t.Errorf("writes %v on %v with no mode enabled", rule.verbs, rule.resources)
			}
			if hasAny(rule.resources, "secrets") {
				t.Errorf("reads Secrets: %v", rule.verbs)
			}
		}
		found := map[string]bool{}
		for _, rb := range append(byKind(objs, "ClusterRoleBinding"), byKind(objs, "RoleBinding")...) {
			found[str(rb, "roleRef", "name")] = true
		}
		for _, want := range []string{"system:auth-delegator", "extension-apiserver-authentication-reader"} {
			if !found[want] {
				t.Errorf("no binding to %s", want)
			}
		}
	})

	t.Run("dashboards for the Grafana sidecar", func(t *testing.T) {
		n := 0
		for _, cm := range byKind(objs, "ConfigMap") {
			if str(cm, "metadata", "labels", "grafana_dashboard") == "1" {
				n++
			}
		}
		if n != 2 {
			t.Errorf("%d dashboard ConfigMaps, want 2 (targets, sources)", n)
		}
	})
}

// TestEveryFeature renders with every feature on.
func TestEveryFeature(t *testing.T) {
	objs := render(t, "-f", "primetime/ci/all-features-values.yaml")
	for _, kind := range []string{"ServiceMonitor", "PrometheusRule", "NetworkPolicy", "Certificate", "Issuer", "PriorityClass"} {
		if len(byKind(objs, kind)) == 0 {
			t.Errorf("no %s rendered", kind)
		}
	}
	api := one(t, objs, "APIService")
	if str(api, "metadata", "annotations", "cert-manager.io/inject-ca-from") != "primetime/pt-primetime" {
		t.Errorf("with cert-manager the APIService must take its CA from the Certificate: %v", get(api, "metadata", "annotations"))
	}
	if len(byKind(objs, "Secret")) != 0 {
		t.Errorf("with cert-manager the chart must not make its own certificate Secret")
	}
	writes := map[string]bool{}
	for _, rule := range rules(t, objs, "ClusterRole", "pt-primetime") {
		for _, r := range rule.resources {
			if hasAny(rule.verbs, "patch") {
				writes[r] = true
			}
		}
	}
	if !writes["horizontalpodautoscalers"] || !writes["deployments/scale"] {
		t.Errorf("with hpaFloor and scale the role must patch HPAs and /scale: %v", writes)
	}
	// The targets from values are a ConfigMap primetime accepts.
	for _, cm := range byKind(objs, "ConfigMap") {
		if str(cm, "metadata", "labels", config.LabelTargets) != "true" {
			continue
		}
		data := map[string]string{"targets.yaml": str(cm, "data", "targets.yaml")}
		res := config.ParseConfigMapData("primetime", cm.name(), data)
		if len(res.Problems) > 0 || len(res.Targets) != 1 {
			t.Errorf("targets ConfigMap: %d targets, problems %v\n%s", len(res.Targets), res.Problems, data["targets.yaml"])
		}
	}
	dep := one(t, objs, "Deployment")
	if args := toStrings(get(get(dep, "spec", "template", "spec", "containers").([]any)[0], "args")); !hasAny(args, "--carbon-intensity=400:500m") {
		t.Errorf("carbonIntensity 400:500m: args %v, want --carbon-intensity=400:500m", args)
	}
	env := get(get(dep, "spec", "template", "spec", "containers").([]any)[0], "env").([]any)
	var keys []string
	for _, e := range env {
		if get(e, "valueFrom", "secretKeyRef") != nil {
			keys = append(keys, str(e, "name")+"<-"+str(e, "valueFrom", "secretKeyRef", "name"))
		}
	}
	if strings.Join(keys, ",") != "DD_API_KEY<-primetime-datadog,DD_APP_KEY<-primetime-datadog" {
		t.Errorf("Datadog keys must come from the existing Secret: %v", keys)
	}
}

// TestSchemaRejects: a bad value is refused before anything is applied, and
// the message names the field.
func TestSchemaRejects(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		field string
	}{
		{"zero replicas", []string{"--set", "replicaCount=0"}, "replicaCount"},
		{"a log level that does not exist", []string{"--set", "logLevel=loud"}, "logLevel"},
		{"an interval that is not a duration", []string{"--set", "interval=soon"}, "interval"},
		{"a misspelt key", []string{"--set", "leaderElection.enable=true"}, "enable"},
		{"Datadog without its Secret", []string{"--set", "datadog.enabled=true"}, "existingSecret"},
		{"a Prometheus URL without a scheme", []string{"--set", "prometheus.url=prometheus:9090"}, "url"},
		{"a carbon intensity that is not grams", []string{"--set", "carbonIntensity=lots"}, "carbonIntensity"},
		{"a negative carbon intensity", []string{"--set", "carbonIntensity=-1"}, "carbonIntensity"},
		{"a carbon intensity with vCPUs that are not", []string{"--set-string", "carbonIntensity=400:half"}, "carbonIntensity"},
		{"a target without a load", []string{"--set", "targets[0].name=web", "--set", "targets[0].scaleTargetRef.name=web"}, "load"},
		{"a placeholder priority of 0, no lower than a workload's", []string{"--set", "placeholders.priority=0"}, "/placeholders/priority"},
		{"a positive placeholder priority", []string{"--set", "placeholders.priority=100"}, "/placeholders/priority"},
		{"an empty placeholder image", []string{"--set", "placeholders.image="}, "/placeholders/image"},
		{"placeholders on without a namespace", []string{"--set", "placeholders.enabled=true"}, "/placeholders/namespaces"},
		{"a reserved PriorityClass name", []string{"--set", "placeholders.priorityClassName=system-placeholder"}, "/placeholders/priorityClassName"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := run(t, append([]string{"template", "pt", chart}, tc.args...)...)
			if err == nil {
				t.Fatalf("accepted %v", tc.args)
			}
			if !strings.Contains(out, tc.field) {
				t.Errorf("the error does not name %q:\n%s", tc.field, out)
			}
		})
	}
}

type rule struct{ resources, verbs []string }

func rules(t *testing.T, objs []object, kind, name string) []rule {
	t.Helper()
	for _, o := range byKind(objs, kind) {
		if o.name() != name {
			continue
		}
		var out []rule
		for _, r := range get(o, "rules").([]any) {
			out = append(out, rule{resources: toStrings(get(r, "resources")), verbs: toStrings(get(r, "verbs"))})
		}
		return out
	}
	t.Fatalf("no %s %s", kind, name)
	return nil
}

func toStrings(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

func hasAny(l []string, want ...string) bool {
	for _, x := range l {
		for _, w := range want {
			if x == w {
				return true
			}
		}
	}
	return false
}

func decode(t *testing.T, b64 string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAlertRules checks the alert rules with promtool: they parse, and
// each fires on the series it is about and not on healthy ones
// (alerts/tests.yaml).
func TestAlertRules(t *testing.T) {
	promtool := testbed.LookPath(t, "promtool")
	dir := t.TempDir()
	// The chart ships the rules' groups; promtool wants them as a file.
	rulesFile := filepath.Join(dir, "primetime-rules.yaml")
	b, err := os.ReadFile("primetime/alerts/primetime-rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rulesFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "rules", rulesFile).CombinedOutput(); err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	tests, err := os.ReadFile("alert_tests.yaml")
	if err != nil {
		t.Fatal(err)
	}
	testsFile := filepath.Join(dir, "tests.yaml")
	if err := os.WriteFile(testsFile, tests, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "test", "rules", testsFile).CombinedOutput(); err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
}

// With a mode that writes, an uninstall first runs primetime restore as a
// pre-delete hook, with the right to stop the daemon and nothing more.
func TestRestoreOnUninstall(t *testing.T) {
	objs := render(t, "--set", "modes.hpaFloor=true", "--set", "watchNamespaces={storefront}")
	job := one(t, objs, "Job")
	if str(job, "metadata", "annotations", "helm.sh/hook") != "pre-delete" {
		t.Errorf("the restore Job is not a pre-delete hook: %v", get(job, "metadata", "annotations"))
	}
	c := get(job, "spec", "template", "spec", "containers").([]any)[0]
	var args []string
	for _, a := range get(c, "args").([]any) {
		args = append(args, a.(string))
	}
	if got := strings.Join(args, " "); got != "restore --stop=primetime/pt-primetime --namespaces=storefront --timeout=4m" {
		t.Errorf("restore Job args %q", got)
	}
	stops := false
	for _, rule := range rules(t, objs, "Role", "pt-primetime") {
		if hasAny(rule.resources, "deployments/scale") && hasAny(rule.verbs, "update") {
			stops = true
		}
	}
	if !stops {
		t.Errorf("the namespace Role cannot scale the daemon's Deployment down")
	}
	if len(byKind(render(t), "Job")) != 0 {
		t.Errorf("a restore Job is rendered though no mode writes")
	}
	if len(byKind(render(t, "--set", "modes.scale=true", "--set", "restoreOnUninstall=false"), "Job")) != 0 {
		t.Errorf("restoreOnUninstall=false still renders the Job")
	}
}

// Two replicas without leader election would both act: the chart refuses;
// a replica leaves its Service before it stops (preStop) and knows its
// pod's name (a unique election identity).
func TestLeaderElectionAndShutdown(t *testing.T) {
	out, err := run(t, "template", "pt", chart, "--set", "replicaCount=2", "--set", "leaderElection.enabled=false")
	if err == nil || !strings.Contains(out, "replicaCount > 1 needs leaderElection.enabled: without it every replica would act on the HPAs and workloads") {
		t.Errorf("2 replicas without leader election: %v\n%s", err, out)
	}
	if _, err := run(t, "template", "pt", chart, "--set", "replicaCount=1", "--set", "leaderElection.enabled=false"); err != nil {
		t.Errorf("1 replica without leader election is refused: %v", err)
	}
	dep := one(t, render(t), "Deployment")
	spec := get(dep, "spec", "template", "spec")
	c := get(spec, "containers").([]any)[0]
	if get(c, "lifecycle", "preStop", "sleep", "seconds") != float64(5) || get(spec, "terminationGracePeriodSeconds") != float64(30) {
		t.Errorf("preStop %v, grace %v", get(c, "lifecycle"), get(spec, "terminationGracePeriodSeconds"))
	}
	var env, args []string
	for _, e := range get(c, "env").([]any) {
		env = append(env, str(e, "name")+"="+str(e, "valueFrom", "fieldRef", "fieldPath"))
	}
	for _, a := range get(c, "args").([]any) {
		args = append(args, a.(string))
	}
	if !strings.Contains(strings.Join(env, " "), "POD_NAME=metadata.name") {
		t.Errorf("env %v lacks POD_NAME", env)
	}
	memLimit := ""
	for _, e := range get(c, "env").([]any) {
		if str(e, "name") == "GOMEMLIMIT" {
			memLimit = str(e, "valueFrom", "resourceFieldRef", "resource")
		}
	}
	if memLimit != "limits.memory" {
		t.Errorf("GOMEMLIMIT from %q, want the container's limits.memory", memLimit)
	}
	if want := "--leader-elect --leader-elect-lease-duration=15s --leader-elect-renew-deadline=10s --leader-elect-retry-period=2s"; !strings.Contains(strings.Join(args, " "), want) {
		t.Errorf("args %v lack %q", args, want)
	}
}

// KEDA's external scaler (keda.enabled): a Service port and a container
// port named keda, serve --keda-addr with the serving certificate, the
// client CA mounted from its Secret when set, and the NetworkPolicy lets
// KEDA's namespace in. Off by default; its port may not clash.
func TestKEDA(t *testing.T) {
	portsOf := func(o any) []string {
		var out []string
		for _, p := range get(o, "ports").([]any) {
			port, _ := get(p, "port").(float64)
			if port == 0 {
				port, _ = get(p, "containerPort").(float64)
			}
			target := fmt.Sprint(get(p, "targetPort"))
			if target == "<nil>" {
				target = ""
			}
			out = append(out, fmt.Sprintf("%s:%g%s", str(p, "name"), port, strings.TrimSuffix("->"+target, "->")))
		}
		return out
	}
	t.Run("off by default", func(t *testing.T) {
		objs := render(t)
		if got := strings.Join(portsOf(get(one(t, objs, "Service"), "spec")), " "); got != "https:443->https metrics:8080->metrics" {
			t.Errorf("Service ports %s", got)
		}
		c := get(one(t, objs, "Deployment"), "spec", "template", "spec", "containers").([]any)[0]
		if args := strings.Join(toStrings(get(c, "args")), " "); strings.Contains(args, "--keda") {
			t.Errorf("keda flags with keda.enabled=false: %s", args)
		}
	})
	t.Run("on, with a client CA and a NetworkPolicy", func(t *testing.T) {
		objs := render(t, "--set", "keda.enabled=true", "--set", "keda.clientCA.existingSecret=keda-client-ca",
			"--set", "networkPolicy.enabled=true", "--set", "networkPolicy.kedaFrom.kubernetes\\.io/metadata\\.name=keda")
		if got := strings.Join(portsOf(get(one(t, objs, "Service"), "spec")), " "); got != "https:443->https metrics:8080->metrics keda:9443->keda" {
			t.Errorf("Service ports %s", got)
		}
		pod := get(one(t, objs, "Deployment"), "spec", "template", "spec")
		c := get(pod, "containers").([]any)[0]
		if got := strings.Join(portsOf(c), " "); got != "https:6443 metrics:8080 keda:9443" {
			t.Errorf("container ports %s", got)
		}
		args := toStrings(get(c, "args"))
		var keda []string
		for _, a := range args {
			if strings.HasPrefix(a, "--keda") || strings.HasPrefix(a, "--tls-") {
				keda = append(keda, a)
			}
		}
		if got, want := strings.Join(keda, " "), "--tls-cert-file=/var/run/serving-cert/tls.crt --tls-private-key-file=/var/run/serving-cert/tls.key --keda-addr=:9443 --keda-client-ca-file=/var/run/keda-client-ca/ca.crt"; got != want {
			t.Errorf("args %s\nwant %s", got, want)
		}
		var mounts, volumes []string
		for _, m := range get(c, "volumeMounts").([]any) {
			mounts = append(mounts, str(m, "name")+"="+str(m, "mountPath"))
		}
		for _, v := range get(pod, "volumes").([]any) {
			volumes = append(volumes, str(v, "name")+"<-"+str(v, "secret", "secretName"))
		}
		if got := strings.Join(mounts, " "); !strings.Contains(got, "keda-client-ca=/var/run/keda-client-ca") {
			t.Errorf("mounts %s", got)
		}
		if got := strings.Join(volumes, " "); !strings.Contains(got, "keda-client-ca<-keda-client-ca") {
			t.Errorf("volumes %s", got)
		}
		var ingress []string
		for _, rule := range get(one(t, objs, "NetworkPolicy"), "spec", "ingress").([]any) {
			ports := []string{}
			for _, p := range get(rule, "ports").([]any) {
				ports = append(ports, fmt.Sprint(get(p, "port")))
			}
			from := ""
			if f, ok := get(rule, "from").([]any); ok && len(f) > 0 {
				from = " from " + fmt.Sprint(get(f[0], "namespaceSelector", "matchLabels"))
			}
			ingress = append(ingress, strings.Join(ports, ",")+from)
		}
		if got := strings.Join(ingress, "; "); got != "https; keda from map[kubernetes.io/metadata.name:keda]; metrics" {
			t.Errorf("NetworkPolicy ingress %s", got)
		}
	})
	t.Run("no client CA: no mount, no client certificate asked", func(t *testing.T) {
		c := get(one(t, render(t, "--set", "keda.enabled=true"), "Deployment"), "spec", "template", "spec", "containers").([]any)[0]
		args := strings.Join(toStrings(get(c, "args")), " ")
		if !strings.Contains(args, "--keda-addr=:9443") || strings.Contains(args, "--keda-client-ca-file") {
			t.Errorf("args %s", args)
		}
	})
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"the external metrics API's port", []string{"--set", "keda.port=6443"}, "/keda/port"},
		{"the metrics port", []string{"--set", "keda.port=8080"}, "keda.port must differ from metricsPort"},
		{"a privileged port", []string{"--set", "keda.port=443"}, "/keda/port"},
	} {
		t.Run("refused: "+tc.name, func(t *testing.T) {
			out, err := run(t, append([]string{"template", "pt", chart, "--set", "keda.enabled=true"}, tc.args...)...)
			if err == nil || !strings.Contains(out, tc.want) {
				t.Errorf("%v: %v, want an error naming %q\n%s", tc.args, err, tc.want, out)
			}
		})
	}
}

// TestCarbonIntensity: carbonIntensity is passed to serve as written, a
// number as well as a string.
func TestCarbonIntensity(t *testing.T) {
	for _, tc := range []struct{ set, want string }{
		{"carbonIntensity=120", "--carbon-intensity=120"},
		{"carbonIntensity=0", "--carbon-intensity=0"},
		{"carbonIntensity=35.5", "--carbon-intensity=35.5"},
	} {
		dep := one(t, render(t, "--set", tc.set), "Deployment")
		if args := toStrings(get(get(dep, "spec", "template", "spec", "containers").([]any)[0], "args")); !hasAny(args, tc.want) {
			t.Errorf("--set %s: args %v, want %s", tc.set, args, tc.want)
		}
	}
}

// TestPlaceholders: with placeholders.enabled (targets with nodes:), the
// chart creates the placeholders' PriorityClass, below every workload and
// never preempting; lets primetime create and delete pods only in
// placeholders.namespaces (reading them is already in the ClusterRole),
// the restore Job included (it runs as the same ServiceAccount); and
// passes serve the class and the image. Off, none of it.
func TestPlaceholders(t *testing.T) {
	const role = "pt-primetime-placeholders"
	placeholderFlags := func(objs []object) []string {
		c := get(one(t, objs, "Deployment"), "spec", "template", "spec", "containers").([]any)[0]
		var out []string
		for _, a := range toStrings(get(c, "args")) {
			if strings.HasPrefix(a, "--placeholder") {
				out = append(out, a)
			}
		}
		return out
	}
	// namespaced returns "namespace/name" of the kind's objects named role.
	namespaced := func(objs []object, kind string) []string {
		var out []string
		for _, o := range byKind(objs, kind) {
			if o.name() == role {
				out = append(out, str(o, "metadata", "namespace")+"/"+o.name())
			}
		}
		sort.Strings(out)
		return out
	}

	for _, tc := range []struct {
		name string
		args []string
	}{
		{"off by default", nil},
		{"off, namespaces listed", []string{"--set", "placeholders.namespaces={storefront,shop}", "--set", "modes.scale=true"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs := render(t, tc.args...)
			if n := len(byKind(objs, "PriorityClass")); n != 0 {
				t.Errorf("%d PriorityClass rendered with placeholders off", n)
			}
			if got := append(namespaced(objs, "Role"), namespaced(objs, "RoleBinding")...); len(got) != 0 {
				t.Errorf("placeholder RBAC with placeholders off: %v", got)
			}
			if got := placeholderFlags(objs); len(got) != 0 {
				t.Errorf("serve flags with placeholders off: %v", got)
			}
		})
	}

	t.Run("on, in storefront and shop", func(t *testing.T) {
		objs := render(t, "--set", "placeholders.enabled=true", "--set", "placeholders.namespaces={storefront,shop}")
		pc := one(t, objs, "PriorityClass")
		if pc.name() != "primetime-placeholder" || get(pc, "value") != float64(-10) ||
			str(pc, "preemptionPolicy") != "Never" || get(pc, "globalDefault") != false ||
			!strings.Contains(str(pc, "description"), "placeholder") || get(pc, "metadata", "namespace") != nil {
			t.Errorf("PriorityClass %s: value %v, preemptionPolicy %q, globalDefault %v, namespace %v, description %q",
				pc.name(), get(pc, "value"), str(pc, "preemptionPolicy"), get(pc, "globalDefault"),
				get(pc, "metadata", "namespace"), str(pc, "description"))
		}

		want := []string{"shop/" + role, "storefront/" + role}
		if got := namespaced(objs, "Role"); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("placeholder Roles %v, want %v", got, want)
		}
		if got := namespaced(objs, "RoleBinding"); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("placeholder RoleBindings %v, want %v", got, want)
		}
		for _, o := range byKind(objs, "Role") {
			if o.name() != role {
				if ns := str(o, "metadata", "namespace"); ns == "storefront" || ns == "shop" {
					t.Errorf("another Role %s in %s", o.name(), ns)
				}
				continue
			}
			rs := get(o, "rules").([]any)
			if len(rs) != 1 {
				t.Fatalf("Role %s/%s: %d rules, want 1", str(o, "metadata", "namespace"), role, len(rs))
			}
			r := rs[0]
			got := fmt.Sprintf("%q %q %q %v", toStrings(get(r, "apiGroups")), toStrings(get(r, "resources")), toStrings(get(r, "verbs")), get(r, "resourceNames"))
			if want := `[""] ["pods"] ["create" "delete" "deletecollection"] <nil>`; got != want {
				t.Errorf("Role %s/%s rule %s, want %s", str(o, "metadata", "namespace"), role, got, want)
			}
		}

		// The daemon and the restore Job run as one ServiceAccount: each
		// binding binds it, and only it.
		dep := one(t, objs, "Deployment")
		job := one(t, objs, "Job") // placeholders alone make an uninstall restore
		sa := str(dep, "spec", "template", "spec", "serviceAccountName")
		if jsa := str(job, "spec", "template", "spec", "serviceAccountName"); sa != "pt-primetime" || jsa != sa {
			t.Fatalf("ServiceAccounts: daemon %q, restore Job %q, want pt-primetime for both", sa, jsa)
		}
		for _, rb := range byKind(objs, "RoleBinding") {
			if rb.name() != role {
				continue
			}
			var subjects []string
			for _, s := range get(rb, "subjects").([]any) {
				subjects = append(subjects, str(s, "kind")+":"+str(s, "namespace")+"/"+str(s, "name"))
			}
			ref := str(rb, "roleRef", "apiGroup") + "/" + str(rb, "roleRef", "kind") + "/" + str(rb, "roleRef", "name")
			if got := strings.Join(subjects, ","); got != "ServiceAccount:primetime/"+sa || ref != "rbac.authorization.k8s.io/Role/"+role {
				t.Errorf("RoleBinding %s/%s: subjects %s, roleRef %s", str(rb, "metadata", "namespace"), role, got, ref)
			}
		}
		stops := false
		for _, r := range rules(t, objs, "Role", "pt-primetime") {
			if hasAny(r.resources, "deployments/scale") && hasAny(r.verbs, "update") {
				stops = true
			}
		}
		if !stops {
			t.Errorf("with placeholders alone the restore Job cannot stop the daemon first")
		}

		// Reading pods stays in the ClusterRole, which writes none.
		for _, r := range rules(t, objs, "ClusterRole", "pt-primetime") {
			if hasAny(r.resources, "pods") && hasAny(r.verbs, "create", "delete", "deletecollection", "update", "patch") {
				t.Errorf("the ClusterRole writes pods cluster-wide: %v %v", r.resources, r.verbs)
			}
		}

		if got, want := strings.Join(placeholderFlags(objs), " "), "--placeholder-priority-class=primetime-placeholder --placeholder-image=registry.k8s.io/pause:3.10"; got != want {
			t.Errorf("serve flags %q, want %q", got, want)
		}
	})

	t.Run("a class, priority and image of one's own", func(t *testing.T) {
		objs := render(t, "--set", "placeholders.enabled=true", "--set", "placeholders.namespaces={storefront}",
			"--set", "placeholders.priorityClassName=batch-fill", "--set", "placeholders.priority=-5",
			"--set", "placeholders.image=mirror.example.com/pause:3.9")
		pc := one(t, objs, "PriorityClass")
		if pc.name() != "batch-fill" || get(pc, "value") != float64(-5) {
			t.Errorf("PriorityClass %s value %v, want batch-fill -5", pc.name(), get(pc, "value"))
		}
		if got, want := strings.Join(placeholderFlags(objs), " "), "--placeholder-priority-class=batch-fill --placeholder-image=mirror.example.com/pause:3.9"; got != want {
			t.Errorf("serve flags %q, want %q", got, want)
		}
	})
}
